"""`EmoLLMForConditionalGeneration` for vLLM: EmoLLM's own towers, feature standardisers, fusion
and adapters (built by `build_multimodal_parts`, run by the HF model's own `encode_towers` and
`project_features`) around vLLM's Qwen2, so decoding gets vLLM's kernels and paged KV cache.

Each media item becomes the tokens its expanded placeholders stand for, in EmoLLMProcessor's
order (frames, face, audio, fusion). Weights load as `save_pretrained` wrote them; a tensor the
model lacks, or a tensor of the model the checkpoint lacks, is an error naming it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

import torch
from torch import nn
from vllm.config import VllmConfig
from vllm.model_executor.models.interfaces import SupportsMultiModal
from vllm.model_executor.models.utils import init_vllm_registered_model, maybe_prefix
from vllm.multimodal import MULTIMODAL_REGISTRY

from serve.vllm_plugin._project import EmoLLMForConditionalGeneration, build_multimodal_parts
from serve.vllm_plugin.processing import (
    PROMPT_PLACEHOLDERS,
    EmoLLMDummyInputsBuilder,
    EmoLLMMultiModalProcessor,
    EmoLLMProcessingInfo,
)

LLM_PREFIX = "language_model."
# tensors older model directories hold that the model no longer has by design: the ViT face tower
# is built without its pooler now (emollm/towers.py) and never read it; skipped by name, logged
OBSOLETE_PREFIXES = ("towers.face.pooler.",)
TOKEN_ORDER = ("frames", "face", "audio", "fusion")
logger = logging.getLogger(__name__)


class WeightsMismatchError(ValueError):
    """The checkpoint's tensors don't match the model's."""


@MULTIMODAL_REGISTRY.register_processor(EmoLLMMultiModalProcessor, info=EmoLLMProcessingInfo,
                                        dummy_inputs=EmoLLMDummyInputsBuilder)
class EmoLLMForConditionalGenerationVLLM(nn.Module, SupportsMultiModal):
    base_model_prefix = ""  # read by transformers' conversion mapping (see _checkpoint_renamer)
    # the HF model's own steps, run on the same parts
    encode_towers = EmoLLMForConditionalGeneration.encode_towers
    project_features = EmoLLMForConditionalGeneration.project_features

    @classmethod
    def get_placeholder_str(cls, modality: str, i: int) -> str | None:
        if modality in PROMPT_PLACEHOLDERS:
            return PROMPT_PLACEHOLDERS[modality]
        raise ValueError(f"EmoLLM takes image, video and audio items, not {modality!r}")

    def __init__(self, *, vllm_config: VllmConfig, prefix: str = ""):
        super().__init__()
        config = vllm_config.model_config.hf_config
        self.config = config
        ids = config.placeholder_token_ids or {}
        self.configure_mm_token_handling(config.text_config.vocab_size, list(ids.values()))
        with self._mark_tower_model(vllm_config, {"image", "video", "audio"}):
            self.towers, self.feature_norm, self.fusion, self.adapters = build_multimodal_parts(config)
        # statistics stay float32 whatever the serving dtype, as in the HF model
        self.feature_norm.float()
        with self._mark_language_model(vllm_config):
            self.language_model = init_vllm_registered_model(
                vllm_config=vllm_config, hf_config=config.text_config, prefix=maybe_prefix(prefix, "language_model"),
                architectures=["Qwen2ForCausalLM"])
        self.make_empty_intermediate_tensors = self.language_model.make_empty_intermediate_tensors

    @property
    def device(self) -> torch.device:
        return next(self.adapters.parameters()).device

    # --- media -------------------------------------------------------------------------------
    def embed_multimodal(self, **kwargs) -> list[torch.Tensor]:
        embeddings = []
        for kind in ("image", "video", "audio"):
            if kwargs.get(f"{kind}_windows") is not None:
                embeddings += self._embed_items(kind, kwargs)
        return embeddings

    def _embed_items(self, kind: str, kwargs: dict) -> list[torch.Tensor]:
        windows = [int(w) for w in _flat(kwargs[f"{kind}_windows"])]
        media, frames_index = {}, None
        if kind != "audio":
            media["frames_pixel_values"] = _stacked(kwargs[f"{kind}_frames"])
            media["face_pixel_values"] = _stacked(kwargs[f"{kind}_faces"])
            frames_index = list(range(len(windows)))
        audio_index = [i for i, count in enumerate(windows) if count]
        if audio_index:
            media["audio_input_features"] = _concatenated(kwargs[f"{kind}_mel"])
            media["audio_valid_frames"] = torch.cat([v.reshape(-1) for v in _as_list(kwargs[f"{kind}_mel_valid"])])
            media["audio_window_counts"] = [windows[i] for i in audio_index]
        with torch.no_grad():
            tokens = self.project_features(self.encode_towers(**media), frames_index, audio_index)
        rows = {"frames": frames_index or [], "face": frames_index or [], "audio": audio_index,
                "fusion": [i for i in (frames_index or []) if i in audio_index]}
        items = []
        for item in range(len(windows)):
            parts = [tokens[m][rows[m].index(item)] for m in TOKEN_ORDER if m in tokens and item in rows[m]]
            items.append(torch.cat(parts).to(self._llm_dtype()))
        return items

    def _llm_dtype(self) -> torch.dtype:
        return next(self.language_model.parameters()).dtype

    # --- LLM ---------------------------------------------------------------------------------
    def forward(self, input_ids, positions, intermediate_tensors=None, inputs_embeds=None, **kwargs):
        if intermediate_tensors is not None:
            inputs_embeds = None
        return self.language_model.model(input_ids, positions, intermediate_tensors, inputs_embeds=inputs_embeds)

    def compute_logits(self, hidden_states: torch.Tensor) -> torch.Tensor | None:
        return self.language_model.compute_logits(hidden_states)

    def load_weights(self, weights: Iterable[tuple[str, torch.Tensor]]) -> set[str]:
        """Strict: the multimodal parts' tensors by their saved names, the LLM's through vLLM's
        Qwen2 loader (which fuses q/k/v and gate/up); vLLM then checks every LLM parameter was set."""
        own = {name: tensor for name, tensor in self.state_dict().items() if not name.startswith(LLM_PREFIX)}
        loaded: set[str] = set()
        rename = _checkpoint_renamer(self)

        def llm_weights():
            for saved, tensor in weights:
                if saved.startswith(LLM_PREFIX):
                    yield saved[len(LLM_PREFIX):], tensor
                    continue
                name = rename(saved)
                if name not in own and name.startswith(OBSOLETE_PREFIXES):
                    logger.info("skipping %s: the model no longer has it (an older directory)", saved)
                    continue
                if name not in own:
                    raise WeightsMismatchError(f"the checkpoint has a tensor the model lacks: {saved} "
                                               f"(shape {tuple(tensor.shape)})")
                if own[name].shape != tensor.shape:
                    raise WeightsMismatchError(f"{name}: the checkpoint's shape {tuple(tensor.shape)} differs from "
                                               f"the model's {tuple(own[name].shape)}")
                own[name].copy_(tensor.to(own[name].dtype))
                loaded.add(name)

        with torch.no_grad():
            loaded |= {LLM_PREFIX + name for name in self.language_model.load_weights(llm_weights())}
        missing = sorted(set(own) - loaded)
        if missing:
            raise WeightsMismatchError(f"the checkpoint lacks {len(missing)} tensors of the model, e.g. {missing[:5]}")
        return loaded


