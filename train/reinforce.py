"""A reinforcement phase on TRL's `GRPOTrainer`: every prompt of the phase's mixture is answered
`num_generations` times by sampling, the answers are scored by the verifiable rewards of
`emollm.metrics.rewards` (deterministic, local), and the policy moves toward the better answers
of each group (group-relative advantages), held near the phase's starting model by beta x KL.

Stock GRPO is written for text LLMs and Hugging Face VLMs whose media are images in the
messages. EmoLLM's media are tower features (a `CachedClip` per clip, from the feature cache)
spliced in at placeholder tokens, so four of its hooks are overridden, each as little as
possible (the sampler, advantages, loss, KL, logging, checkpoints and resume stay TRL's):

1. `_tokenize_prompts`: TRL renders prompts with `apply_chat_template`, which does not know how
   many feature tokens each media part expands to; EmoLLM's processor does (`prompt_ids`).
2. `_generate_single_turn`: TRL forwards only image fields (`pixel_values`, ...) to `generate`;
   EmoLLM's `generate` takes the clips' tower features.
3. `_get_per_token_logps_and_entropies`: TRL's fused LM head (`add_fused_lm_head`) runs the
   backbone found through `base_model` on `input_ids` alone, so the media never reach it; EmoLLM
   scores the completion tokens through its own forward with the features.
4. The reference model: TRL rebuilds it with `create_model_from_path(<config's hub id>)`; here it is
   the phase's starting model directory, loaded by the project's loader.

Rows carry the prompt as JSON (so TRL treats it as a plain prompt and hands the rewards plain
completion strings) and an `item` index that finds the clip's features.
"""

from __future__ import annotations

import json
import logging
from contextlib import nullcontext

import torch
from transformers import TrainerCallback

from data_pipeline.schema import Record
from emollm.metrics import rewards as R
from emollm.records import record_inputs
from train.curriculum import GrpoSpec, Phase
from train.trainer import PhaseTrainer

logger = logging.getLogger(__name__)


# --- rewards: TRL calls each with the prompts, the completions and every other dataset column ------
def _labels(rows):
    return [json.loads(row) for row in rows]


def emotion(prompts, completions, task, labels, **_):
    """ERG: the chain's "Speaker emotion" names the gold emotion (wheel synonyms count)."""
    return [float(R.chain_emotion_correct(c, lab.get("emotion"))) if t == "ERG" else None
            for c, t, lab in zip(completions, task, _labels(labels), strict=True)]


def answer(prompts, completions, task, labels, **_):
    """MER, MSA, MIR, OV-MER: the checkable answer is right (OV-MER: set F)."""
    return [R.answer_reward(t, c, lab) if t != "ERG" else None
            for c, t, lab in zip(completions, task, _labels(labels), strict=True)]


def chain(prompts, completions, task, **_):
    return [R.chain_reward(t, c) for c, t in zip(completions, task, strict=True)]


def copy(prompts, completions, task, subtitle, **_):
    return [R.copy_reward(t, c, s or None) for c, t, s in zip(completions, task, subtitle, strict=True)]


def length(prompts, completions, task, **_):
    return [R.length_reward(t, c) for c, t in zip(completions, task, strict=True)]


REWARD_FUNCS = {"emotion": emotion, "answer": answer, "chain": chain, "copy": copy, "length": length}


# --- data --------------------------------------------------------------------------------------------
def prompt_rows(dataset) -> tuple[list[dict], list[tuple[Record, set]]]:
    """A `MixtureDataset`'s draws as GRPO rows (prompt without the answer) and, per row, the
    record and dropped inputs its clip is read with."""
    rows, items = [], []
    for index, (source, row) in enumerate(dataset.items):
        record = dataset.sources[source].records[row]
        drop = dataset.dropped(index)
        inputs = record_inputs(record, drop=drop, with_answer=False)
        rows.append({"prompt": json.dumps(inputs.messages), "item": index, "task": str(record.task),
                     "labels": json.dumps(record.labels.model_dump(mode="json")),
                     "subtitle": "" if "subtitle" in drop else (record.subtitle or "")})
        items.append((record, drop))
    return rows, items


def reward_names(spec: GrpoSpec) -> list[str]:
    return [n for n, w in spec.rewards.items() if w > 0]


def config_class():
    from trl import GRPOConfig

    return GRPOConfig


