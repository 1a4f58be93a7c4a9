"""Frozen encoders ("towers"), built from their sub-configs or loaded from a hub id / local path,
each exposing multi-layer features as one tensor of shape (batch, layers, positions, width).

A small registry keyed by the sub-config's `model_type` says how to build and run each kind:
vision transformers (CLIP / SigLIP / ViT) for frames and face crops, Whisper's encoder for audio.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn
from transformers import PreTrainedConfig

from data_pipeline.errors import ConfigError
from emollm.configuration_emollm import TowerSpec

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TowerKind:
    """How one kind of encoder is built from its sub-config and loaded from a checkpoint.

    `model_class` names the transformers class the tower *is*, built without heads its
    checkpoints lack (a ViT classifier has no pooler). A checkpoint may hold more than the
    tower (CLIP's text half, a classifier head, Whisper's decoder): keys under
    `checkpoint_extras` are left behind; any other unexpected key, and every missing one, is an
    error naming it (`TowerLoadError`), so a renamed key never leaves a tower random."""

    model_class: str
    width: Callable[[PreTrainedConfig], int]
    build_kwargs: dict = field(default_factory=dict)
    checkpoint_extras: tuple[str, ...] = ()
    load_class: str | None = None  # load through this class, then take `part` (Whisper: the encoder)
    part: Callable[[nn.Module], nn.Module] = lambda model: model

    def build(self, config: PreTrainedConfig) -> nn.Module:
        return _transformers_class(self.model_class)(config, **self.build_kwargs)

    def load(self, source: str, revision: str | None) -> nn.Module:
        loader = _transformers_class(self.load_class or self.model_class)
        try:
            model, info = loader.from_pretrained(source, revision=revision, output_loading_info=True,
                                                 **self.build_kwargs)
        except OSError as error:
            raise TowerLoadError(f"tower weights {source!r} are not available locally (no download here): "
                                 f"{error}") from None
        unexpected = [k for k in info["unexpected_keys"] if not k.startswith(self.checkpoint_extras)]
        check_loading_info(source, info["missing_keys"], unexpected, info["mismatched_keys"])
        return self.part(model)


class TowerLoadError(ConfigError):
    """Pretrained weights that don't fit the part they should fill (names the keys)."""


def check_loading_info(source: str, missing, unexpected, mismatched=()) -> None:
    """Raise naming every missing, unexpected and mis-shaped key (transformers only logs them)."""
    problems = [f"{label} keys: {', '.join(sorted(str(k) for k in keys))}"
                for label, keys in (("missing", missing), ("unexpected", unexpected),
                                    ("mismatched", mismatched)) if keys]
    if problems:
        raise TowerLoadError(f"{source}: the checkpoint does not fit: " + "; ".join(problems))


def _transformers_class(name: str):
    import transformers

    if name == "WhisperEncoder":
        from transformers.models.whisper.modeling_whisper import WhisperEncoder

        return WhisperEncoder
    return getattr(transformers, name)


TOWER_KINDS: dict[str, TowerKind] = {
    # a full CLIP checkpoint (openai/clip-vit-large-patch14) also holds the text tower and projections
    "clip_vision_model": TowerKind("CLIPVisionModel", lambda c: c.hidden_size,
                                   checkpoint_extras=("text_model.", "text_projection", "visual_projection",
                                                      "logit_scale")),
    "siglip_vision_model": TowerKind("SiglipVisionModel", lambda c: c.hidden_size,
                                     checkpoint_extras=("text_model.", "logit_scale", "logit_bias")),
    # ViT classifiers (google/vit-base-patch16-224) have no pooler: built without one, head left behind
    "vit": TowerKind("ViTModel", lambda c: c.hidden_size, build_kwargs={"add_pooling_layer": False},
                     checkpoint_extras=("classifier.",)),
    "whisper": TowerKind("WhisperEncoder", lambda c: c.d_model, load_class="WhisperModel",
                         part=lambda model: model.get_encoder()),
}


def tower_kind(config: PreTrainedConfig) -> TowerKind:
    try:
        return TOWER_KINDS[config.model_type]
    except KeyError:
        raise ValueError(f"no tower kind for model_type {config.model_type!r}; known: {sorted(TOWER_KINDS)}") from None


def build_tower(config: PreTrainedConfig, spec: TowerSpec, load_weights: bool = False) -> nn.Module:
    """Random init from the config, or the real weights when asked and a source is named."""
    kind = tower_kind(config)
    if load_weights and spec.pretrained:
        logger.info("loading tower weights from %s", spec.pretrained)
        return kind.load(spec.pretrained, spec.revision)
    return kind.build(config)


