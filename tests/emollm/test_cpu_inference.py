"""A model loaded to answer on a CPU (emollm.cpu_inference): prepacked linear layers compute what
`nn.Linear` does, the towers' matmul-softmax attention and the LLM's decoding attention what SDPA
does, glibc keeps freed memory,
and the serving engine and `emollm eval` apply it after hashing the towers' weights."""

from __future__ import annotations

import copy
import json
import os
import platform
import subprocess
import sys

import pytest
import torch
from torch import nn

from emollm.cpu_inference import optimize_for_cpu
from emollm.decode_attention import NAME as DECODE_ATTENTION
from emollm.decode_attention import decode_matmul_attention
from emollm.encoder_attention import NAME as TOWER_ATTENTION
from emollm.encoder_attention import matmul_softmax_attention
from emollm.prepack import (
    MLP_BLOCKS,
    PrepackedLinear,
    fuse_mlp_activations,
    packable_dtypes,
    prepack_linear_layers,
)

DTYPES = sorted(packable_dtypes(), key=str)
TOLERANCE = {torch.float32: 1e-5, torch.bfloat16: 0.0, torch.float16: 1e-3}  # relative; bf16 measured exact
ROUNDING = {torch.float32: 1e-5, torch.bfloat16: 2e-2, torch.float16: 2e-3}  # a change of summation order


def relative_error(ours: torch.Tensor, reference: torch.Tensor) -> float:
    return ((ours.float() - reference.float()).norm() / reference.float().norm()).item()


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
        reference, ours = linear(x), packed(x)
        transposed = packed(x.transpose(0, 1))  # a non-contiguous input
    assert ours.shape == reference.shape
    assert relative_error(ours, reference) <= TOLERANCE[dtype]
    assert torch.allclose(transposed.float(), ours.transpose(0, 1).float(), rtol=TOLERANCE[dtype], atol=1e-6)


def test_layers_of_a_dtype_onednn_does_not_take_are_kept():
    model = nn.Sequential(nn.Linear(8, 8), nn.Linear(8, 8).to(torch.float64))
    assert prepack_linear_layers(model) == 1
    assert type(model[0]) is PrepackedLinear and type(model[1]) is nn.Linear


def _mlp_blocks():
    """One small block of each kind `MLP_BLOCKS` names, as transformers builds it, and how to call it."""
    from transformers import CLIPVisionConfig, Qwen2Config, SiglipVisionConfig, ViTConfig, WhisperConfig
    from transformers.models.clip.modeling_clip import CLIPMLP
    from transformers.models.qwen2.modeling_qwen2 import Qwen2MLP
    from transformers.models.siglip.modeling_siglip import SiglipMLP
    from transformers.models.vit.modeling_vit import ViTMLP
    from transformers.models.whisper.modeling_whisper import WhisperEncoderLayer

    width = {"hidden_size": 32, "intermediate_size": 96, "num_attention_heads": 4}
    whisper = WhisperConfig(d_model=32, encoder_ffn_dim=96, encoder_attention_heads=4, pad_token_id=0,
                            bos_token_id=1, eos_token_id=2, decoder_start_token_id=1)
    return {"CLIPMLP": (CLIPMLP(CLIPVisionConfig(**width, hidden_act="quick_gelu")), lambda b, x: b(x)),
            "SiglipMLP": (SiglipMLP(SiglipVisionConfig(**width, hidden_act="gelu")), lambda b, x: b(x)),
            "ViTMLP": (ViTMLP(ViTConfig(**width)), lambda b, x: b(x)),
            "WhisperEncoderLayer": (WhisperEncoderLayer(whisper).eval(), lambda b, x: b(x, None)[0]),
            "Qwen2MLP": (Qwen2MLP(Qwen2Config(**width)), lambda b, x: b(x))}


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("kind", sorted(MLP_BLOCKS))
def test_an_mlp_block_computes_the_same_with_its_activation_fused(kind, dtype):
    torch.manual_seed(0)
    block, call = _mlp_blocks()[kind]
    block = block.to(dtype).eval()
    layout = MLP_BLOCKS[kind]
    x = torch.randn(2, 7, 32, dtype=dtype)
    with torch.no_grad():
        reference = call(block, x)
        assert fuse_mlp_activations(block) == (2 if kind == "CLIPMLP" else 1)  # QuickGELU scales the next one too
        ours = call(block, x)
    assert isinstance(getattr(block, layout.activation), nn.Identity)
    assert getattr(block, layout.linear).post_op in ("silu", "gelu")
    assert relative_error(ours, reference) <= ROUNDING[dtype]


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=str)
@pytest.mark.parametrize("masked", [False, True])
def test_matmul_softmax_attention_is_scaled_dot_product_attention(dtype, masked):
    torch.manual_seed(0)
    query, key, value = (torch.randn(2, 4, 33, 16) for _ in range(3))  # (batch, heads, positions, head_dim)
    mask = torch.zeros(2, 1, 33, 33)
    mask[..., 30:] = float("-inf")  # the last keys are padding
    module = nn.Module().eval()
    reference = nn.functional.scaled_dot_product_attention(query, key, value, attn_mask=mask if masked else None,
                                                           scale=0.3).transpose(1, 2)
    ours, weights = matmul_softmax_attention(module, query.to(dtype), key.to(dtype), value.to(dtype),
                                             mask.to(dtype) if masked else None, scaling=0.3)
    assert weights is None and ours.shape == (2, 33, 4, 16) and ours.dtype == dtype
    assert relative_error(ours, reference) <= ROUNDING[dtype]


