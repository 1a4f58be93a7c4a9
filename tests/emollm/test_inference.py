"""The inference core: the one model-directory loader (also for the older trained-parts
directories), the one set of stop ids, and one encode step whose features do not depend on the
feature cache."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import save_file

from data_pipeline.clip import Clip
from data_pipeline.errors import UserFacingError
from emollm import EmoLLMForConditionalGeneration
from emollm.feature_cache import FEATURE_DTYPE, FeatureCache
from emollm.inference import InferenceCore, load_model_dir, stop_ids


def _trained_parts_dir(base, out, model):
    """The older trained-parts layout, as `emollm` wrote it: config.json, trained.safetensors
    (the trained tensors only) and base_reference.json pinning the base by the sha256 of its
    weight files."""
    import hashlib

    out.mkdir()
    model.config.save_pretrained(out)
    save_file({"adapters.frames.queries": model.adapters["frames"].queries.detach().contiguous()},
              out / "trained.safetensors")
    digest = hashlib.sha256()
    for path in sorted(base.glob("*.safetensors")):
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    (out / "base_reference.json").write_text(json.dumps({"base": str(base), "revision": None,
                                                        "sha256": digest.hexdigest()}))
    return out


def test_trained_parts_directory_loads_over_its_base(tiny_model_dir, tmp_path):
    model = EmoLLMForConditionalGeneration.from_pretrained(tiny_model_dir)
    with torch.no_grad():
        model.adapters["frames"].queries.add_(1.0)
    small = _trained_parts_dir(tiny_model_dir, tmp_path / "small", model)
    assert not (small / "model.safetensors").exists()
    loaded, processor = load_model_dir(small)
    assert torch.equal(loaded.adapters["frames"].queries, model.adapters["frames"].queries)
    assert processor.num_frames > 0  # the processor comes from the base the parts name
    with pytest.raises(UserFacingError, match="trained parts over a base model.*save_pretrained"):
        EmoLLMForConditionalGeneration.from_pretrained(small)


def test_load_model_dir_names_a_missing_directory(tmp_path):
    with pytest.raises(UserFacingError, match="not a model directory"):
        load_model_dir(tmp_path)


def test_stop_ids_are_eos_and_end_of_turn(tiny_model):
    model, processor = tiny_model
    ids = stop_ids(processor.tokenizer, model.generation_config)
    tokenizer = processor.tokenizer
    assert tokenizer.convert_tokens_to_ids("<|im_end|>") in ids
    assert tokenizer.eos_token_id in ids
    assert InferenceCore(model, processor).stop_ids == ids


def test_fresh_and_cached_features_are_the_same(tiny_model, media_dir):
    model, processor = tiny_model
    clip = Clip(video=str(media_dir / "clip.mp4"))
    cached_core = InferenceCore(model, processor, FeatureCache())
    first, decoded = cached_core.encode(clip)
    second, again = cached_core.encode(clip)
    uncached, _ = InferenceCore(model, processor, FeatureCache(enabled=False)).encode(clip)
    assert decoded is not None and again is None  # a miss, then a hit
    assert set(first.features) == {"frames", "face", "audio"}
    for name, tensor in first.features.items():
        assert tensor.dtype == FEATURE_DTYPE
        assert torch.equal(tensor, second.features[name]) and torch.equal(tensor, uncached.features[name])
    assert cached_core.encode(None) == (None, None)
