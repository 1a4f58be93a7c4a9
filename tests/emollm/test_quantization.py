"""`--quantization int8|int4`: the LLM's linear layers as weight-only int8 / int4 on PyTorch's CPU
kernels, with outputs close to the bf16 model's; and the compiled decode step (static cache)
answering as eager decoding does, to within rounding."""

from __future__ import annotations

import argparse
import copy
import platform

import pytest
import torch
from torch import nn

from emollm.quantization import add_quantization_argument, quantize_llm
from emollm.weight_only import FORMATS, Int4WeightOnlyLinear, Int8WeightOnlyLinear, quantize_weight_only

ATOL_OF_SCALE = 0.05  # compiled vs eager logits, as a fraction of their spread (measured: up to 0.025)
TOLERANCE = {"int8": 0.01, "int4": 0.08}  # relative error of the output (measured: 0.005, 0.06)


@pytest.mark.parametrize("format", list(FORMATS))
@pytest.mark.parametrize("rows", [1, 3, 40])  # decoding steps take the kernel; an int8 prefill dequantizes
@pytest.mark.parametrize("out_features", [160, 100])  # 100: int4 pads the rows to a multiple of 16
def test_weight_only_linear_is_close_to_the_bf16_one(format, rows, out_features):
    torch.manual_seed(0)
    linear = nn.Linear(96, out_features).to(torch.bfloat16)
    x = torch.randn(2, rows, 96, dtype=torch.bfloat16)
    quantized = FORMATS[format](linear)
    with torch.no_grad():
        reference, ours = linear(x).float(), quantized(x).float()
    assert ours.shape == reference.shape
    relative = (ours - reference).norm() / reference.norm()
    assert relative < TOLERANCE[format], relative


@pytest.mark.parametrize("format", list(FORMATS))
@pytest.mark.parametrize("rows", [1, 3, 9])  # int4 up to 4 (int8 up to 8): a matrix-vector product per row
@pytest.mark.parametrize("out_features", [512, 500])  # 500: int4 pads the rows to a multiple of 16
def test_our_kernels_compute_what_pytorchs_do(format, rows, out_features):
    from emollm.native_kernels import CPU_FLAGS, MIN_WEIGHTS, cpu_has_flags

    torch.manual_seed(0)
    linear = nn.Linear(576, out_features).to(torch.bfloat16)
    assert linear.weight.numel() >= MIN_WEIGHTS
    ours = FORMATS[format](linear)
    # where the CPU has the instructions the kernels must build and run (a failed build is a failure
    # here); elsewhere both layers run PyTorch's kernels and must agree all the same
    assert ours.native == (cpu_has_flags() and platform.machine() == "x86_64"), CPU_FLAGS
    reference = FORMATS[format](linear, native=False)
    x = torch.randn(2, rows, 576, dtype=torch.bfloat16)
    with torch.no_grad():
        expected, got = reference(x).float(), ours(x).float()
    assert got.shape == expected.shape == (2, rows, out_features)
    # the same weights; a matrix-vector product adds in another order, an int4 GEMM runs on weights
    # rounded to bf16, an int8 GEMM on the same exact codes as PyTorch's path
    tolerance = 1e-3 if 2 * rows <= ours.KERNEL_MAX_ROWS else {"int8": 0.0, "int4": 1e-2}[format]
    assert (got - expected).norm() / expected.norm() <= tolerance
    stored = {name: sum(b.numel() * b.element_size() for b in layer.buffers()) for name, layer in
              (("ours", ours), ("pytorch", reference))}
    assert stored["ours"] == stored["pytorch"]  # the same bytes, laid out for our kernels


@pytest.mark.parametrize("format", list(FORMATS))
def test_small_layers_stay_on_pytorchs_kernels_and_ours_refuse_what_they_cannot_run(format):
    assert not FORMATS[format](nn.Linear(128, 256).to(torch.bfloat16)).native  # under MIN_WEIGHTS: cheaper calls
    with pytest.raises(ValueError, match="in_features a multiple of"):
        FORMATS[format](nn.Linear({"int8": 48, "int4": 96}[format], 32).to(torch.bfloat16), native=True)
    with pytest.raises(ValueError, match="bf16 weights"):
        FORMATS[format](nn.Linear(128, 32), native=True)  # float32


def test_the_formats_store_fewer_bytes_than_bf16():
    linear = nn.Linear(256, 512).to(torch.bfloat16)
    bf16_bytes = linear.weight.numel() * 2
    int8, int4 = Int8WeightOnlyLinear(linear), Int4WeightOnlyLinear(linear)
    assert int8.weight.dtype == torch.int8 and int8.scales.shape == (512,)
    stored = {name: sum(b.numel() * b.element_size() for b in layer.buffers()) for name, layer in
              (("int8", int8), ("int4", int4))}
    assert stored["int8"] < 0.52 * bf16_bytes + 1100  # + the bias
    assert stored["int4"] < 0.32 * bf16_bytes + 1100  # 4 bits + a bf16 scale and zero per 32 weights


def test_int4_takes_the_mlps_and_keeps_layers_whose_inputs_do_not_fill_its_groups():
    model = nn.Module()
    model.attention = nn.Linear(64, 64)
    model.mlp = nn.Sequential(nn.Linear(64, 32), nn.Linear(32, 48), nn.Linear(48, 8))  # 48 inputs: no groups of 32
    replaced, kept = quantize_weight_only(model, "int4")
    assert (replaced, kept) == (3, ["mlp.2"])
    assert type(model.attention) is Int8WeightOnlyLinear
    assert [type(layer) for layer in model.mlp] == [Int4WeightOnlyLinear, Int4WeightOnlyLinear, nn.Linear]


