"""The LLM's RMSNorm in one call of our extension (`rms_norm` in emollm/kernels/cpu_kernels.cpp),
for bf16 models on CPUs with AVX512-BF16.

transformers' Llama-family RMSNorm is eight aten operations (a float32 copy, a square, a mean, an
add, a reciprocal root, a product, a cast back, the weight's product). On a decoding step each
costs far more in dispatch than in arithmetic: 57 norms a token of nano-2b took about 2.7 ms of a
37 ms int4 step. PyTorch's `F.rms_norm` is no faster on the CPU (it decomposes; measured slower in
the model). The kernel rounds where transformers' does (the normalised row to bf16, then the
product with the weight), so outputs are the same up to the order of the mean's additions (tested).
"""

from __future__ import annotations

import torch
from torch import nn

from emollm.native_kernels import kernel_function, native_kernels

RMS_NORM_CLASSES = frozenset({"Qwen2RMSNorm", "LlamaRMSNorm", "Qwen3RMSNorm", "MistralRMSNorm"})


class FusedRMSNorm(nn.Module):
    """A transformers RMSNorm (`weight`, `variance_epsilon`) as one kernel call; bf16 only."""

    def __init__(self, norm: nn.Module):
        super().__init__()
        self.weight = norm.weight
        self.variance_epsilon = norm.variance_epsilon

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return kernel_function("rms_norm")(hidden_states.contiguous(), self.weight, self.variance_epsilon)

    def extra_repr(self) -> str:
        return f"{tuple(self.weight.shape)}, eps={self.variance_epsilon}, one kernel call"


def fuse_rms_norms(module: nn.Module) -> int:
    """Replace the bf16 RMSNorms (by class name) under `module` in place where our kernels run;
    returns how many were replaced."""
    targets = [name for name, child in module.named_modules()
               if type(child).__name__ in RMS_NORM_CLASSES and child.weight.dtype == torch.bfloat16]
    if not targets or native_kernels() is None:  # (a float32 model never builds the kernels)
        return 0
    for name in targets:
        module.set_submodule(name, FusedRMSNorm(module.get_submodule(name)))
    return len(targets)
