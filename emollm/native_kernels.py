"""Our int4 and int8 weight-only kernels for AVX512-BF16 (emollm/kernels/weight_only_matvec.cpp),
compiled on first use with PyTorch's C++ extension builder and cached by it (`TORCH_EXTENSIONS_DIR`,
default ~/.cache/torch_extensions; about 20-30 s once). Where they can't run (not an x86 CPU with
AVX512-BF16 on Linux, no C++ compiler) `native_kernels()` is None and PyTorch's own kernels serve.

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

logger = logging.getLogger(__name__)

SOURCE = Path(__file__).with_name("kernels") / "weight_only_matvec.cpp"
CPU_FLAGS = ("avx512bw", "avx512_bf16")  # /proc/cpuinfo's names


def _cpu_has_flags() -> bool:
    try:
        flags = next(line for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("flags"))
    except (OSError, StopIteration):
        return False
    return all(flag in flags.split() for flag in CPU_FLAGS)


@functools.cache
def native_kernels():
    """The compiled extension, or None where it can't run. Its functions are registered as the
    PyTorch operators `emollm::int4_matmul`, `emollm::int4_dequantize` and `emollm::int8_matmul`
    (what `torch.compile` traces through without a graph break); call those."""
    if platform.system() != "Linux" or platform.machine() not in ("x86_64", "AMD64") or not _cpu_has_flags():
        return None
    try:
        from torch.utils.cpp_extension import load

        # one build per torch version: a module built against another torch's headers must not load
        name = "emollm_weight_only_matvec_torch" + "".join(c if c.isalnum() else "_" for c in torch.__version__)
        kernel = load(name=name, sources=[str(SOURCE)], extra_cflags=["-O3", "-fopenmp"], extra_ldflags=["-fopenmp"])
    except Exception as error:  # no compiler, a failed build: the slower kernel still answers
        logger.warning("weight-only kernels for AVX512-BF16 could not be built (%s); PyTorch's are used", error)
        return None
    if not kernel.supported():
        return None
    _register_operators(kernel)
    return kernel


def _register_operators(kernel) -> None:
    @torch.library.custom_op("emollm::int4_matmul", mutates_args=())
    def int4_matmul(x: torch.Tensor, codes: torch.Tensor, scales: torch.Tensor, zeros: torch.Tensor) -> torch.Tensor:
        return kernel.matmul(x, codes, scales, zeros)

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
        return kernel.dequantize(in_features, codes, scales, zeros)

    @int4_dequantize.register_fake
    def _(in_features, codes, scales, zeros):
        return scales.new_empty(codes.shape[0] * codes.shape[2], in_features)
