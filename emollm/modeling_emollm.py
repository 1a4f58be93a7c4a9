"""`EmoLLMForConditionalGeneration`: towers -> adapters (+ fusion) -> spliced into a causal LM.

The processor expands one placeholder per modality to the adapter's token count; here the
features are computed, counted against those placeholders (a clear error on a mismatch) and
scattered into the LLM's input embeddings, as LLaVA and Qwen2-Audio do.

Per-modality inputs are stacked over the samples that have that modality, in sample order;
`frames_sample_index` / `audio_sample_index` say which samples those are, so fusion pairs a
clip's visual and audio features. Precomputed tower features (from the feature cache) can be
passed instead of pixels and mel features.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import ClassVar

import torch
from torch import nn
from transformers import AutoModel, AutoModelForCausalLM, PreTrainedModel
from transformers import initialization as init

from emollm.adapters import build_adapter
from emollm.configuration_emollm import MODALITIES, EmoLLMConfig
from emollm.feature_norm import FeatureStandardizer
from emollm.fusion import FusionEncoder
from emollm.towers import audio_features, build_tower, tower_kind, vision_features

logger = logging.getLogger(__name__)

TOWER_CONFIGS = {"frames": "frame_config", "face": "face_config", "audio": "audio_config"}
MEDIA_INPUT_NAMES = (
    "frames_pixel_values", "face_pixel_values", "audio_input_features", "audio_valid_frames",
    "audio_window_counts", "frames_sample_index", "audio_sample_index", "tower_features",
)


# An older model-directory format: only the trained tensors, pinned to their base model by this
# file. `emollm.inference.load_model_dir` still loads it; `from_pretrained` explains how to convert.
BASE_REFERENCE = "base_reference.json"
CONVERT_HINT = ("convert it once to a full model directory: python -c \"from emollm.inference import "
                "load_model_dir; m, p = load_model_dir('{src}'); m.save_pretrained('OUT'); p.save_pretrained('OUT')\"")


def build_multimodal_parts(config: EmoLLMConfig) -> tuple[nn.ModuleDict, nn.ModuleDict, nn.Module | None, nn.ModuleDict]:
    """The towers, their feature standardisers, the fusion encoder and the adapters: everything but
    the LLM (the vLLM plugin builds the same parts around vLLM's own LLM)."""
    specs = config.specs
    towers = nn.ModuleDict()
    widths: dict[str, int] = {}
    for modality, attribute in TOWER_CONFIGS.items():
        sub_config = getattr(config, attribute)
        if sub_config is None:
            continue
        towers[modality] = build_tower(sub_config, specs.towers.get(modality, _default_spec()))
        widths[modality] = tower_kind(sub_config).width(sub_config)
    # per-(layer, channel) statistics of the frozen towers' output, fitted at the first phase
    feature_norm = nn.ModuleDict(
        {m: FeatureStandardizer(len(specs.towers.get(m, _default_spec()).feature_layers), widths[m]) for m in towers})
    fusion = None
    if specs.fusion.enabled:
        fusion = FusionEncoder(widths["frames"], widths["audio"], specs.fusion)
        widths["fusion"] = fusion.out_width
    llm_width = config.text_config.hidden_size
    adapters = nn.ModuleDict(
        {m: build_adapter(specs.adapters[m], widths[m], llm_width) for m in MODALITIES if m in widths})
    return towers, feature_norm, fusion, adapters


class PlaceholderMismatchError(ValueError):
    """The number of placeholder tokens differs from the number of multimodal features."""


class EmoLLMPreTrainedModel(PreTrainedModel):
    config_class = EmoLLMConfig
    base_model_prefix = "model"
    supports_gradient_checkpointing = True
    _supports_sdpa = True
    _no_split_modules = ["Qwen2DecoderLayer", "CLIPEncoderLayer", "ViTLayer", "WhisperEncoderLayer"]
    _skip_keys_device_placement = "past_key_values"

    def _init_weights(self, module):
        if isinstance(module, FeatureStandardizer):
            # identity until fitted; transformers' guarded init leaves statistics loaded from a checkpoint alone
            init.zeros_(module.mean)
            init.ones_(module.std)
            init.zeros_(module.fitted)
            return
        super()._init_weights(module)


class EmoLLMForConditionalGeneration(EmoLLMPreTrainedModel):
    # Every component a model may have, in order (`components()` gives those a config builds).
    COMPONENTS: ClassVar[tuple[str, ...]] = (
        "tower.frames", "tower.face", "tower.audio", "adapter.frames", "adapter.face", "adapter.audio",
        "adapter.fusion", "fusion", "llm")
    # Parts of the LLM that can be selected on their own (LoRA exists once it is attached).
    LLM_PARTS: ClassVar[tuple[str, ...]] = ("llm.embeddings", "llm.head", "lora")

    def __init__(self, config: EmoLLMConfig):
        super().__init__(config)
        self.towers, self.feature_norm, self.fusion, self.adapters = build_multimodal_parts(config)
        self.language_model = AutoModelForCausalLM.from_config(config.text_config)
        self.post_init()
        self.freeze()

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path, *args, **kwargs):
        try:
            model = super().from_pretrained(pretrained_model_name_or_path, *args, **kwargs)
        except OSError:
            _explain_trained_parts(pretrained_model_name_or_path)
            raise
        model.freeze()  # loading replaces parameters, and with them their requires_grad
        return model

    # --- parts -----------------------------------------------------------------------------
    def get_input_embeddings(self):
        return self.language_model.get_input_embeddings()

    def set_input_embeddings(self, value):
        self.language_model.set_input_embeddings(value)

    def get_output_embeddings(self):
        return self.language_model.get_output_embeddings()

    def freeze(self, trainable: Iterable[str] | None = None) -> None:
        """The one switch for what trains. `trainable=None`: the model's default (towers frozen
        unless their spec says otherwise, everything else trainable); else the names of exactly
        the parameters that train (training phases select them by component). Logged."""
        if trainable is None:
            specs = self.config.specs
            frozen_towers = {f"towers.{m}." for m in self.towers
                             if specs.towers.get(m, _default_spec()).frozen}
            chosen = {n for n, p in self.named_parameters()  # quantised (integer) weights never train
                      if p.is_floating_point() and not n.startswith(tuple(frozen_towers))}
        else:
            chosen = set(trainable)
        for name, parameter in self.named_parameters():
            parameter.requires_grad_(name in chosen)
        frozen = [c for c, module in self.components().items() if not _trainable(module)]
        logger.debug("trainable: %d tensors; frozen components: %s", len(chosen), ", ".join(frozen) or "none")

    @classmethod
    def component_names(cls, config: EmoLLMConfig) -> list[str]:
        """The components a model built from `config` has (no weights needed)."""
        active = config.active_modalities
        present = {f"tower.{m}" for m in ("frames", "face", "audio") if m in active}
        present |= {f"adapter.{m}" for m in active} | ({"fusion"} if "fusion" in active else set()) | {"llm"}
        return [name for name in cls.COMPONENTS if name in present]

    def train(self, mode: bool = True):
        """Frozen towers stay in eval mode (no dropout, fixed norms) while the rest trains."""
        super().train(mode)
        for tower in self.towers.values():
            if not _trainable(tower):
                tower.eval()
        return self

    def components(self) -> dict[str, nn.Module]:
        """Named components (names from `COMPONENTS`), for parameter tables and phase-wise freezing."""
        parts: dict[str, nn.Module] = {f"tower.{m}": t for m, t in self.towers.items()}
        parts.update({f"adapter.{m}": a for m, a in self.adapters.items()})
        if self.fusion is not None:
            parts["fusion"] = self.fusion
        parts["llm"] = self.language_model
        return parts

    # --- multimodal features ---------------------------------------------------------------
    def encode_towers(self, frames_pixel_values=None, face_pixel_values=None, audio_input_features=None,
                      audio_valid_frames=None, audio_window_counts=None) -> dict[str, torch.Tensor]:
        """Raw media tensors -> tower features (batch_m, layers, positions, width) per modality.
        These are what the feature cache stores."""
        specs = self.config.specs
        features: dict[str, torch.Tensor] = {}
        inputs = {"frames": frames_pixel_values, "face": face_pixel_values}
        for modality, pixels in inputs.items():
            if pixels is not None and modality in self.towers:
                tower = self.towers[modality]
                with torch.set_grad_enabled(torch.is_grad_enabled() and _trainable(tower)):
                    pixels = pixels.to(self.device, _dtype_of(tower))
                    features[modality] = vision_features(tower, pixels, specs.towers.get(modality, _default_spec()))
        if audio_input_features is not None and "audio" in self.towers:
            tower = self.towers["audio"]
            counts = audio_window_counts.tolist() if torch.is_tensor(audio_window_counts) else list(audio_window_counts)
            with torch.set_grad_enabled(torch.is_grad_enabled() and _trainable(tower)):
                features["audio"] = audio_features(
                    tower, audio_input_features.to(self.device, _dtype_of(tower)), audio_valid_frames, counts,
                    specs.towers.get("audio", _default_spec()), specs.media.audio_positions,
                    specs.media.audio_length)
        return features

    def project_features(self, tower_features: dict[str, torch.Tensor], frames_sample_index=None,
                         audio_sample_index=None) -> dict[str, torch.Tensor]:
        """Tower features -> LLM-width tokens (batch_m, num_tokens, hidden) per modality."""
        tower_features = {m: self.feature_norm[m](f.to(self.device, torch.float32)) if m in self.feature_norm else f
                          for m, f in tower_features.items()}
        tokens: dict[str, torch.Tensor] = {}
        for modality in ("frames", "face", "audio"):
            if modality in tower_features and modality in self.adapters:
                adapter = self.adapters[modality]
                last_layer = tower_features[modality][:, -1].to(self.device, _dtype_of(adapter))
                tokens[modality] = adapter(last_layer)
        if self.fusion is not None and "frames" in tower_features and "audio" in tower_features:
            visual_rows, audio_rows = _paired_rows(frames_sample_index, audio_sample_index,
                                                   len(tower_features["frames"]), len(tower_features["audio"]))
            if visual_rows:
                dtype = _dtype_of(self.fusion)
                visual = tower_features["frames"][visual_rows].to(self.device, dtype)
                audio = tower_features["audio"][audio_rows].to(self.device, dtype)
                tokens["fusion"] = self.adapters["fusion"](self.fusion(visual, audio))
        return tokens

    def build_inputs_embeds(self, input_ids: torch.Tensor, tower_features=None, frames_sample_index=None,
                            audio_sample_index=None, **media) -> torch.Tensor:
        """Token embeddings with every placeholder replaced by its modality's feature tokens.
        Media may come raw (pixels, mel features), as cached tower features, or both mixed in
        one batch (`tower_features` then carries its own `*_sample_index`)."""
        embeds = self.get_input_embeddings()(input_ids)
        raw = self.encode_towers(**media) if media else {}
        features, frames_sample_index, audio_sample_index = _merge_features(
            raw, frames_sample_index, audio_sample_index, tower_features)
        tokens = self.project_features(features, frames_sample_index, audio_sample_index)
        ids = self.config.placeholder_token_ids or {}
        for modality in MODALITIES:
            token_id = ids.get(modality)
            mask = input_ids == token_id if token_id is not None else torch.zeros_like(input_ids, dtype=torch.bool)
            expected = int(mask.sum())
            features = tokens.get(modality)
            provided = 0 if features is None else features.shape[0] * features.shape[1]
            if expected != provided:
                raise PlaceholderMismatchError(
                    f"{modality}: the prompt has {expected} {modality} placeholder tokens but the media give "
                    f"{provided} feature tokens ({0 if features is None else features.shape[0]} clips x "
                    f"{self.config.num_tokens(modality) if modality in self.adapters else 0} tokens)")
            if provided:
                embeds = embeds.masked_scatter(mask.unsqueeze(-1).to(embeds.device),
                                               features.reshape(-1, embeds.shape[-1]).to(embeds.dtype))
        return embeds

    # --- LLM ---------------------------------------------------------------------------------
    def forward(self, input_ids=None, attention_mask=None, labels=None, inputs_embeds=None, past_key_values=None,
                position_ids=None, use_cache=None, logits_to_keep=0, **kwargs):
        media = {k: kwargs.pop(k) for k in MEDIA_INPUT_NAMES if k in kwargs}
        if inputs_embeds is None:
            inputs_embeds = self.build_inputs_embeds(input_ids, **media)
        return self.language_model(inputs_embeds=inputs_embeds, attention_mask=attention_mask, labels=labels,
                                   past_key_values=past_key_values, position_ids=position_ids,
                                   use_cache=use_cache, logits_to_keep=logits_to_keep, **kwargs)

    @torch.no_grad()
    def generate(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None, **kwargs):
        """Splice the media once, then let the LLM's own `generate` decode from the embeddings.
        Returns only the new tokens."""
        media = {k: kwargs.pop(k) for k in MEDIA_INPUT_NAMES if k in kwargs}
        kwargs.pop("labels", None)
        inputs_embeds = self.build_inputs_embeds(input_ids, **media)
        return self.language_model.generate(inputs_embeds=inputs_embeds, attention_mask=attention_mask, **kwargs)

    @property
    def generation_config(self):
        return self.language_model.generation_config

    @generation_config.setter
    def generation_config(self, value):
        if hasattr(self, "language_model"):
            self.language_model.generation_config = value