def grouped_query_inputs(positions: int, dtype: torch.dtype, head_dim: int = 16, cached: int = 17):
    """Queries of 6 heads sharing 2 key/value heads (as a KV cache holds them), 2 sequences of
    `cached` positions, the second left-padded by a third (SDPA's boolean mask: True = attend)."""
    torch.manual_seed(0)
    query = torch.randn(2, 6, positions, head_dim, dtype=dtype)
    key, value = (torch.randn(2, 2, cached, head_dim, dtype=dtype) for _ in range(2))
    mask = torch.ones(2, 1, positions, cached, dtype=torch.bool)
    mask[1, ..., :cached // 3] = False
    return query, key, value, mask


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=str)
@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize(("head_dim", "cached"), [(16, 17), (128, 40)])  # bf16 at 128: our kernel, where it runs
def test_decode_matmul_attention_is_scaled_dot_product_attention_for_one_query(dtype, masked, head_dim, cached):
    from emollm.decode_attention import kernel_takes
    from emollm.native_kernels import cpu_has_flags

    query, key, value, mask = grouped_query_inputs(1, dtype, head_dim, cached)
    mask = mask if masked else None
    # the reference in float32, each query head against its key/value head repeated as transformers' repeat_kv does
    reference = nn.functional.scaled_dot_product_attention(
        query.float(), key.float().repeat_interleave(3, dim=1), value.float().repeat_interleave(3, dim=1),
        attn_mask=mask, scale=0.3).transpose(1, 2)
    ours, weights = decode_matmul_attention(nn.Module().eval(), query, key, value, mask, scaling=0.3)
    assert weights is None and ours.shape == (2, 1, 6, head_dim) and ours.dtype == dtype
    on_kernel = dtype == torch.bfloat16 and head_dim == 128 and cpu_has_flags() and platform.machine() == "x86_64"
    assert kernel_takes(query, key, value, mask) == on_kernel
    # the kernel keeps scores and sums in float32: one rounding to bf16, at the output
    tolerance = 4e-3 if on_kernel else ROUNDING[dtype]
    assert relative_error(ours, reference) <= tolerance
    if masked:  # the padded keys really are left out
        unmasked, _ = decode_matmul_attention(nn.Module().eval(), query, key, value, None, scaling=0.3)
        assert relative_error(unmasked[1], ours[1]) > 10 * tolerance


def test_decode_matmul_attention_leaves_a_prefill_to_sdpa():
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    query, key, value, mask = grouped_query_inputs(17, torch.bfloat16)
    module = nn.Module().eval()
    module.num_key_value_groups, module.is_causal = 3, True
    ours, _ = decode_matmul_attention(module, query, key, value, mask, scaling=0.3)
    assert torch.equal(ours, sdpa_attention_forward(module, query, key, value, mask, scaling=0.3)[0])


@pytest.mark.parametrize("shape", [(1, 1, 1536), (2, 113, 1536), (3, 40)])  # a decoding step, a prefill, a tail
def test_a_fused_rms_norm_rounds_as_transformers_does(shape):
    from transformers.models.qwen2.modeling_qwen2 import Qwen2RMSNorm

    from emollm.native_kernels import cpu_has_flags
    from emollm.rms_norm import FusedRMSNorm, fuse_rms_norms

    torch.manual_seed(0)
    reference = Qwen2RMSNorm(shape[-1], eps=1e-6).to(torch.bfloat16)
    nn.init.normal_(reference.weight)
    block = nn.Sequential(copy.deepcopy(reference))
    # where the CPU has the instructions the norm must be fused; elsewhere it stays as it was
    fused = fuse_rms_norms(block)
    assert fused == int(cpu_has_flags() and platform.machine() == "x86_64")
    assert isinstance(block[0], FusedRMSNorm) == bool(fused)
    x = (torch.randn(*shape) * 3).to(torch.bfloat16)
    with torch.no_grad():
        assert torch.equal(block(x), reference(x))
    assert fuse_rms_norms(nn.Sequential(copy.deepcopy(reference).float())) == 0  # float32: left alone


