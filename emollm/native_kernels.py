"""Our CPU kernels for AVX512-BF16 (emollm/kernels/cpu_kernels.cpp: int4 / int8 weight-only products,
decoding attention, RMSNorm), compiled by PyTorch's C++ extension builder (`make install`, else on
first use) and cached by it (`TORCH_EXTENSIONS_DIR`, default ~/.cache/torch_extensions; about 20-30 s
once). Where they can't run (not an x86 CPU with AVX512-BF16 on Linux, no C++ compiler)
`native_kernels()` is None and PyTorch's own operations serve.

The source's OpenMP loops run on PyTorch's own thread pool: the extension links libgomp, which the
loader resolves to the copy torch already loaded (the same soname), so `torch.set_num_threads`
governs both.
"""

from __future__ import annotations

import functools
import logging
import platform
from pathlib import Path

import torch

from emollm.dtypes import cpu_flags

logger = logging.getLogger(__name__)

SOURCE = Path(__file__).with_name("kernels") / "cpu_kernels.cpp"
CPU_FLAGS = ("avx512bw", "avx512_bf16")  # /proc/cpuinfo's names


def cpu_has_flags() -> bool:
    return set(CPU_FLAGS) <= cpu_flags()


@functools.cache
def native_kernels():
    """The compiled extension (`int4_matmul`, `int4_dequantize`, `int8_matmul`, `int8_unpack`,
    `decode_attention`, `rms_norm`), or None where it can't run. The same functions are registered
    as PyTorch operators (`torch.ops.emollm.*`), which `torch.compile` traces through without a graph
    break; `kernel_function` picks one or the other."""
    if platform.system() != "Linux" or platform.machine() not in ("x86_64", "AMD64") or not cpu_has_flags():
        return None
    try:
        from torch.utils.cpp_extension import load

        # one build per torch version: a module built against another torch's headers must not load
        name = "emollm_cpu_kernels_torch" + "".join(c if c.isalnum() else "_" for c in torch.__version__)
        kernel = load(name=name, sources=[str(SOURCE)], extra_cflags=["-O3", "-fopenmp"], extra_ldflags=["-fopenmp"])
    except Exception as error:  # no compiler, a failed build: PyTorch's slower operations still answer
        logger.warning("our CPU kernels for AVX512-BF16 could not be built (%s); PyTorch's operations are used", error)
        return None
    if not kernel.supported():
        return None
    _register_operators(kernel)
    return kernel


def _register_operators(kernel) -> None:
    @torch.library.custom_op("emollm::int4_matmul", mutates_args=())
    def int4_matmul(x: torch.Tensor, codes: torch.Tensor, scales: torch.Tensor, zeros: torch.Tensor) -> torch.Tensor:
        return kernel.int4_matmul(x, codes, scales, zeros)

    @int4_matmul.register_fake
    def _(x, codes, scales, zeros):
        return x.new_empty(x.shape[0], codes.shape[0] * codes.shape[2])

    @torch.library.custom_op("emollm::int8_matmul", mutates_args=())
    def int8_matmul(x: torch.Tensor, codes: torch.Tensor, scales: torch.Tensor) -> torch.Tensor:
        return kernel.int8_matmul(x, codes, scales)

    @int8_matmul.register_fake
    def _(x, codes, scales):
        return x.new_empty(x.shape[0], codes.shape[0] * codes.shape[2])

    @torch.library.custom_op("emollm::int4_dequantize", mutates_args=())
    def int4_dequantize(in_features: int, codes: torch.Tensor, scales: torch.Tensor,
                        zeros: torch.Tensor) -> torch.Tensor:
        return kernel.int4_dequantize(in_features, codes, scales, zeros)

    @int4_dequantize.register_fake
    def _(in_features, codes, scales, zeros):
        return scales.new_empty(codes.shape[0] * codes.shape[2], in_features)

    @torch.library.custom_op("emollm::int8_unpack", mutates_args=())
    def int8_unpack(codes: torch.Tensor) -> torch.Tensor:
        return kernel.int8_unpack(codes)

    @int8_unpack.register_fake
    def _(codes):
        return codes.new_empty(codes.shape[0] * codes.shape[2], codes.shape[1] * codes.shape[3], dtype=torch.bfloat16)

    @torch.library.custom_op("emollm::decode_attention", mutates_args=())
    def decode_attention(query: torch.Tensor, key: torch.Tensor, value: torch.Tensor, mask: torch.Tensor | None,
                         scaling: float) -> torch.Tensor:
        return kernel.decode_attention(query, key, value, mask, scaling)

    @decode_attention.register_fake
    def _(query, key, value, mask, scaling):
        return torch.empty_like(query)

    @torch.library.custom_op("emollm::rms_norm", mutates_args=())
    def rms_norm(x: torch.Tensor, weight: torch.Tensor, eps: float) -> torch.Tensor:
        return kernel.rms_norm(x, weight, eps)

    @rms_norm.register_fake
    def _(x, weight, eps):
        return torch.empty_like(x)


# below this many weights a layer stays on PyTorch's kernels: their fixed cost per call is lower, and
# at that size it decides (the tiny model's int4 decoding: 946 tokens/s on PyTorch's, 461 on ours)
MIN_WEIGHTS = 2**18


def can_run(linear, in_features_multiple: int) -> bool:
    """Whether our kernels can take this linear layer here: bf16 weights, `in_features` a multiple
    of `in_features_multiple`, the kernels built."""
    return (linear.weight.dtype == torch.bfloat16 and linear.in_features % in_features_multiple == 0
            and native_kernels() is not None)


def kernel_function(name: str):
    """The kernel's function `name`: the extension's own in eager mode (about 4 us a call less than
    the operator's dispatch), the registered operator while `torch.compile` traces."""
    return getattr(torch.ops.emollm, name) if torch.compiler.is_compiling() else getattr(native_kernels(), name)