def _explain_trained_parts(path) -> None:
    """A directory of trained parts (an older format) loads only through the inference loader."""
    from pathlib import Path

    from data_pipeline.errors import UserFacingError

    if (Path(str(path)) / BASE_REFERENCE).exists():
        raise UserFacingError(f"{path} holds trained parts over a base model ({BASE_REFERENCE}), an older "
                              f"format: load it with emollm.inference.load_model_dir, or "
                              + CONVERT_HINT.format(src=path))


def _default_spec():
    from emollm.configuration_emollm import TowerSpec

    return TowerSpec()


def _trainable(module: nn.Module) -> bool:
    return any(p.requires_grad for p in module.parameters())


def _dtype_of(module: nn.Module) -> torch.dtype:
    for parameter in module.parameters():
        if parameter.is_floating_point():
            return parameter.dtype
    return torch.float32


def _paired_rows(frames_index, audio_index, num_frames: int, num_audio: int) -> tuple[list[int], list[int]]:
    """Rows of the frame and audio feature stacks that belong to the same sample."""
    frames_samples = _as_list(frames_index, num_frames)
    audio_samples = _as_list(audio_index, num_audio)
    audio_row = {sample: row for row, sample in enumerate(audio_samples)}
    pairs = [(row, audio_row[s]) for row, s in enumerate(frames_samples) if s in audio_row]
    return [p[0] for p in pairs], [p[1] for p in pairs]


