import argparse

import pytest
import torch

from emollm.dtypes import add_dtype_argument, cpu_has_native_bf16, resolve_dtype

AVX512_BF16 = "processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f avx512_bf16 amx_tile\n"
AVX2_ONLY = "processor\t: 0\nflags\t\t: fpu sse2 avx2 fma\n"


def test_native_bf16_is_read_from_the_cpu_flags():
    assert cpu_has_native_bf16(AVX512_BF16)
    assert not cpu_has_native_bf16(AVX2_ONLY)


def test_explicit_values_name_torch_dtypes():
    assert resolve_dtype("bfloat16") is torch.bfloat16
    assert resolve_dtype("float16") is torch.float16
    assert resolve_dtype("float32") is torch.float32


def test_auto_on_this_cpu_matches_its_flags():
    expected = torch.bfloat16 if cpu_has_native_bf16() else torch.float32
    assert not torch.cuda.is_available()
    assert resolve_dtype("auto") is expected


def test_the_flag_takes_vllm_values_only():
    parser = argparse.ArgumentParser()
    add_dtype_argument(parser)
    assert parser.parse_args([]).dtype == "auto"
    assert parser.parse_args(["--dtype", "float32"]).dtype == "float32"
    with pytest.raises(SystemExit):
        parser.parse_args(["--dtype", "half"])
    with pytest.raises(ValueError, match="--dtype"):
        resolve_dtype("fp8")
