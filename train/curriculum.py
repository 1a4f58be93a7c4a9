"""The curriculum is data: a YAML file of phases, validated on load (pydantic, extra="forbid").

A curriculum names the model it starts from, the datasets it reads, and an ordered mapping of
phases. Each phase says what is trainable (the model's `COMPONENTS` plus its `LLM_PARTS`:
`llm.embeddings`, `llm.head`, `lora`), its data mixture (datasets, tasks, splits, weights), optimiser
and schedule (one learning rate per parameter group), its length and which phase's output it
starts from. `key=value` overrides (`phases.3.max_steps=5`, `steps=5`) are applied to the raw
YAML before validation, so a bad override fails the same way a bad file does.

A curriculum is a shipped one by name (`p2e-tiny`, emollm/configs/curriculum/) or a YAML file
by path. Paths in a curriculum are relative to the directory `emollm train` runs from.
"""

from __future__ import annotations

import copy
import fnmatch
import re
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from data_pipeline.errors import ConfigError, validation_message
from data_pipeline.schema import Split
from data_pipeline.tasks import Task
from emollm.metrics.rewards import CHECKABLE_TASKS  # the tasks a reinforcement phase can reward
from emollm.modeling_emollm import EmoLLMForConditionalGeneration
from emollm.packaged import find_config, shipped

BASE = "base"  # the `init` of a phase that starts from the curriculum's model

# What a phase may name as trainable (the model's own component and LLM part names), and the
# optimiser group each one's parameters join (by the name's first word).
GROUP_OF_KIND = {"tower": "towers", "adapter": "adapters", "fusion": "fusion", "llm": "llm", "lora": "lora"}
COMPONENT_GROUPS: dict[str, str] = {
    part: GROUP_OF_KIND[part.split(".")[0]]
    for part in (*EmoLLMForConditionalGeneration.COMPONENTS, *EmoLLMForConditionalGeneration.LLM_PARTS)}
PARAM_GROUPS = tuple(dict.fromkeys(GROUP_OF_KIND.values()))


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ModelSource(_Strict):
    """Where phase `base` comes from: a preset (random init / named weights) or a model dir."""

    preset: str | None = None
    dir: Path | None = None
    load_weights: bool = True  # preset only: load the towers/LLM its YAML names

    @model_validator(mode="after")
    def _one_source(self) -> ModelSource:
        if (self.preset is None) == (self.dir is None):
            raise ValueError("give exactly one of model.preset or model.dir")
        return self


class Generate(_Strict):
    """Generate the synthetic set at `records`' folder when it is absent."""

    n: int = Field(ge=7)
    seed: int = 0


class DatasetSpec(_Strict):
    records: Path
    generate: Generate | None = None


class MixtureEntry(_Strict):
    dataset: str
    tasks: list[Task] | None = None  # None: every task in the dataset
    split: Split = "train"
    weight: float = Field(1.0, gt=0)


class ModalityDropout(_Strict):
    """Probability of removing each input from a training sample (record_inputs drop=)."""

    video: float = Field(0.0, ge=0, le=1)
    audio: float = Field(0.0, ge=0, le=1)
    subtitle: float = Field(0.0, ge=0, le=1)