@pytest.fixture(scope="module")
def bf16_model(tiny_model_dir):
    from emollm import EmoLLMForConditionalGeneration

    return EmoLLMForConditionalGeneration.from_pretrained(tiny_model_dir, dtype=torch.bfloat16).eval()


@pytest.mark.parametrize("format", list(FORMATS))
def test_quantize_llm_replaces_every_llm_linear_and_keeps_the_logits(bf16_model, format):
    model = copy.deepcopy(bf16_model)
    quantize_llm(model, format)
    linears = [m for m in model.language_model.modules() if isinstance(m, nn.Linear)]
    layers = model.config.text_config.num_hidden_layers
    int8 = [m for m in model.language_model.modules() if type(m) is Int8WeightOnlyLinear]
    int4 = [m for m in model.language_model.modules() if type(m) is Int4WeightOnlyLinear]
    assert not linears
    # int8: every layer; int4: the MLPs (gate, up, down) in int4, attention and the output layer int8
    assert (len(int8), len(int4)) == ({"int8": 7 * layers + 1, "int4": 4 * layers + 1}[format],
                                      {"int8": 0, "int4": 3 * layers}[format])
    assert type(model.language_model.lm_head) is Int8WeightOnlyLinear
    assert any(isinstance(m, nn.Linear) for m in model.towers.modules())  # the towers keep their dtype
    ids = torch.randint(0, 200, (2, 24))
    with torch.no_grad():
        reference = bf16_model.language_model(input_ids=ids).logits.float()
        ours = model.language_model(input_ids=ids).logits.float()
    cosine = nn.functional.cosine_similarity(ours.flatten(1), reference.flatten(1)).min()
    assert cosine > {"int8": 0.99, "int4": 0.95}[format], cosine
    assert (ours.argmax(-1) == reference.argmax(-1)).float().mean() > {"int8": 0.9, "int4": 0.8}[format]


def test_unknown_quantization_is_refused_by_name(bf16_model):
    with pytest.raises(ValueError, match="--quantization 'int2'"):
        quantize_llm(bf16_model, "int2")
    parser = argparse.ArgumentParser()
    add_quantization_argument(parser)
    assert parser.parse_args([]).quantization is None
    assert parser.parse_args(["--quantization", "int8"]).quantization == "int8"
    assert parser.parse_args(["-q", "int4"]).quantization == "int4"
    with pytest.raises(SystemExit):
        parser.parse_args(["--quantization", "int2"])


@pytest.mark.parametrize("format", list(FORMATS))
def test_a_tied_output_layer_gets_its_own_quantized_copy(format):
    from transformers import Qwen2Config, Qwen2ForCausalLM

    config = Qwen2Config(vocab_size=128, hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                         num_attention_heads=2, num_key_value_heads=1, tie_word_embeddings=True)
    model = Qwen2ForCausalLM(config).eval()
    embedding = model.get_input_embeddings().weight.detach().clone()
    assert quantize_weight_only(model, format) == (8, [])
    assert type(model.model.layers[0].mlp.up_proj) is FORMATS[format]
    assert type(model.lm_head) is Int8WeightOnlyLinear
    torch.testing.assert_close(model.get_input_embeddings().weight, embedding)  # input embeddings untouched


def assert_greedy_decoding_agrees(ours, reference, atol):
    """Greedy runs agree when each step's logits are within `atol` of the reference's, compared up to
    and including the first step whose token differs: two logit vectors that close can only pick
    different tokens where the reference's best two were tied within 2 * atol (the compiled kernels
    add in another order, and a random tiny model has near ties)."""
    steps = len(reference.logits)
    ours_tokens, reference_tokens = ours.sequences[0, -steps:], reference.sequences[0, -steps:]
    agreeing = int((ours_tokens == reference_tokens).int().cumprod(0).sum())  # leading steps alike
    for step in range(min(agreeing + 1, steps)):
        torch.testing.assert_close(ours.logits[step], reference.logits[step], rtol=0, atol=atol)


@pytest.mark.slow  # compiling the decode step takes about a minute on 2 cores
@pytest.mark.parametrize("quantization", [None, "int8", "int4"])
def test_the_compiled_decode_step_answers_as_eager_decoding(bf16_model, quantization):
    from emollm.fast_generate import enable_compiled_decoding

    eager = copy.deepcopy(bf16_model)
    quantize_llm(eager, quantization)
    compiled = copy.deepcopy(eager)
    enable_compiled_decoding(compiled, max_cache_len=64)
    torch.manual_seed(0)
    ids = torch.randint(0, 200, (1, 12))
    settings = {"max_new_tokens": 10, "min_new_tokens": 10, "do_sample": False, "output_logits": True,
                "return_dict_in_generate": True}
    with torch.inference_mode():
        first = compiled.language_model.generate(input_ids=ids, **settings)
        shorter = compiled.language_model.generate(input_ids=ids[:, :7], **settings)  # same graph, other prompt
        expected = eager.language_model.generate(input_ids=ids, **settings)
        reference = eager.language_model.generate(input_ids=ids[:, :7], **settings)
    assert compiled.language_model._compiled_call is not None  # the decode steps did run compiled
    scale = torch.stack(expected.logits).float().std()
    assert_greedy_decoding_agrees(first, expected, atol=ATOL_OF_SCALE * scale)
    assert_greedy_decoding_agrees(shorter, reference, atol=ATOL_OF_SCALE * scale)
