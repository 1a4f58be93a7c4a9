"""One curriculum phase on the Transformers Trainer: starting model (+ LoRA / QLoRA), explicit
freezing, the data mixture (feature cache when the towers are frozen), TrainingArguments from
the phase (DeepSpeed JSON, precision, gradient checkpointing, TensorBoard), resume from the
newest complete checkpoint, and the exported phase model.

Layout of a run directory:
    DIR/curriculum.yaml          the curriculum as run (after overrides)
    DIR/base/                    the starting model (from a preset), unless model.dir is given
    DIR/<phase>/                 each phase's model (from_pretrained-loadable) + training.json
    DIR/final/                   a copy of the last phase's model
    DIR/checkpoints/<phase>/     Trainer checkpoints (checkpoint-N/ with a COMPLETE marker)
    DIR/logs/<phase>/            TensorBoard event files
    DIR/feature_cache/           tower features of every clip (default cache_dir)
"""

from __future__ import annotations

import gc
import logging
import math
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from data_pipeline.errors import ConfigError
from emollm.feature_cache import FeatureCache
from emollm.feature_norm import fit_feature_norms
from train import outputs
from train.checkpoints import CompletionMarker, latest_complete
from train.curriculum import BASE, Curriculum, Phase, deepspeed_path
from train.data import (
    CachedClips,
    Collator,
    DecodedClips,
    build_dataset,
    clip_features,
    load_sources,
    warm_feature_cache,
)
from train.distributed import World, barrier
from train.freezing import log_trainable, select_trainable, trainable_names
from train.lora import attach_lora, load_phase_model
from train.support import deepspeed_settings
from train.trainer import PhaseTrainer, SampleMeanLoss

logger = logging.getLogger(__name__)


@dataclass
class Run:
    curriculum: Curriculum
    out: Path
    world: World
    cache_dir: Path | None = None

    @property
    def base_dir(self) -> Path:
        source = self.curriculum.model
        return Path(source.dir) if source.dir is not None else self.out / BASE

    def phase_dir(self, name: str) -> Path:
        return self.out / name

    def checkpoint_dir(self, name: str) -> Path:
        return self.out / "checkpoints" / name

    def log_dir(self, name: str) -> Path:
        return self.out / "logs" / name

    def init_dir(self, phase: Phase) -> Path:
        return self.base_dir if phase.init == BASE else self.phase_dir(phase.init)

    @property
    def feature_cache_dir(self) -> Path:
        return self.cache_dir or self.out / "feature_cache"


def phase_steps(run: Run, phase: Phase, num_records: int) -> int:
    if phase.max_steps is not None:
        steps = phase.max_steps
    else:
        global_batch = phase.batch_size * phase.grad_accum * run.world.world_size
        steps = max(1, math.ceil(phase.epochs * num_records / global_batch))
    return run.curriculum.phase_steps_cap(steps)


def training_arguments(run: Run, name: str, phase: Phase, steps: int, args_class=None, **extra):
    """The phase's TrainingArguments (`args_class`: a subclass such as TRL's GRPOConfig, `extra` its own fields)."""
    from transformers import TrainingArguments

    ds = run.curriculum.deepspeed
    return (args_class or TrainingArguments)(
        output_dir=str(run.checkpoint_dir(name)), max_steps=steps,
        per_device_train_batch_size=phase.batch_size, gradient_accumulation_steps=phase.grad_accum,
        learning_rate=max(phase.optim.lr.values()), weight_decay=phase.optim.weight_decay,
        lr_scheduler_type=phase.optim.scheduler, warmup_steps=phase.optim.warmup_ratio,
        max_grad_norm=phase.optim.max_grad_norm, bf16=phase.precision == "bf16",
        # bf16 autocast on a CPU-only machine: the Trainer refuses bf16 there unless told it's a CPU run
        use_cpu=phase.precision == "bf16" and not ds and not torch.cuda.is_available(),
        gradient_checkpointing=phase.gradient_checkpointing,
        gradient_checkpointing_kwargs={"use_reentrant": False} if phase.gradient_checkpointing else None,
        deepspeed=str(deepspeed_path(ds)) if ds else None, seed=run.curriculum.seed,
        logging_steps=phase.logging_steps, logging_first_step=True, save_strategy="steps",
        save_steps=phase.save_steps, save_total_limit=None, report_to="none",
        dataloader_num_workers=phase.dataloader_workers, dataloader_pin_memory=torch.cuda.is_available(),
        remove_unused_columns=False, label_names=["labels"], disable_tqdm=not run.world.is_main,
        accelerator_config={"use_configured_state": True},
        average_tokens_across_devices=phase.loss == "token", **extra,
    )


