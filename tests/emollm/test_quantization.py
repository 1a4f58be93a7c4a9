"""`--quantization int8`: the LLM's linear layers as weight-only int8 on PyTorch's CPU kernel, with
outputs close to the bf16 model's; and the compiled decode step (static cache) answering exactly as
eager decoding does."""

from __future__ import annotations

import argparse
import copy

import pytest
import torch
from torch import nn

from emollm.int8_linear import Int8WeightOnlyLinear, quantize_int8_weight_only
from emollm.quantization import add_quantization_argument, quantize_llm


@pytest.mark.parametrize("rows", [1, 3, 40])  # decoding steps take the int8 kernel, a prefill dequantizes
def test_int8_linear_is_close_to_the_bf16_one(rows):
    torch.manual_seed(0)
    linear = nn.Linear(96, 160).to(torch.bfloat16)
    x = torch.randn(2, rows, 96, dtype=torch.bfloat16)
    quantized = Int8WeightOnlyLinear.from_linear(linear)
    assert quantized.weight.dtype == torch.int8 and quantized.scales.shape == (160,)
    with torch.no_grad():
        reference, ours = linear(x).float(), quantized(x).float()
    assert ours.shape == reference.shape
    relative = (ours - reference).norm() / reference.norm()
    assert relative < 0.02, relative


@pytest.fixture(scope="module")
def bf16_model(tiny_model_dir):
    from emollm import EmoLLMForConditionalGeneration

    return EmoLLMForConditionalGeneration.from_pretrained(tiny_model_dir, dtype=torch.bfloat16).eval()


def test_quantize_llm_replaces_every_llm_linear_and_keeps_the_logits(bf16_model):
    model = copy.deepcopy(bf16_model)
    quantize_llm(model, "int8")
    linears = [m for m in model.language_model.modules() if isinstance(m, nn.Linear)]
    int8 = [m for m in model.language_model.modules() if isinstance(m, Int8WeightOnlyLinear)]
    assert not linears and len(int8) == 7 * model.config.text_config.num_hidden_layers + 1  # + lm_head
    assert any(isinstance(m, nn.Linear) for m in model.towers.modules())  # the towers keep their dtype
    ids = torch.randint(0, 200, (2, 24))
    with torch.no_grad():
        reference = bf16_model.language_model(input_ids=ids).logits.float()
        ours = model.language_model(input_ids=ids).logits.float()
    cosine = nn.functional.cosine_similarity(ours.flatten(1), reference.flatten(1)).min()
    assert cosine > 0.99, cosine
    assert (ours.argmax(-1) == reference.argmax(-1)).float().mean() > 0.9


def test_unknown_quantization_is_refused_by_name(bf16_model):
    with pytest.raises(ValueError, match="--quantization 'int4'"):
        quantize_llm(bf16_model, "int4")
    parser = argparse.ArgumentParser()
    add_quantization_argument(parser)
    assert parser.parse_args([]).quantization is None
    assert parser.parse_args(["--quantization", "int8"]).quantization == "int8"
    with pytest.raises(SystemExit):
        parser.parse_args(["--quantization", "int4"])


def test_a_tied_output_layer_gets_its_own_int8_copy():
    from transformers import Qwen2Config, Qwen2ForCausalLM

    config = Qwen2Config(vocab_size=128, hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                         num_attention_heads=2, num_key_value_heads=1, tie_word_embeddings=True)
    model = Qwen2ForCausalLM(config).eval()
    embedding = model.get_input_embeddings().weight.detach().clone()
    assert quantize_int8_weight_only(model) == 8
    assert isinstance(model.lm_head, Int8WeightOnlyLinear)
    torch.testing.assert_close(model.get_input_embeddings().weight, embedding)  # input embeddings untouched


@pytest.mark.slow  # compiling the decode step takes about a minute on 2 cores
@pytest.mark.parametrize("quantization", [None, "int8"])
def test_the_compiled_decode_step_answers_as_eager_decoding(bf16_model, quantization):
    from emollm.fast_generate import enable_compiled_decoding

    eager = copy.deepcopy(bf16_model)
    quantize_llm(eager, quantization)
    compiled = copy.deepcopy(eager)
    enable_compiled_decoding(compiled, max_cache_len=64)
    ids = torch.randint(0, 200, (1, 12))
    settings = {"max_new_tokens": 10, "min_new_tokens": 10, "do_sample": False}
    with torch.inference_mode():
        expected = eager.language_model.generate(input_ids=ids, **settings)
        first = compiled.language_model.generate(input_ids=ids, **settings)
        shorter = compiled.language_model.generate(input_ids=ids[:, :7], **settings)  # same graph, other prompt
    assert compiled.language_model._compiled_call is not None  # the decode steps did run compiled
    torch.testing.assert_close(first, expected, rtol=0, atol=0)
    reference = eager.language_model.generate(input_ids=ids[:, :7], **settings)
    torch.testing.assert_close(shorter, reference, rtol=0, atol=0)
