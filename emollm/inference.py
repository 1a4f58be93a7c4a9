"""The inference core shared by the API engine, `emollm eval`, `emollm predict` and the chat UI:

* `load_model_dir(dir)`: the one loader of a model directory, (model, processor) in eval mode;
  an older directory of trained parts (`base_reference.json`) loads over the base it pins;
* `InferenceCore.encode(clip)`: one clip -> tower features, through the feature cache, always
  rounded to the cache's dtype, so an answer never depends on whether its clip was seen before;
* `InferenceCore.batch(prompts, clips)`: the processor's own `__call__`, left-padded for
  generation;
* `stop_ids(tokenizer, generation_config)`: the one set of tokens that end an answer;
* `InferenceCore.generate(batch, ...)`: the model's `generate` with those stop ids and the pad id.

Callers keep only what is theirs: the engine schedules, streams and cancels; evaluation batches
records and writes predictions.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from contextlib import contextmanager
from pathlib import Path

import torch

from data_pipeline.clip import Clip
from data_pipeline.errors import UserFacingError
from emollm.modeling_emollm import BASE_REFERENCE

logger = logging.getLogger(__name__)

TRAINED_WEIGHTS = "trained.safetensors"  # beside BASE_REFERENCE in the older trained-parts format
STOP_TOKENS = ("<|im_end|>", "<|endoftext|>")  # ChatML's end of turn and end of text


# --- loading -----------------------------------------------------------------------------------
def load_model_dir(model_dir: str | os.PathLike, **kwargs):
    """(model, processor) from a model directory, in eval mode. `kwargs` go to `from_pretrained`."""
    from emollm.modeling_emollm import EmoLLMForConditionalGeneration
    from emollm.processing_emollm import EmoLLMProcessor

    model_dir = Path(model_dir)
    if not (model_dir / "config.json").exists():
        raise UserFacingError(f"not a model directory (no config.json): {model_dir}")
    if (model_dir / BASE_REFERENCE).exists():
        model = _load_trained_parts(model_dir, **kwargs)
    else:
        model = EmoLLMForConditionalGeneration.from_pretrained(model_dir, **kwargs)
    return model.eval(), EmoLLMProcessor.from_pretrained(processor_dir(model_dir))


def processor_dir(model_dir: str | os.PathLike) -> Path:
    """Where a model directory's processor (and chat template) lives: the directory itself, or
    for trained parts without their own processor the base they name."""
    model_dir = Path(model_dir)
    reference = model_dir / BASE_REFERENCE
    if not (model_dir / "processor_config.json").exists() and reference.exists():
        return Path(json.loads(reference.read_text())["base"])
    return model_dir


def _weights_hash(model_dir: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(model_dir.glob("*.safetensors")):
        with path.open("rb") as handle:
            digest.update(hashlib.file_digest(handle, "sha256").digest())
    return digest.hexdigest()


def _load_trained_parts(model_dir: Path, **kwargs):
    """`base_reference.json` ({"base": dir or hub id, "revision", "sha256" of the base's weights})
    plus `trained.safetensors` (the tensors that differ from the base): the base, checked against
    its pin, with the trained tensors laid over it."""
    from safetensors.torch import load_file

    from emollm.modeling_emollm import EmoLLMForConditionalGeneration

    reference = json.loads((model_dir / BASE_REFERENCE).read_text())
    base = Path(reference["base"])
    if reference.get("sha256") and base.is_dir() and _weights_hash(base) != reference["sha256"]:
        raise UserFacingError(f"{model_dir}: base model {base} has changed since these parts were trained "
                              "(sha256 of its weights differs)")
    if reference.get("revision"):
        kwargs.setdefault("revision", reference["revision"])
    model = EmoLLMForConditionalGeneration.from_pretrained(reference["base"], **kwargs)
    trained = load_file(model_dir / TRAINED_WEIGHTS)
    unknown = sorted(set(trained) - set(model.state_dict()))
    if unknown:
        raise UserFacingError(f"{model_dir}: trained parts don't fit the base: {unknown[:5]}")
    model.load_state_dict(trained, strict=False)
    return model


# --- decoding settings ---------------------------------------------------------------------------
def stop_ids(tokenizer, generation_config=None) -> list[int]:
    """Tokens that end an answer: the generation config's EOS, the tokenizer's, and ChatML's."""
    configured = getattr(generation_config, "eos_token_id", None)
    ids = set(configured if isinstance(configured, list) else [configured] if configured is not None else [])
    for token in (tokenizer.eos_token, *STOP_TOKENS):
        token_id = tokenizer.convert_tokens_to_ids(token) if token else None
        if isinstance(token_id, int) and token_id != tokenizer.unk_token_id:
            ids.add(token_id)
    return sorted(ids)


_INTEROP_SET = False


def use_threads(count: int) -> None:
    """torch CPU threads for this thread's intra-op work (OpenMP settings are per thread), and
    one inter-op thread (inference runs one op stream)."""
    global _INTEROP_SET
    torch.set_num_threads(count)
    if not _INTEROP_SET:
        _INTEROP_SET = True
        try:
            torch.set_num_interop_threads(1)
        except RuntimeError:  # already set, or parallel work has started
            pass


@contextmanager
def torch_threads(count: int):
    """Run with `count` torch CPU threads, then restore the previous setting."""
    previous = torch.get_num_threads()
    use_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


# --- the core ------------------------------------------------------------------------------------
class InferenceCore:
    """A loaded model ready to answer: encode clips, build batches, generate."""

    def __init__(self, model, processor, cache=None):
        from emollm.feature_cache import model_fingerprint

        self.model = model.eval()
        self.processor = processor
        self.tokenizer = processor.tokenizer
        self.cache = cache
        self.fingerprint = model_fingerprint(model)  # hashes the tower weights: once
        self.stop_ids = stop_ids(self.tokenizer, model.generation_config)
        configured = model.generation_config.eos_token_id
        self.end_of_turn = (configured[0] if isinstance(configured, list) else configured) or self.stop_ids[0]
        self.pad_id = processor.pad_token_id

    @classmethod
    def from_pretrained(cls, model_dir: str | os.PathLike, cache=None) -> InferenceCore:
        return cls(*load_model_dir(model_dir), cache=cache)

    def encode(self, clip: Clip | None):
        """(features, decoded): the clip's tower features (`CachedClip`, from the cache when it
        holds them) and its decoded media (`ClipMedia`; None on a cache hit). (None, None) for no
        clip. Raises `MediaError` for a file that can't be decoded."""
        from emollm.feature_cache import encode_clip

        if clip is None or clip.empty:
            return None, None
        return encode_clip(self.model, self.processor, self.cache, clip, fingerprint=self.fingerprint)

    def prompt_ids(self, messages: list[dict], clip) -> list[int]:
        """A conversation's prompt token ids (placeholders expanded for `clip`), ready to answer."""
        return self.processor.prompt_ids(messages, clip, add_generation_prompt=True)

    def batch(self, prompts: list, clips: list):
        """Prompts (conversations or token ids) and their clips -> one left-padded batch."""
        return self.processor(prompts, clips, add_generation_prompt=True, padding_side="left")

    @torch.inference_mode()
    def generate(self, batch, **kwargs) -> torch.Tensor:
        """New token ids per row; stop ids and the pad id are the core's unless given."""
        kwargs.setdefault("eos_token_id", self.stop_ids)
        kwargs.setdefault("pad_token_id", self.pad_id)
        return self.model.generate(**batch, **kwargs)