def _checkpoint_renamer(model: nn.Module):
    """Checkpoint name -> module name. Transformers 5 writes the towers' tensors under their original
    checkpoint names (e.g. ViT's `encoder.layer.0.attention.attention.key`) and renames them on load
    (`conversion_mapping`); the same renamings, scoped to each tower, apply here. A tensor that would
    need a converter (a merge or split, not a rename) is refused by name."""
    from transformers.conversion_mapping import get_model_conversion_mapping
    from transformers.core_model_loading import WeightConverter, WeightRenaming, rename_source_key

    transforms = get_model_conversion_mapping(model, add_legacy=True)
    renamings = [t for t in transforms if isinstance(t, WeightRenaming)]
    converters = [t for t in transforms if isinstance(t, WeightConverter)]

    def rename(name: str) -> str:
        renamed, converter = rename_source_key(name, renamings, converters)
        if converter is not None:
            raise WeightsMismatchError(f"{name}: needs transformers' weight converter {converter!r}, which the vLLM "
                                       "plugin does not apply")
        return renamed

    return rename


def _flat(value) -> list:
    if isinstance(value, torch.Tensor):
        return value.reshape(-1).tolist()
    return [int(v) for v in value]


def _stacked(value) -> torch.Tensor:
    return value if isinstance(value, torch.Tensor) else torch.stack(list(value))


def _as_list(value) -> list[torch.Tensor]:
    return [value] if isinstance(value, torch.Tensor) else list(value)


def _concatenated(value) -> torch.Tensor:
    """Items' Whisper windows in one tensor. With `media.audio_length: clip` each item's mels are as
    long as its sound, so they are zero-filled to the longest, as EmoLLMProcessor batches them (the
    tower reads only each window's valid frames)."""
    if isinstance(value, torch.Tensor):
        return value
    pieces = list(value)
    width = max(piece.shape[-1] for piece in pieces)
    return torch.cat([nn.functional.pad(piece, (0, width - piece.shape[-1])) for piece in pieces])