def grpo_fields(phase: Phase) -> dict:
    """TRL GRPOConfig's own fields from the phase's `grpo:` section (the runner adds the phase's
    TrainingArguments: schedule, checkpoints, seed, DeepSpeed). Every step is logged (rewards, KL,
    lengths) with `logging_steps: 1`, to TensorBoard and training.json."""
    spec: GrpoSpec = phase.grpo
    return dict(num_generations=spec.num_generations, temperature=spec.temperature,
                max_completion_length=spec.max_completion_length, beta=spec.beta,
                reward_weights=[spec.rewards[n] for n in reward_names(spec)],
                # a cut ERG chain keeps its (low) rewards, so the policy learns to finish within the budget
                mask_truncated_completions=False, log_completions=False, disable_dropout=True)


class EmotionAccuracyLog(TrainerCallback):
    """Names TRL's mean ERG emotion reward as what it is: the emotion accuracy of the samples."""

    def on_log(self, args, state, control, logs=None, **kwargs):
        if logs is not None and "rewards/emotion/mean" in logs:
            logs["sample_emotion_accuracy"] = logs["rewards/emotion/mean"]


# --- the trainer ---------------------------------------------------------------------------------------
def _grpo_trainer_class():
    from trl import GRPOTrainer
    from trl.models import unwrap_model_for_generation
    from trl.trainer.utils import entropy_from_logits, selective_log_softmax

    class ReinforceTrainer(PhaseTrainer, GRPOTrainer):
        """PhaseTrainer's parameter groups and trainable-only checkpoints over TRL's GRPO."""

        def __init__(self, *args, clip_of, ref_model=None, **kwargs):
            self.clip_of = clip_of  # item index -> CachedClip | ClipMedia | None
            self._clips: list = []  # the clips of the rows being scored (see _generate_and_score_completions)
            grpo_args = kwargs["args"]
            beta = grpo_args.beta
            grpo_args.beta = 0.0  # hook 4: TRL would rebuild the reference from a hub id; set below instead
            # TRL suppresses a VLM's `config.image_token_id` in sampling (a sampled placeholder would
            # mismatch the features); EmoLLM has one placeholder per modality, all suppressed
            config = kwargs["model"].config
            placeholders = sorted((config.placeholder_token_ids or {}).values())
            config.image_token_id = placeholders[0] if placeholders else None
            try:
                super().__init__(*args, **kwargs)
            finally:
                del config.image_token_id
            self.generation_config.suppress_tokens = placeholders or None
            self.generation_kwargs["suppress_tokens"] = placeholders or None
            grpo_args.beta = self.beta = beta
            if beta:
                ref_model.eval().requires_grad_(False)
                self.ref_model = self.accelerator.prepare_model(ref_model, evaluation_mode=True)

        # rows carry an item index; their clips are looked up once per generation batch
        def _generate_and_score_completions(self, inputs):
            self._clips = [self.clip_of(row["item"]) for row in inputs]
            output = super()._generate_and_score_completions(inputs)
            output["clips"] = self._clips  # a list: TRL shuffles and splits it with the tensors
            return output

        def _compute_loss(self, model, inputs):
            self._clips = inputs["clips"]
            return super()._compute_loss(model, inputs)

        # hook 1: EmoLLM's processor expands the media placeholders
        def _tokenize_prompts(self, prompts: list):
            ids = [self.processing_class.prompt_ids(json.loads(p), clip, add_generation_prompt=True)
                   for p, clip in zip(prompts, self._clips, strict=True)]
            return ids, None, {}

        # hook 2: generate with the clips' tower features
        def _generate_single_turn(self, prompt_ids, images, multimodal_fields, num_generations,
                                  has_tool_images=False):
            batch = self.processing_class(prompt_ids, self._clips, add_generation_prompt=True, padding_side="left")
            batch = self._prepare_input(dict(batch))
            with unwrap_model_for_generation(self.model_wrapped, self.accelerator,
                                             gather_deepspeed3_params=self.args.ds3_gather_for_generation,
                                             generation_kwargs=self.generation_kwargs) as unwrapped, torch.no_grad():
                completion_ids = unwrapped.generate(**batch, generation_config=self.generation_config)  # new tokens only
            is_eos = torch.isin(completion_ids, torch.tensor(self.eos_token_ids, device=completion_ids.device))
            ends = torch.where(is_eos.any(1), is_eos.int().argmax(1), completion_ids.size(1))
            return [row[: end + 1].tolist() for row, end in zip(completion_ids.cpu(), ends.tolist(), strict=True)], None

        # hook 3: the completion tokens' log-probabilities through EmoLLM's forward, media included
        def _get_per_token_logps_and_entropies(self, model, input_ids, attention_mask, logits_to_keep,
                                               batch_size=None, compute_entropy=False, compute_aux_loss=False,
                                               **_image_fields):
            batch_size = batch_size or input_ids.size(0)
            logps, entropies = [], []
            for start in range(0, input_ids.size(0), batch_size):
                end = start + batch_size
                media = self._prepare_input(self.processing_class.media_tensors(self._clips[start:end]))
                autocast = self.accelerator.autocast() if self.accelerator is not None else nullcontext()
                with autocast:
                    logits = model(input_ids=input_ids[start:end], attention_mask=attention_mask[start:end],
                                   logits_to_keep=logits_to_keep + 1, **media).logits[:, :-1].float()
                logits = logits / self.temperature
                logps.append(selective_log_softmax(logits, input_ids[start:end, -logits_to_keep:]))
                if compute_entropy:
                    with torch.no_grad():
                        entropies.append(entropy_from_logits(logits))
            return torch.cat(logps), (torch.cat(entropies) if compute_entropy else None), None

    return ReinforceTrainer