def towers_frozen(model) -> bool:
    return not any(p.requires_grad for name, p in model.named_parameters() if name.startswith("towers."))


def clip_source(run: Run, phase: Phase, model, processor, sources):
    """Cached tower features when the towers are frozen (warming the cache first), else decoding."""
    if not (phase.feature_cache and towers_frozen(model)):
        logger.info("decoding media on every read (%s)",
                    "feature cache off" if not phase.feature_cache else "a tower trains")
        return DecodedClips(processor)
    cache = FeatureCache(run.feature_cache_dir)
    keys = warm_feature_cache(model, processor, sources, cache, run.world.rank, run.world.world_size)
    barrier()
    return CachedClips(FeatureCache(run.feature_cache_dir), keys)


def callbacks(run: Run, name: str, phase: Phase) -> list:
    found = [CompletionMarker(keep=phase.keep_checkpoints)]
    if run.world.is_main:
        from torch.utils.tensorboard import SummaryWriter
        from transformers.integrations import TensorBoardCallback

        found.append(TensorBoardCallback(SummaryWriter(log_dir=str(run.log_dir(name)))))
    return found


def resume_point(run: Run, name: str, resume: bool) -> Path | None:
    directory = run.checkpoint_dir(name)
    if resume:
        found = latest_complete(directory, clean=run.world.is_main)
        barrier()
        if found:
            logger.info("phase %s: resuming from %s", name, found)
        return found
    if run.world.is_main and directory.exists():
        shutil.rmtree(directory)
    barrier()
    return None


def trained_state(trainer) -> dict[str, torch.Tensor]:
    """The trainable tensors, gathered from every rank under ZeRO-3 (all ranks must call)."""
    model = trainer.accelerator.unwrap_model(trainer.model)
    names = trainable_names(model)
    if trainer.is_deepspeed_enabled:
        state = trainer.accelerator.get_state_dict(trainer.model_wrapped)
    else:
        state = model.state_dict()
    trained = {k: v.detach().to("cpu", torch.float32).contiguous() for k, v in (state or {}).items() if k in names}
    # the feature standardisation's statistics (buffers, fitted by the first phase) go with them
    trained.update({f"feature_norm.{k}": v.detach().cpu() for k, v in model.feature_norm.state_dict().items()})
    return trained


def peak_memory_mb() -> float:
    """Peak GPU memory allocated (CUDA), else this process's peak resident memory."""
    if torch.cuda.is_available():
        return torch.cuda.max_memory_allocated() / 2**20
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def loss_curve(log_history: list[dict]) -> list[float]:
    return [entry["loss"] for entry in log_history if "loss" in entry]


