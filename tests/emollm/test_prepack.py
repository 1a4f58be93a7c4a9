"""Prepacked linear layers (emollm.prepack): the same outputs as `nn.Linear` on oneDNN's own
layout, applied by the serving engine to the LLM and the towers after it hashes their weights."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from emollm.prepack import PrepackedLinear, packable_dtypes, prepack_for_inference, prepack_linear_layers

DTYPES = sorted(packable_dtypes(), key=str)
TOLERANCE = {torch.float32: 1e-5, torch.bfloat16: 0.0, torch.float16: 1e-3}  # relative; bf16 measured exact


def test_this_cpu_packs_at_least_float32():
    assert torch.float32 in packable_dtypes()


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("rows", [1, 3, 40])  # a decoding step, a small batch, a prefill
@pytest.mark.parametrize("bias", [True, False])
def test_a_prepacked_linear_computes_what_nn_linear_does(dtype, rows, bias):
    torch.manual_seed(0)
    linear = nn.Linear(96, 160, bias=bias).to(dtype)
    x = torch.randn(2, rows, 96, dtype=dtype)
    packed = PrepackedLinear(linear)
    with torch.no_grad():
        reference, ours = linear(x).float(), packed(x).float()
        transposed = packed(x.transpose(0, 1)).float()  # a non-contiguous input
    assert ours.shape == reference.shape
    assert ((ours - reference).norm() / reference.norm()).item() <= TOLERANCE[dtype]
    assert torch.allclose(transposed, ours.transpose(0, 1), rtol=TOLERANCE[dtype], atol=1e-6)


def test_layers_of_a_dtype_onednn_does_not_take_are_kept():
    model = nn.Sequential(nn.Linear(8, 8), nn.Linear(8, 8).to(torch.float64))
    assert prepack_linear_layers(model) == 1
    assert type(model[0]) is PrepackedLinear and type(model[1]) is nn.Linear


@pytest.fixture(scope="module", params=DTYPES, ids=str)
def tiny_in_dtype(request, tiny_model_dir):
    from emollm import EmoLLMForConditionalGeneration

    return EmoLLMForConditionalGeneration.from_pretrained(tiny_model_dir, dtype=request.param).eval()


def test_a_prepacked_model_answers_as_the_plain_one(tiny_in_dtype):
    model = copy.deepcopy(tiny_in_dtype)
    linears = {name: sum(isinstance(m, nn.Linear) for m in part.modules())
               for name, part in [("llm", model.language_model), *model.towers.items()]}
    assert prepack_for_inference(model) == sum(linears.values())
    for part in [model.language_model, *model.towers.values()]:
        assert not any(isinstance(m, nn.Linear) for m in part.modules())
    assert any(isinstance(m, nn.Linear) for m in model.adapters.modules())  # small: left as they are
    torch.manual_seed(0)
    side = model.config.frame_config.image_size
    pixels = torch.randn(1, 4, 3, side, side)
    ids = torch.randint(0, 200, (1, 12))
    with torch.no_grad():
        reference = tiny_in_dtype.encode_towers(frames_pixel_values=pixels)["frames"].float()
        ours = model.encode_towers(frames_pixel_values=pixels)["frames"].float()
        assert ((ours - reference).norm() / reference.norm()).item() <= TOLERANCE[model.dtype] + 1e-6
        greedy = {"max_new_tokens": 8, "min_new_tokens": 8, "do_sample": False, "pad_token_id": 0}
        expected = tiny_in_dtype.language_model.generate(input_ids=ids, **greedy)
        assert torch.equal(model.language_model.generate(input_ids=ids, **greedy), expected)


def test_the_engine_prepacks_after_hashing_the_towers(tiny_model_dir):
    from emollm.feature_cache import model_fingerprint
    from emollm.inference import load_model_dir
    from serve.engine import Engine

    plain, _ = load_model_dir(tiny_model_dir)
    engines = {packed: Engine.from_pretrained(tiny_model_dir, prepack=packed) for packed in (True, False)}
    try:
        counts = {packed: sum(isinstance(m, PrepackedLinear) for m in e.model.modules()) for packed, e in engines.items()}
        assert counts[False] == 0 and counts[True] > 0
        # the feature cache's key of a clip does not depend on how the weights are laid out
        assert engines[True].fingerprint == engines[False].fingerprint == model_fingerprint(plain)
    finally:
        for engine in engines.values():
            engine.close()
