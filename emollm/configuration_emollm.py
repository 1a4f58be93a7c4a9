"""`EmoLLMConfig`: a composite `PreTrainedConfig` (like LLaVA's) of four sub-configs — frame
tower, face tower, audio tower, causal LM — plus validated specs for each tower's feature
selection, each modality's adapter and the fusion encoder.

The specs are pydantic models stored as plain dicts in config.json; a bad key or value raises
`ConfigError` naming it. They are parsed once (`config.specs` is cached, and dropped when one of
the four dicts is replaced), not on every access.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from transformers import AutoConfig, PreTrainedConfig

try:
    from transformers.configuration_utils import SubConfigSpec
except ImportError:  # transformers < 5.20 (vLLM's pin) has no SubConfigSpec; see _build_sub_configs
    SubConfigSpec = None

from data_pipeline.errors import ConfigError, validation_message

MODALITIES: tuple[str, ...] = ("frames", "face", "audio", "fusion")
PLACEHOLDERS: dict[str, str] = {m: f"<|{m}|>" for m in MODALITIES}


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TowerSpec(_Spec):
    """Where a frozen encoder comes from and which of its layers are exposed."""

    pretrained: str | None = None  # hub id or local path; None = random init from the sub-config
    revision: str | None = None
    # hidden_states indices (0 = embeddings); the LAST one feeds the adapter, all feed fusion
    feature_layers: list[int] = Field(default_factory=lambda: [-1])
    # how a frame's tokens become features: one CLS/mean vector per frame, or every patch token
    pooling: Literal["cls", "mean", "patches"] = "cls"
    frozen: bool = True


class AdapterSpec(_Spec):
    kind: str  # a name in emollm.adapters.ADAPTERS
    num_tokens: int = Field(gt=0, le=512)
    hidden_size: int = Field(256, gt=0)
    num_layers: int = Field(2, ge=1)
    num_heads: int = Field(4, ge=1)
    dropout: float = Field(0.0, ge=0, lt=1)


class FusionSpec(_Spec):
    """Multi-scale cross-modal attention: audio queries over visual keys at several layer pairs."""

    enabled: bool = True
    # (index into frames.feature_layers, index into audio.feature_layers), one expert per pair
    layer_pairs: list[tuple[int, int]] = Field(default_factory=lambda: [(0, 0)])
    hidden_size: int = Field(512, gt=0)
    num_heads: int = Field(8, ge=1)
    num_tokens: int = Field(1, gt=0)

    @model_validator(mode="after")
    def _heads_divide(self) -> FusionSpec:
        if self.hidden_size % self.num_heads:
            raise ValueError(f"fusion.hidden_size {self.hidden_size} is not divisible by num_heads {self.num_heads}")
        return self


class MediaSpec(_Spec):
    """How a clip becomes tower inputs (the processor reads these too)."""

    num_frames: int = Field(8, ge=1, le=256)
    audio_positions: int = Field(32, ge=1)  # the audio encoder's output is pooled to this many positions
    max_audio_seconds: float = Field(120.0, gt=0)
    audio_window_seconds: float = 30.0  # Whisper's window; longer audio is split into windows
    # "clip": the audio tower runs on each window's real length (no padding silence, and a 10 s
    # clip costs a third of a 30 s window). "window": every window is padded to the full 30 s, as
    # Whisper was trained; directories saved before this option existed load with it.
    audio_length: Literal["window", "clip"] = "window"
    # How frames are decoded (`data_pipeline.media.read_frames` backends). It decides which frames the
    # model sees, so it is part of the model: "auto" (decord's exact frames) for directories saved
    # before this option existed; new presets take "pyav-fast" (no non-reference frame decoded; the
    # nearest decoded frame stands in for each sample point: several times faster on long GOPs).
    frame_backend: Literal["auto", "decord", "pyav", "pyav-fast", "pyav-skip-bframes"] = "auto"


class EmoLLMSpecs(_Spec):
    towers: dict[Literal["frames", "face", "audio"], TowerSpec] = Field(default_factory=dict)
    adapters: dict[Literal["frames", "face", "audio", "fusion"], AdapterSpec] = Field(default_factory=dict)
    fusion: FusionSpec = Field(default_factory=FusionSpec)
    media: MediaSpec = Field(default_factory=MediaSpec)


def validate_specs(towers: dict | None, adapters: dict | None, fusion: dict | None,
                   media: dict | None) -> EmoLLMSpecs:
    raw = {"towers": towers or {}, "adapters": adapters or {}, "fusion": fusion or {}, "media": media or {}}
    try:
        return EmoLLMSpecs.model_validate(raw)
    except ValidationError as error:
        raise ConfigError(f"invalid EmoLLM config: {validation_message(error)}") from None


SPEC_FIELDS = ("towers", "adapters", "fusion", "media")
_SPECS = "_parsed_specs"


# sub-config attribute -> (default model_type, optional)
SUB_CONFIGS: dict[str, tuple[str, bool]] = {
    "text_config": ("qwen2", False), "frame_config": ("clip_vision_model", True),
    "face_config": ("vit", True), "audio_config": ("whisper", True),
}


class EmoLLMConfig(PreTrainedConfig):
    model_type = "emollm"
    if SubConfigSpec is not None:
        sub_configs_defaults = {key: SubConfigSpec(config_class=AutoConfig, model_type=model_type, optional=optional)
                                for key, (model_type, optional) in SUB_CONFIGS.items()}
    else:
        sub_configs = dict.fromkeys(SUB_CONFIGS, AutoConfig)

    text_config: dict | PreTrainedConfig | None = None
    frame_config: dict | PreTrainedConfig | None = None
    face_config: dict | PreTrainedConfig | None = None
    audio_config: dict | PreTrainedConfig | None = None
    towers: dict | None = None
    adapters: dict | None = None
    fusion: dict | None = None
    media: dict | None = None
    # where the LLM's weights come from (hub id or local path); None = random init
    text_pretrained: str | None = None
    text_revision: str | None = None
    # placeholder token ids, filled when the tokenizer is attached (emollm init)
    placeholder_token_ids: dict | None = None
    tie_word_embeddings: bool = False

    def __post_init__(self, **kwargs):
        if SubConfigSpec is None:
            self._build_sub_configs()
        super().__post_init__(**kwargs)
        specs = validate_specs(self.towers, self.adapters, self.fusion, self.media)
        present = {"frames": self.frame_config, "face": self.face_config, "audio": self.audio_config}
        for modality, sub_config in present.items():
            if sub_config is not None and modality not in specs.adapters:
                raise ConfigError(f"invalid EmoLLM config: adapters.{modality} is missing for the {modality} tower")
        if specs.fusion.enabled and (self.frame_config is None or self.audio_config is None):
            specs.fusion.enabled = False
        if specs.fusion.enabled and "fusion" not in specs.adapters:
            raise ConfigError("invalid EmoLLM config: adapters.fusion is missing while fusion is enabled")
        for name, index in (("frames", 0), ("audio", 1)):
            layers = specs.towers.get(name, TowerSpec()).feature_layers
            for pair in specs.fusion.layer_pairs if specs.fusion.enabled else []:
                if not -len(layers) <= pair[index] < len(layers):
                    raise ConfigError(
                        f"invalid EmoLLM config: fusion.layer_pairs {pair} points past towers.{name}.feature_layers {layers}")
        dumped = specs.model_dump(mode="json")
        self.towers, self.adapters, self.fusion, self.media = (
            dumped["towers"], dumped["adapters"], dumped["fusion"], dumped["media"])
        if self.text_config is not None and self.text_config.tie_word_embeddings:
            self.tie_word_embeddings = True

    def _build_sub_configs(self) -> None:
        """What `sub_configs_defaults` does on newer transformers (as LLaVA's config did before it)."""
        from transformers import CONFIG_MAPPING

        for key, (model_type, optional) in SUB_CONFIGS.items():
            value = getattr(self, key)
            if isinstance(value, dict):
                setattr(self, key, CONFIG_MAPPING[value.get("model_type", model_type)](**value))
            elif value is None and not optional:
                setattr(self, key, CONFIG_MAPPING[model_type]())

    def __setattr__(self, key, value):
        super().__setattr__(key, value)
        if key in SPEC_FIELDS:
            self.__dict__.pop(_SPECS, None)

    @property
    def specs(self) -> EmoLLMSpecs:
        """The validated specs, parsed once (treat as read-only: change the dicts instead)."""
        specs = self.__dict__.get(_SPECS)
        if specs is None:
            specs = self.__dict__[_SPECS] = validate_specs(self.towers, self.adapters, self.fusion, self.media)
        return specs

    def to_dict(self) -> dict:
        output = super().to_dict()
        output.pop(_SPECS, None)  # a cache, not a setting
        return output

    @property
    def active_modalities(self) -> list[str]:
        present = {"frames": self.frame_config, "face": self.face_config, "audio": self.audio_config}
        active = [m for m, c in present.items() if c is not None]
        if self.specs.fusion.enabled:
            active.append("fusion")
        return active

    def num_tokens(self, modality: str) -> int:
        return self.specs.adapters[modality].num_tokens

    def get_text_config(self, *args, **kwargs):
        return self.text_config


__all__ = ["EmoLLMConfig", "MODALITIES", "PLACEHOLDERS", "AdapterSpec", "FusionSpec", "TowerSpec", "MediaSpec"]

# Registered on import, so any import path (not only `from emollm import ...`) lets AutoConfig read
# a model directory; AutoTokenizer consults it and warns about an unknown model type otherwise.
AutoConfig.register("emollm", EmoLLMConfig, exist_ok=True)
