"""What runs, checked before any work: the supported combinations of DeepSpeed stage, 4-bit
weights, process count and precision (a table of rules, also printed in docs/training.md),
and whether each phase's trainable parts exist in the model it will train.
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from data_pipeline.errors import ConfigError
from train.curriculum import Curriculum, Phase, deepspeed_path


@dataclass(frozen=True)
class Setup:
    """What one phase will run with."""

    phase: Phase
    zero_stage: int | None  # None: no DeepSpeed
    offload: bool
    world_size: int
    cuda: bool

    @property
    def qlora(self) -> bool:
        return self.phase.lora is not None and self.phase.lora.quantize == "4bit"


@dataclass(frozen=True)
class Rule:
    refuses: str
    applies: Callable[[Setup], bool]
    reason: str


UNSUPPORTED: tuple[Rule, ...] = (
    Rule("QLoRA with ZeRO-3", lambda s: s.qlora and s.zero_stage == 3,
         "ZeRO-3 partitions weights, and bitsandbytes 4-bit weights can't be partitioned; use zero2"),
    Rule("QLoRA with ZeRO offload", lambda s: s.qlora and s.offload,
         "4-bit weights are already small; offloading applies to full-precision optimiser state"),
    Rule("training the whole 4-bit LLM", lambda s: s.qlora and "llm" in s.phase.train,
         "a 4-bit LLM's linear weights can't be trained; train lora (and llm.embeddings / llm.head)"),
    Rule("QLoRA with several processes on CPU", lambda s: s.qlora and s.world_size > 1 and not s.cuda,
         "not run here; QLoRA runs in one CPU process, or with several processes on GPUs"),
)


def deepspeed_settings(curriculum: Curriculum) -> tuple[int | None, bool]:
    if curriculum.deepspeed is None:
        return None, False
    config = json.loads(deepspeed_path(curriculum.deepspeed).read_text())
    zero = config.get("zero_optimization", {})
    offload = any(zero.get(key, {}).get("device", "none") != "none" for key in ("offload_optimizer", "offload_param"))
    return int(zero.get("stage", 0)), offload


def check_supported(curriculum: Curriculum, phases: list[str], world_size: int) -> None:
    stage, offload = deepspeed_settings(curriculum)
    for name in phases:
        setup = Setup(curriculum.phases[name], stage, offload, world_size, torch.cuda.is_available())
        for rule in UNSUPPORTED:
            if rule.applies(setup):
                raise ConfigError(f"phase {name}: {rule.refuses} is not supported: {rule.reason} "
                                  "(docs/training.md lists what is)")


def model_parts(config) -> set[str]:
    """The selectable parts an EmoLLM built from `config` has (no weights needed; `lora` only
    once a phase attaches it)."""
    from emollm import EmoLLMForConditionalGeneration as Model

    return set(Model.component_names(config)) | (set(Model.LLM_PARTS) - {"lora"})


def base_config(curriculum: Curriculum):
    from emollm import EmoLLMConfig

    source = curriculum.model
    if source.dir is not None:
        if not Path(source.dir, "config.json").exists():
            raise ConfigError(f"model.dir: {source.dir} is not a model directory (no config.json)")
        return EmoLLMConfig.from_pretrained(source.dir)
    from emollm.presets import build_config, load_preset

    return build_config(load_preset(source.preset))


def check_trainable_parts(curriculum: Curriculum, phases: list[str]) -> None:
    """Every `train:` selector matches a part this model has (or the phase would train nothing)."""
    available = model_parts(base_config(curriculum))
    for name in phases:
        phase = curriculum.phases[name]
        present = available | ({"lora"} if phase.lora else set())
        for selector in phase.train:
            if not fnmatch.filter(present, selector):
                raise ConfigError(f"phases.{name}.train: {selector!r} matches nothing in this model "
                                  f"(it has {', '.join(sorted(present))})")