def _as_list(index, length: int) -> list[int]:
    if index is None:
        return list(range(length))
    return index.tolist() if torch.is_tensor(index) else list(index)


def _merge_features(raw: dict, frames_index, audio_index, cached: dict | None):
    """Join freshly encoded and cached tower features in sample order."""
    if not cached:
        return raw, frames_index, audio_index
    groups = {"frames": "frames_sample_index", "face": "frames_sample_index", "audio": "audio_sample_index"}
    raw_index = {"frames_sample_index": frames_index, "audio_sample_index": audio_index}
    merged, indices = {}, {}
    for modality, index_name in groups.items():
        rows = []
        if modality in raw:
            rows += list(zip(_as_list(raw_index[index_name], len(raw[modality])), raw[modality], strict=True))
        if modality in cached:
            cached_index = _as_list(cached.get(index_name), len(cached[modality]))
            rows += list(zip(cached_index, cached[modality], strict=True))
        if rows:
            rows.sort(key=lambda row: row[0])
            merged[modality] = torch.stack([row[1].to(rows[0][1].dtype) for row in rows])
            indices[index_name] = [row[0] for row in rows]
    return merged, indices.get("frames_sample_index"), indices.get("audio_sample_index")


AutoModel.register(EmoLLMConfig, EmoLLMForConditionalGeneration, exist_ok=True)  # on import, like the config
AutoModelForCausalLM.register(EmoLLMConfig, EmoLLMForConditionalGeneration, exist_ok=True)