class LoraSpec(_Strict):
    r: int = Field(16, ge=1)
    alpha: int = Field(32, ge=1)
    dropout: float = Field(0.05, ge=0, lt=1)
    target_modules: list[str] = Field(
        default_factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"])
    quantize: Literal["4bit"] | None = None  # QLoRA: nf4 + double quant, LLM only


REWARD_NAMES = ("emotion", "answer", "chain", "copy", "length")  # train/reinforce.py REWARD_FUNCS


class GrpoSpec(_Strict):
    """A reinforcement phase (TRL's GRPO, train/reinforce.py): each prompt of the mixture is answered
    `num_generations` times by sampling; the answers are scored by the verifiable rewards and the
    policy moves toward the better answers of each group, held near its start by `beta` x KL."""

    num_generations: int = Field(8, ge=2)  # answers per prompt (the group advantages are computed over)
    beta: float = Field(0.04, ge=0)  # KL penalty to the phase's starting model (0: no reference model)
    temperature: float = Field(1.0, gt=0)  # sampling temperature of the answers
    max_completion_length: int = Field(128, ge=1)  # tokens per answer (a cut ERG chain earns no chain reward)
    rewards: dict[Literal[REWARD_NAMES], float] = Field(
        default_factory=lambda: {"emotion": 1.0, "answer": 1.0, "chain": 0.5, "copy": 0.5, "length": 0.5})

    @model_validator(mode="after")
    def _some_reward(self) -> GrpoSpec:
        if not any(weight > 0 for weight in self.rewards.values()):
            raise ValueError("rewards: give at least one reward a positive weight")
        return self


class Optim(_Strict):
    lr: dict[Literal["towers", "adapters", "fusion", "llm", "lora"], float]
    weight_decay: float = Field(0.0, ge=0)
    scheduler: Literal["cosine", "linear", "constant", "constant_with_warmup"] = "cosine"
    warmup_ratio: float = Field(0.0, ge=0, lt=1)
    max_grad_norm: float = Field(1.0, gt=0)


class Phase(_Strict):
    description: str = ""
    init: str = BASE  # "base" or the name of an earlier phase
    train: list[str]  # component names (globs allowed: "adapter.*"), "lora", "llm.embeddings", "llm.head"
    lora: LoraSpec | None = None
    grpo: GrpoSpec | None = None  # a reinforcement phase (batch_size counts answers, not prompts)
    data: list[MixtureEntry] = Field(min_length=1)
    drop: list[Literal["video", "audio", "subtitle"]] = Field(default_factory=list)  # inputs the phase never sees
    modality_dropout: ModalityDropout = Field(default_factory=ModalityDropout)
    optim: Optim
    max_steps: int | None = Field(None, ge=1)
    epochs: float | None = Field(None, gt=0)
    batch_size: int = Field(8, ge=1)  # per process
    grad_accum: int = Field(1, ge=1)
    precision: Literal["fp32", "bf16"] = "fp32"
    loss: Literal["token", "sample"] = "token"  # mean over all answer tokens, or per sample first
    gradient_checkpointing: bool = False
    feature_cache: bool = True  # read frozen-tower features from the cache instead of decoding
    dataloader_workers: int = Field(0, ge=0)
    save_steps: int = Field(50, ge=1)
    keep_checkpoints: int = Field(2, ge=1)
    logging_steps: int = Field(10, ge=1)

    @field_validator("init", mode="before")
    @classmethod
    def _name(cls, value):
        return str(value) if isinstance(value, int | float) else value

    @model_validator(mode="after")
    def _check(self) -> Phase:
        if (self.max_steps is None) == (self.epochs is None):
            raise ValueError("give exactly one of max_steps or epochs")
        if not self.train:
            raise ValueError("train is empty: the phase would train nothing")
        for selector in self.train:
            if not fnmatch.filter(COMPONENT_GROUPS, selector):
                raise ValueError(f"train: {selector!r} names no component; known: {', '.join(COMPONENT_GROUPS)}")
        names_lora = "lora" in self.train
        if names_lora != (self.lora is not None):
            raise ValueError("train names 'lora' but no lora: section is given" if names_lora
                             else "a lora: section is given but train does not name 'lora'")
        missing = sorted({COMPONENT_GROUPS[c] for s in self.train for c in fnmatch.filter(COMPONENT_GROUPS, s)}
                         - set(self.optim.lr))
        if missing:
            raise ValueError(f"optim.lr has no learning rate for the trained group(s) {', '.join(missing)}")
        if self.grpo is not None:
            if (self.batch_size * self.grad_accum) % self.grpo.num_generations:
                raise ValueError(f"grpo.num_generations ({self.grpo.num_generations}) must divide batch_size x "
                                 f"grad_accum ({self.batch_size * self.grad_accum}): each step answers whole groups")
            unchecked = sorted({t for e in self.data for t in (e.tasks or [])} - set(CHECKABLE_TASKS))
            if unchecked or any(e.tasks is None for e in self.data):
                raise ValueError("grpo: data must name its tasks, each with a checkable answer "
                                 f"({', '.join(CHECKABLE_TASKS)}); got {', '.join(unchecked) or 'every task'}")
        if set(self.drop) >= {"video", "audio"}:  # a text-only phase: only the LLM can learn
            media_parts = sorted(c for s in self.train for c in fnmatch.filter(COMPONENT_GROUPS, s)
                                 if c.startswith(("adapter.", "fusion", "tower.")))
            if media_parts:
                raise ValueError(f"drop removes both video and audio, so {', '.join(media_parts)} would get no "
                                 "gradient; train only llm / lora in a text-only phase")
        return self

    def groups(self) -> set[str]:
        return {COMPONENT_GROUPS[c] for s in self.train for c in fnmatch.filter(COMPONENT_GROUPS, s)}


class Curriculum(_Strict):
    name: str
    model: ModelSource
    seed: int = 0
    steps: int | None = Field(None, ge=1)  # caps every phase's length (quick runs, tests)
    deepspeed: str | None = None  # a shipped config (zero2, zero3, zero3-offload) or a JSON path
    feature_cache_dir: Path | None = None  # default: <out>/feature_cache
    torch_threads: int | None = Field(None, ge=1)  # intra-op threads per process (None: torch's default)
    datasets: dict[str, DatasetSpec] = Field(min_length=1)
    phases: dict[str, Phase] = Field(min_length=1)

    @model_validator(mode="after")
    def _check(self) -> Curriculum:
        seen: list[str] = []
        for name, phase in self.phases.items():
            if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", name) or name in (BASE, "final"):
                raise ValueError(f"phases.{name}: a phase name is letters, digits, '_', '.', '-' "
                                 f"(and not {BASE!r} or 'final')")
            if phase.init != BASE and phase.init not in seen:
                raise ValueError(f"phases.{name}.init: {phase.init!r} is not an earlier phase "
                                 f"(earlier: {', '.join([BASE, *seen])})")
            for index, entry in enumerate(phase.data):
                if entry.dataset not in self.datasets:
                    raise ValueError(f"phases.{name}.data.{index}.dataset: unknown dataset {entry.dataset!r}; "
                                     f"known: {', '.join(self.datasets)}")
            seen.append(name)
        if self.deepspeed is not None:
            path = deepspeed_path(self.deepspeed)
            if not path.exists():
                raise ValueError(f"deepspeed: {self.deepspeed!r} is neither a JSON file nor a shipped config "
                                 f"({', '.join(shipped('deepspeed'))})")
        return self

    def phase_steps_cap(self, steps: int) -> int:
        return min(steps, self.steps) if self.steps else steps

    @property
    def last_phase(self) -> str:
        return list(self.phases)[-1]


def deepspeed_path(name_or_path: str) -> Path:
    return find_config("deepspeed", name_or_path)


# --- loading -----------------------------------------------------------------------------------
def load_curriculum(path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> Curriculum:
    """Read, override and validate; every problem is a ConfigError naming the file and key."""
    path = find_config("curriculum", path)
    if not path.is_file():
        raise ConfigError(f"curriculum file not found: {path} (shipped curricula by name: "
                          f"{', '.join(shipped('curriculum'))})")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML: {error}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: a curriculum is a mapping of keys, got {type(raw).__name__}")
    raw = apply_defaults(raw)
    for override in overrides:
        apply_override(raw, override)
    return validate(raw, str(path))


def apply_defaults(raw: dict) -> dict:
    """`defaults:` (any phase keys) is merged under every phase; a phase's own keys win."""
    raw = copy.deepcopy(raw)
    defaults = raw.pop("defaults", None) or {}
    if not isinstance(defaults, dict):
        raise ConfigError("defaults: must be a mapping of phase keys")
    phases = raw.get("phases")
    if isinstance(phases, dict):  # YAML reads `2:` as a number: phase names are strings
        raw["phases"] = {str(name): _deep_merge(defaults, phase or {}) for name, phase in phases.items()}
    return raw


def _deep_merge(base: dict, top: dict) -> dict:
    merged = copy.deepcopy(base)
    for key, value in top.items():
        merged[key] = _deep_merge(merged[key], value) if isinstance(value, dict) and isinstance(
            merged.get(key), dict) else value
    return merged


def apply_override(raw: dict, override: str) -> None:
    """`a.b.c=value` (value parsed as YAML) set in place; phases are addressed by name."""
    key, sep, text = override.partition("=")
    if not sep or not key:
        raise ConfigError(f"override {override!r} is not key=value")
    value = yaml.safe_load(text) if text.strip() else None
    parts = key.split(".")
    node = raw
    for depth, part in enumerate(parts[:-1]):
        child = node.get(part) if isinstance(node, dict) else None
        if child is None and depth == 0 and part == "phases":
            raise ConfigError(f"override {key}: the curriculum has no phases")
        if child is None and depth == 1 and parts[0] == "phases":
            raise ConfigError(f"override {key}: no phase named {part!r}; phases: {', '.join(node)}")
        if child is None:
            child = node[part] = {}
        if not isinstance(child, dict):
            raise ConfigError(f"override {key}: {'.'.join(parts[:depth + 1])} is not a mapping")
        node = child
    node[parts[-1]] = value


def validate(raw: dict, source: str = "curriculum") -> Curriculum:
    try:
        return Curriculum.model_validate(raw)
    except ValidationError as error:
        raise ConfigError(f"{source}: {validation_message(error)}") from None


def dump(curriculum: Curriculum) -> str:
    return yaml.safe_dump(curriculum.model_dump(mode="json"), sort_keys=False)