@pytest.fixture(scope="module", params=DTYPES, ids=str)
def tiny_in_dtype(request, tiny_model_dir):
    from emollm import EmoLLMForConditionalGeneration

    return EmoLLMForConditionalGeneration.from_pretrained(tiny_model_dir, dtype=request.param).eval()


def test_an_optimized_model_answers_as_the_plain_one(tiny_in_dtype):
    model = copy.deepcopy(tiny_in_dtype)
    dtype = model.dtype
    parts = {"llm": model.language_model, **model.towers}
    linears = {name: sum(isinstance(m, nn.Linear) for m in part.modules()) for name, part in parts.items()}
    assert optimize_for_cpu(model) == linears
    for part in parts.values():
        assert not any(isinstance(m, nn.Linear) for m in part.modules())
        blocks = [m for m in part.modules() if type(m).__name__ in MLP_BLOCKS]
        assert blocks and all(isinstance(getattr(m, MLP_BLOCKS[type(m).__name__].activation), nn.Identity)
                              for m in blocks)
    assert any(isinstance(m, nn.Linear) for m in model.adapters.modules())  # small: left as they are
    attention = {name: tower.config._attn_implementation for name, tower in model.towers.items()}
    assert set(attention.values()) == {TOWER_ATTENTION if dtype == torch.bfloat16 else "sdpa"}
    assert model.language_model.config._attn_implementation == DECODE_ATTENTION
    from emollm.native_kernels import native_kernels
    from emollm.rms_norm import FusedRMSNorm

    fused_norms = [m for m in model.language_model.modules() if isinstance(m, FusedRMSNorm)]
    assert len(fused_norms) == (2 * model.config.text_config.num_hidden_layers + 1
                                if dtype == torch.bfloat16 and native_kernels() is not None else 0)
    torch.manual_seed(0)
    side = model.config.frame_config.image_size
    pixels = torch.randn(1, 4, 3, side, side)
    ids = torch.randint(1, 200, (2, 12))
    padding = torch.ones_like(ids)
    padding[1, :3] = 0  # left-padded, as the engine batches prompts
    with torch.no_grad():
        reference = tiny_in_dtype.encode_towers(frames_pixel_values=pixels)["frames"]
        assert relative_error(model.encode_towers(frames_pixel_values=pixels)["frames"], reference) <= ROUNDING[dtype]
        greedy = {"max_new_tokens": 8, "min_new_tokens": 8, "do_sample": False, "pad_token_id": 0}
        expected = tiny_in_dtype.language_model.generate(input_ids=ids, attention_mask=padding, **greedy)
        assert torch.equal(model.language_model.generate(input_ids=ids, attention_mask=padding, **greedy), expected)


