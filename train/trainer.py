"""`PhaseTrainer`: the Transformers Trainer with two changes a curriculum phase needs.

* Parameter groups: one learning rate per group (adapters, fusion, LoRA, LLM, towers), with no
  weight decay on biases and norms; the optimiser class still comes from `TrainingArguments`
  (DeepSpeedCPUAdam when ZeRO offloads the optimiser, as DeepSpeed asks).
* Checkpoints hold only the trainable tensors (the frozen rest is the phase's starting model,
  which never changes), so a QLoRA checkpoint is megabytes, not a 4-bit model. Optimiser,
  scheduler, RNG and trainer state are saved by the Trainer as usual (by DeepSpeed's engine
  under DeepSpeed, which also restores the module on resume).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from transformers import Trainer

from emollm.processing_emollm import IGNORE_INDEX
from train.freezing import trainable_names

logger = logging.getLogger(__name__)

TRAINABLE_WEIGHTS = "trainable.safetensors"


class SampleMeanLoss:
    """`compute_loss_func` that averages each sample's token loss first, then the samples: a
    one-word MER answer weighs as much as a 100-token ERG answer (with the Trainer's default token
    mean, long answers drown short ones in a multitask batch). Scaled for gradient accumulation
    here (the Trainer then leaves it alone); processes are averaged by DDP / DeepSpeed."""

    def __init__(self, samples_per_step: int):
        self.samples_per_step = samples_per_step  # per process: batch size x accumulation steps

    def __call__(self, outputs, labels, num_items_in_batch=None):
        logits = outputs["logits"][:, :-1].float()
        targets = labels[:, 1:].to(logits.device)
        tokens = torch.nn.functional.cross_entropy(logits.transpose(1, 2), targets, ignore_index=IGNORE_INDEX,
                                                   reduction="none")
        mask = targets != IGNORE_INDEX
        per_sample = (tokens * mask).sum(1) / mask.sum(1).clamp(min=1)
        return per_sample.sum() / self.samples_per_step


class PhaseTrainer(Trainer):
    def __init__(self, *args, group_of: dict[str, str], learning_rates: dict[str, float],
                 offload_optimizer: bool = False, **kwargs):
        self.group_of = group_of
        self.learning_rates = learning_rates
        self.offload_optimizer = offload_optimizer
        super().__init__(*args, **kwargs)

    # --- optimiser -------------------------------------------------------------------------------
    def param_groups(self, model) -> list[dict]:
        decay = set(self.get_decay_parameter_names(model))
        buckets: dict[tuple[str, bool], list] = {}
        for name, parameter in model.named_parameters():
            if parameter.requires_grad:
                buckets.setdefault((self.group_of[name], name in decay), []).append(parameter)
        return [{"params": params, "lr": self.learning_rates[group],
                 "weight_decay": self.args.weight_decay if decays else 0.0, "group": group}
                for (group, decays), params in sorted(buckets.items())]

    def create_optimizer(self, model=None):
        if self.optimizer is None:
            model = self.model if model is None else model
            optimizer_cls, kwargs = self.get_optimizer_cls_and_kwargs(self.args, model)
            kwargs = {k: v for k, v in kwargs.items() if k in ("betas", "eps", "fused", "foreach")}
            if self.offload_optimizer:
                from deepspeed.ops.adam import DeepSpeedCPUAdam

                optimizer_cls, kwargs = DeepSpeedCPUAdam, {**kwargs, "adamw_mode": True}
                kwargs.pop("fused", None)
                kwargs.pop("foreach", None)
            self.optimizer = optimizer_cls(self.param_groups(model), **kwargs)
        return self.optimizer

    # --- checkpoints: trainable tensors only ------------------------------------------------------
    # The Trainer has no public hook for what a checkpoint's model part holds: it writes and
    # reloads the whole state (https://github.com/huggingface/transformers/issues/11294), so its
    # `_save` / `_load_from_checkpoint` are overridden to keep only the trainable tensors.
    def _save(self, output_dir: str | None = None, state_dict: dict | None = None) -> None:
        output_dir = output_dir or self.args.output_dir
        if not self.args.should_save:
            return
        os.makedirs(output_dir, exist_ok=True)
        model = self.accelerator.unwrap_model(self.model)
        names = trainable_names(model)
        state = state_dict if state_dict is not None else model.state_dict()
        tensors = {k: v.detach().cpu().contiguous() for k, v in state.items() if k in names}
        save_file(tensors, os.path.join(output_dir, TRAINABLE_WEIGHTS), metadata={"format": "pt"})

    def _load_from_checkpoint(self, resume_from_checkpoint: str, model=None) -> None:
        model = self.model if model is None else model
        path = Path(resume_from_checkpoint) / TRAINABLE_WEIGHTS
        if not path.exists():
            raise ValueError(f"{resume_from_checkpoint} holds no {TRAINABLE_WEIGHTS}")
        state = load_file(path)
        missing = trainable_names(model) - set(state)
        result = model.load_state_dict(state, strict=False)
        if result.unexpected_keys or missing:
            raise ValueError(f"{path} does not match this phase's trainable parameters "
                             f"(unexpected {sorted(result.unexpected_keys)[:5]}, missing {sorted(missing)[:5]})")
        logger.info("resumed %d trainable tensors from %s", len(state), path)
