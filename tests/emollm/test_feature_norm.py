"""Feature standardisation: identity until fitted, exact statistics once fitted, saved with the
model, and a checkpoint without statistics loads as the identity (never as garbage)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from emollm import EmoLLMForConditionalGeneration
from emollm.feature_norm import MIN_STD, FeatureStandardizer, fit_feature_norms


def _clips(seed: int, n: int, layers: int = 2, width: int = 5) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    # varying lengths, a large shared offset and one constant channel
    clips = [torch.randn(layers, 3 + i % 4, width, generator=g) * 0.1 + 7.0 for i in range(n)]
    for c in clips:
        c[..., -1] = 2.0
    return clips


def test_identity_until_fitted_then_exact_statistics():
    norm = FeatureStandardizer(2, 5)
    x = torch.randn(3, 2, 4, 5)
    assert torch.equal(norm(x), x) and not bool(norm.fitted)

    clips = _clips(0, 9)
    model = torch.nn.Module()
    model.feature_norm = torch.nn.ModuleDict({"audio": norm})
    assert fit_feature_norms(model, [{"audio": c} for c in clips]) == {"audio": 9}
    every_position = np.concatenate([c.numpy() for c in clips], axis=1).astype(np.float64)  # (layers, all, width)
    np.testing.assert_allclose(norm.mean.numpy(), every_position.mean(1), rtol=1e-5)
    expected_std = np.maximum(every_position.std(1, ddof=1), MIN_STD)
    np.testing.assert_allclose(norm.std.numpy(), expected_std, rtol=1e-4)
    out = norm(torch.stack([c[:, :3] for c in clips]))
    assert out[..., :-1].mean().abs() < 0.3 and 0.5 < out[..., :-1].std() < 1.5
    assert torch.equal(out[..., -1], torch.zeros_like(out[..., -1]))  # constant channel: centred, not blown up

    # a fitted standardiser is kept: a second fit changes nothing
    before = norm.mean.clone()
    assert fit_feature_norms(model, [{"audio": c * 5} for c in _clips(1, 4)]) == {}
    assert torch.equal(norm.mean, before)


def test_fit_refuses_features_of_another_shape():
    model = torch.nn.Module()
    model.feature_norm = torch.nn.ModuleDict({"face": FeatureStandardizer(1, 5)})
    with pytest.raises(ValueError, match="don't match"):
        fit_feature_norms(model, [{"face": c} for c in _clips(0, 3, layers=2)])


def test_statistics_are_saved_and_a_checkpoint_without_them_loads_as_identity(tiny_model_dir, tmp_path):
    model = EmoLLMForConditionalGeneration.from_pretrained(tiny_model_dir)
    assert not any(bool(n.fitted) for n in model.feature_norm.values())
    layers, width = model.feature_norm["audio"].mean.shape
    fit_feature_norms(model, [{"audio": c} for c in _clips(0, 6, layers, width)])
    model.save_pretrained(tmp_path / "fitted")
    loaded = EmoLLMForConditionalGeneration.from_pretrained(tmp_path / "fitted")
    assert bool(loaded.feature_norm["audio"].fitted) and not bool(loaded.feature_norm["face"].fitted)
    assert torch.equal(loaded.feature_norm["audio"].mean, model.feature_norm["audio"].mean)

    weights = load_file(tmp_path / "fitted" / "model.safetensors")
    save_file({k: v for k, v in weights.items() if not k.startswith("feature_norm.")},
              tmp_path / "fitted" / "model.safetensors", metadata={"format": "pt"})
    old = EmoLLMForConditionalGeneration.from_pretrained(tmp_path / "fitted")
    for norm in old.feature_norm.values():
        assert not bool(norm.fitted)
        assert torch.equal(norm.mean, torch.zeros_like(norm.mean)) and torch.equal(norm.std, torch.ones_like(norm.std))