def build_trainer(*, model, processor, ref_model, args, phase: Phase, dataset, clips, callbacks, group_of,
                  offload_optimizer: bool):
    from datasets import Dataset

    rows, items = prompt_rows(dataset)
    reward_funcs = [REWARD_FUNCS[n] for n in reward_names(phase.grpo)]

    def clip_of(index: int):
        record, drop = items[index]
        inputs = record_inputs(record, drop=drop, with_answer=False)
        return clips(record, inputs.clip, drop)

    trainer_class = _grpo_trainer_class()
    return trainer_class(
        model=model, reward_funcs=reward_funcs, args=args, train_dataset=Dataset.from_list(rows),
        processing_class=processor, callbacks=[EmotionAccuracyLog(), *callbacks], clip_of=clip_of,
        ref_model=ref_model, group_of=group_of, learning_rates=phase.optim.lr,
        offload_optimizer=offload_optimizer)


STEP_KEYS = {"reward": "reward", "reward_std": "reward_std", "kl": "kl", "loss": "loss",
             "sample_emotion_accuracy": "sample_emotion_accuracy",
             "completions/mean_length": "completion_length"}


CURVE = "reward_curve.png"  # written into the phase's model directory


def summary(log_history: list[dict]) -> dict:
    steps = reward_log(log_history)
    first, last = steps[:10], steps[-10:]

    def mean(rows, key):
        values = [r[key] for r in rows if r.get(key) is not None]
        return round(sum(values) / len(values), 4) if values else None

    keys = ("reward", "kl", "sample_emotion_accuracy", "completion_length")
    return {"first_10_steps": {k: mean(first, k) for k in keys}, "last_10_steps": {k: mean(last, k) for k in keys},
            "curve": CURVE, "steps": steps}


def reward_log(log_history: list[dict]) -> list[dict]:
    """Per step: reward, its std within groups, KL, loss, each reward's mean, the samples' emotion
    accuracy and the completion length (for training.json and the reward curve)."""
    steps = []
    for entry in log_history:
        if "reward" not in entry:
            continue
        row = {"step": entry.get("step")}
        row.update({short: entry[key] for key, short in STEP_KEYS.items() if key in entry})
        # the log history is written before callbacks see the logs, so EmotionAccuracyLog's key is
        # only in TensorBoard; here it is read from its source
        if "rewards/emotion/mean" in entry:
            row["sample_emotion_accuracy"] = entry["rewards/emotion/mean"]
        row.update({k.split("/")[1]: v for k, v in entry.items() if k.startswith("rewards/") and k.endswith("/mean")})
        steps.append(row)
    return steps


def reward_curve_png(steps: list[dict], path, title: str):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(7, 4))
    x = [s["step"] for s in steps]
    axes.plot(x, [s.get("reward") for s in steps], label="mean reward (weighted sum)", linewidth=2)
    for key in ("emotion", "answer", "chain", "copy", "length"):
        if any(key in s for s in steps):
            axes.plot(x, [s.get(key) for s in steps], label=f"{key} reward", alpha=0.7)
    if any("kl" in s for s in steps):
        twin = axes.twinx()
        twin.plot(x, [s.get("kl") for s in steps], color="grey", linestyle=":", label="KL")
        twin.set_ylabel("KL to the starting model")
        twin.legend(loc="lower right", fontsize=8)
    axes.set_xlabel("step")
    axes.set_ylabel("reward")
    axes.set_title(title)
    axes.legend(loc="upper left", fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110, metadata={"Software": None})
    plt.close(figure)
    return path