def vision_features(tower: nn.Module, pixel_values: torch.Tensor, spec: TowerSpec) -> torch.Tensor:
    """pixel_values (B, T, 3, H, W) -> (B, layers, T or T*patches, width)."""
    batch, frames = pixel_values.shape[:2]
    outputs = tower(pixel_values=pixel_values.flatten(0, 1), output_hidden_states=True)
    selected = []
    for layer in spec.feature_layers:
        hidden = outputs.hidden_states[layer]  # (B*T, tokens, width)
        if spec.pooling == "cls":
            pooled = hidden[:, :1]
        elif spec.pooling == "mean":
            pooled = hidden.mean(dim=1, keepdim=True)
        else:  # every patch token
            pooled = hidden
        selected.append(pooled.reshape(batch, frames * pooled.shape[1], pooled.shape[-1]))
    return torch.stack(selected, dim=1)


def audio_features(tower: nn.Module, input_features: torch.Tensor, valid_frames: torch.Tensor,
                   window_counts: list[int], spec: TowerSpec, positions: int,
                   audio_length: str = "window") -> torch.Tensor:
    """Whisper windows -> (B, layers, positions, width).

    With `audio_length="window"`, input_features (windows, mels, 3000) are padded to Whisper's
    30 s window, which Transformers' encoder insists on, and the output is trimmed to each window's
    real length (`valid_frames`). With `"clip"`, each window runs on its own length only
    (`whisper_hidden_states`). Either way the windows of one clip are then joined and pooled to a
    fixed number of positions, so padding silence never reaches the adapters.
    """
    if audio_length == "clip":
        hidden_states = [whisper_hidden_states(tower, input_features[i:i + 1, :, :2 * int(frames)])
                         for i, frames in enumerate(valid_frames.tolist())]
        windows = [[layer[0] for layer in window] for window in hidden_states]  # [window][layer] (frames, width)
    else:
        expected = tower.config.max_source_positions * 2
        if input_features.shape[-1] != expected:
            raise ValueError(
                f"audio features of {input_features.shape[-1]} mel frames, but this model's audio tower runs on "
                f"{expected}-frame (30 s) windows (media.audio_length='window'); the processor's audio_length "
                "must match the model config's")
        outputs = tower(input_features, output_hidden_states=True).hidden_states
        windows = [[layer[i] for layer in outputs] for i in range(len(input_features))]
    per_clip: list[torch.Tensor] = []
    start = 0
    for count in window_counts:
        layers = []
        for layer in spec.feature_layers:
            pieces = [windows[start + i][layer][: max(int(valid_frames[start + i]), 1)] for i in range(count)]
            joined = torch.cat(pieces, dim=0).T.unsqueeze(0)  # (1, width, frames)
            layers.append(nn.functional.adaptive_avg_pool1d(joined, positions)[0].T)
        per_clip.append(torch.stack(layers))
        start += count
    return torch.stack(per_clip)


def whisper_hidden_states(encoder: nn.Module, input_features: torch.Tensor) -> list[torch.Tensor]:
    """Whisper's encoder on input shorter than its 30 s window, hidden states as Transformers
    reports them (the input of layer 0, each layer's output, the last one after the final norm).

    Transformers' `WhisperEncoder.forward` refuses any length but the full window, although the
    encoder itself (convolutions, then attention with no mask) works on any length up to it; this
    is its forward with the positions cut to the input's length. A test compares it with
    `WhisperEncoder.forward` on a full window, so a change upstream fails loudly.
    """
    embeds = nn.functional.gelu(encoder.conv1(input_features))
    embeds = nn.functional.gelu(encoder.conv2(embeds)).permute(0, 2, 1)
    hidden = embeds + encoder.embed_positions.weight[: embeds.shape[1]]
    states = [hidden]
    for layer in encoder.layers:
        hidden = layer(hidden, None)
        hidden = hidden[0] if isinstance(hidden, tuple) else hidden
        states.append(hidden)
    states[-1] = encoder.layer_norm(hidden)
    return states


def tower_fingerprint(config: PreTrainedConfig, spec: TowerSpec, tower: nn.Module | None = None) -> str:
    """Changes whenever the tower's outputs could: its config, its feature selection and, when
    given, its weights (a hash of a sample of every tensor, cheap even for large towers)."""
    digest = hashlib.sha256()
    digest.update(json.dumps(config.to_dict(), sort_keys=True, default=str).encode())
    digest.update(spec.model_dump_json().encode())
    if tower is not None:
        for name, tensor in sorted(tower.state_dict().items()):
            flat = tensor.detach().flatten()
            sample = flat[:: max(flat.numel() // 64, 1)][:64].float().cpu().numpy().tobytes()
            digest.update(name.encode() + sample)
    return digest.hexdigest()[:16]