def run_phase(run: Run, name: str, resume: bool = False) -> dict:
    phase = run.curriculum.phases[name]
    init_dir = run.init_dir(phase)
    if not outputs.is_done(init_dir) and phase.init != BASE:
        raise ConfigError(f"phase {name} starts from phase {phase.init}, whose model is not in {init_dir}")
    started = time.time()
    model = load_phase_model(init_dir, phase.lora, phase.precision)
    from emollm import EmoLLMProcessor

    processor = EmoLLMProcessor.from_pretrained(init_dir)
    if phase.lora is not None:
        attach_lora(model, phase.lora)
    group_of = select_trainable(model, phase.train, name)
    table = log_trainable(model, name)

    sources = load_sources(run.curriculum, name)
    steps = phase_steps(run, phase, sum(len(s.records) for s in sources))
    global_batch = phase.batch_size * phase.grad_accum * run.world.world_size
    clips = clip_source(run, phase, model, processor, sources)
    fit_feature_norms(model, clip_features(model, processor, sources, clips))  # no-op once fitted
    # a reinforcement phase draws prompts, each answered grpo.num_generations times
    per_step = global_batch // phase.grpo.num_generations if phase.grpo else global_batch
    dataset = build_dataset(phase, sources, steps * per_step, run.curriculum.seed, clips)
    logger.info("phase %s: %d steps x %d %s; mixture %s", name, steps, per_step,
                "prompts" if phase.grpo else "samples", dataset.counts())

    _, offload = deepspeed_settings(run.curriculum)
    if phase.grpo is not None:
        from train import reinforce

        trainer = reinforce.build_trainer(
            model=model, processor=processor, phase=phase, dataset=dataset, clips=clips,
            ref_model=load_phase_model(init_dir, None, phase.precision) if phase.grpo.beta else None,
            args=training_arguments(run, name, phase, steps, args_class=reinforce.config_class(),
                                    **reinforce.grpo_fields(phase)),
            callbacks=callbacks(run, name, phase),
            group_of=group_of, offload_optimizer=offload)
    else:
        trainer = PhaseTrainer(
            model=model, args=training_arguments(run, name, phase, steps), train_dataset=dataset,
            data_collator=Collator(processor), callbacks=callbacks(run, name, phase),
            group_of=group_of, learning_rates=phase.optim.lr, offload_optimizer=offload,
            compute_loss_func=SampleMeanLoss(phase.batch_size * phase.grad_accum) if phase.loss == "sample" else None)
    checkpoint = resume_point(run, name, resume)
    result = trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
    peak_mb = peak_memory_mb()
    trained = trained_state(trainer)
    losses = loss_curve(trainer.state.log_history)
    info = {
        "phase": name, "description": phase.description, "curriculum": run.curriculum.name,
        "init": phase.init, "config": phase.model_dump(mode="json"),
        "metrics": {"final_loss": losses[-1] if losses else None, "first_loss": losses[0] if losses else None,
                    "mean_loss": result.training_loss, "steps": trainer.state.global_step,
                    "samples": steps * global_batch, "seconds": round(time.time() - started, 2),
                    "train_seconds": result.metrics.get("train_runtime"),
                    "samples_per_second": result.metrics.get("train_samples_per_second"),
                    "processes": run.world.world_size, "peak_memory_mb": round(peak_mb, 1),
                    "resumed_from": str(checkpoint) if checkpoint else None},
        "loss_curve": losses, "trainable": table, "mixture": dataset.counts(),
        "deepspeed": run.curriculum.deepspeed,
    }
    if phase.grpo is not None:
        from train import reinforce

        info["reinforce"] = reinforce.summary(trainer.state.log_history)
    # released first: with ZeRO-3's config still set, Transformers builds the export model under
    # deepspeed.zero.Init, whose collectives rank 0 alone would wait on forever
    release(trainer)
    if run.world.is_main:
        outputs.export_phase(init_dir, phase, trained, run.phase_dir(name), info)
        if phase.grpo is not None:
            reinforce.reward_curve_png(info["reinforce"]["steps"], run.phase_dir(name) / reinforce.CURVE,
                                       f"phase {name} (GRPO): reward per step")
    barrier()
    return info


def release(trainer) -> None:
    """Free the phase's model and DeepSpeed engine before the next phase loads its own."""
    from accelerate.state import AcceleratorState
    from transformers.integrations.deepspeed import unset_hf_deepspeed_config

    trainer.accelerator.free_memory()
    unset_hf_deepspeed_config()
    # Accelerate fixes mixed precision for the process's lifetime; the next phase (or run) may
    # differ (fp32 alignment, then bf16 tuning). With `use_configured_state` (which keeps the
    # process group, PartialState) the Trainer no longer resets it, and Accelerate has no public
    # reset (https://github.com/huggingface/transformers/issues/40376, PR #29781).
    AcceleratorState._reset_state()
    del trainer
    gc.collect()