FAULTS_SCRIPT = """
import resource, sys, torch
if sys.argv[1] == "keep":
    from emollm.allocator import keep_freed_memory
    assert keep_freed_memory()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for megabytes in range(1, 31):  # activations of growing sizes, each freed at once
    torch.empty(megabytes * 2**20, dtype=torch.uint8).fill_(1)
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def test_keep_freed_memory_says_whether_glibc_took_the_thresholds():
    from emollm.allocator import keep_freed_memory

    assert keep_freed_memory() is (platform.system() == "Linux" and platform.libc_ver()[0] == "glibc")


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt is glibc's; elsewhere nothing is changed")
def test_freed_activations_are_reused_without_page_faults():
    faults = {mode: int(subprocess.run([sys.executable, "-c", FAULTS_SCRIPT, mode], capture_output=True, text=True,
                                       check=True).stdout.split()[-1]) for mode in ("default", "keep")}
    touched_pages = sum(range(1, 31)) * 2**20 // 4096
    # glibc's defaults map each block larger than any freed before from the kernel, and every page faults;
    # kept memory is reused, so only the heap's growth to the largest block faults
    assert faults["default"] > 0.8 * touched_pages
    assert faults["keep"] < 0.35 * touched_pages  # measured 0.11-0.20: the heap grows in steps, not once


def test_the_engine_optimizes_after_hashing_the_towers(tiny_model_dir):
    from emollm.feature_cache import model_fingerprint
    from emollm.inference import load_model_dir
    from serve.engine import Engine

    plain, _ = load_model_dir(tiny_model_dir)
    engines = {on: Engine.from_pretrained(tiny_model_dir, cpu_optimizations=on) for on in (True, False)}
    try:
        counts = {on: sum(isinstance(m, PrepackedLinear) for m in e.model.modules()) for on, e in engines.items()}
        assert counts[False] == 0 and counts[True] > 0
        # the feature cache's key of a clip does not depend on how the weights are laid out
        assert engines[True].fingerprint == engines[False].fingerprint == model_fingerprint(plain)
    finally:
        for engine in engines.values():
            engine.close()


def test_eval_records_whether_it_ran_optimized_and_never_mixes(tiny_model_dir, media_dir, tmp_path, capsys):
    from data_pipeline.converters.base import make_record
    from data_pipeline.errors import UserFacingError
    from data_pipeline.schema import Labels, write_records
    from data_pipeline.tasks import Task
    from emollm.cli import run

    records = tmp_path / "records.jsonl"
    write_records(records, [make_record("a", "clips", "test", Task.MER, video=media_dir / "clip.mp4",
                                        labels=Labels(emotion="happy"))])
    out = tmp_path / "eval"
    common = ["eval", "--model", str(tiny_model_dir), "--data", str(records), "--out", str(out), "--max-new-tokens",
              "MER=4", "--dtype", "float32"]
    assert run(common + ["--no-cpu-optimizations"]) == 0
    assert json.loads((out / "eval_state.json").read_text())["cpu_optimizations"] is False
    with pytest.raises(UserFacingError, match="cpu_optimizations"):
        run(common)
    capsys.readouterr()


FLAG_SCRIPT = """
import argparse, os, sys
from emollm.dtypes import cpu_optimizations_on
off = cpu_optimizations_on(argparse.Namespace(no_cpu_optimizations=True))
print(off, os.environ.get("THP_MEM_ALLOC_ENABLE"))
on = cpu_optimizations_on(argparse.Namespace(no_cpu_optimizations=False))
print(on, os.environ.get("THP_MEM_ALLOC_ENABLE"), "torch" in sys.modules)
"""

LATE_SCRIPT = """
import torch
from emollm.allocator import huge_pages_for_tensors
print(huge_pages_for_tensors())
"""


def test_the_commands_turn_huge_pages_on_before_torch_unless_told_not_to():
    env = {k: v for k, v in os.environ.items() if k != "THP_MEM_ALLOC_ENABLE"}
    flag = subprocess.run([sys.executable, "-c", FLAG_SCRIPT], capture_output=True, text=True, check=True, env=env)
    assert flag.stdout.split("\n")[:2] == ["False None", "True 1 False"]
    late = subprocess.run([sys.executable, "-c", LATE_SCRIPT], capture_output=True, text=True, check=True, env=env)
    assert late.stdout.strip() == "False"  # torch already imported: too late, and said so


HUGE_PAGES_SCRIPT = """
from emollm.allocator import huge_pages_for_tensors
assert huge_pages_for_tensors()
import torch
weights = torch.ones(2**24)  # 64 MB
try:
    print(open("/proc/self/smaps_rollup").read().split("AnonHugePages:")[1].split()[0])  # kB
except OSError:  # no /proc (not Linux): no transparent huge pages either
    print(0)
"""


def _transparent_huge_pages() -> str:
    path = "/sys/kernel/mm/transparent_hugepage/enabled"
    try:
        return open(path).read().split("[")[1].split("]")[0]
    except (OSError, IndexError):
        return "absent"


def test_large_tensors_sit_on_huge_pages_in_the_commands_that_answer():
    out = subprocess.run([sys.executable, "-c", HUGE_PAGES_SCRIPT], capture_output=True, text=True, check=True,
                         env={k: v for k, v in os.environ.items() if k != "THP_MEM_ALLOC_ENABLE"})
    huge_kb = int(out.stdout.split()[-1])
    if _transparent_huge_pages() in ("madvise", "always"):  # as here and in CI
        assert huge_kb >= 32 * 1024  # at least half of the 64 MB tensor on 2 MB pages
    else:  # the kernel gives none ("never", or no Linux): the variable changes nothing, and nothing breaks
        assert huge_kb == 0


def test_prepacked_weights_still_count_towards_the_thread_default():
    from emollm.evaluation.answering import SMALL_MODEL_PARAMETERS, default_threads

    model = nn.Sequential(nn.Linear(1024, SMALL_MODEL_PARAMETERS // 1024 + 1, bias=False), nn.LayerNorm(8))
    assert default_threads(model) == torch.get_num_threads()  # not a small model: every core
    prepack_linear_layers(model)
    assert default_threads(model) == torch.get_num_threads()
