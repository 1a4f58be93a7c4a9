"""Weight-only int8 linear layers on PyTorch's own CPU kernel for that format
(`torch._weight_int8pack_mm`: int8 weights, one scale per output channel, activations in bf16/fp16/fp32;
what Inductor lowers torchao's int8 weight-only pattern to). Called directly it is fast in eager mode
too, so decoding reads half the bytes of bf16 without a compile step."""

from __future__ import annotations

import torch
from torch import nn


class Int8WeightOnlyLinear(nn.Module):
    """`nn.Linear` with int8 weights (per-output-channel scales) for inference."""

    KERNEL_MAX_ROWS = 8  # decoding steps (a few rows) take the int8 kernel; longer inputs dequantize

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor | None, dtype: torch.dtype):
        super().__init__()
        weight = weight.detach().float()
        scales = weight.abs().amax(dim=1).clamp(min=1e-12) / 127.0
        self.register_buffer("weight", torch.round(weight / scales[:, None]).clamp(-127, 127).to(torch.int8))
        self.register_buffer("scales", scales.to(dtype))
        self.register_buffer("bias", None if bias is None else bias.detach().to(dtype))
        self.in_features, self.out_features = weight.shape[1], weight.shape[0]

    @classmethod
    def from_linear(cls, linear: nn.Linear) -> Int8WeightOnlyLinear:
        return cls(linear.weight, linear.bias, linear.weight.dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        flat = x.reshape(-1, self.in_features).to(self.scales.dtype)
        if flat.shape[0] <= self.KERNEL_MAX_ROWS:
            out = torch._weight_int8pack_mm(flat.contiguous(), self.weight, self.scales)
            if self.bias is not None:
                out = out + self.bias
        else:  # a prefill: compute-bound, where the bf16 GEMM beats the int8 kernel (benchmarks/cpu_latency.py)
            out = nn.functional.linear(flat, self.weight.to(flat.dtype) * self.scales[:, None], self.bias)
        return out.reshape(*x.shape[:-1], self.out_features)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, int8 weight-only"


def quantize_int8_weight_only(module: nn.Module) -> int:
    """Replace every `nn.Linear` under `module` (in place) by `Int8WeightOnlyLinear`; returns how many.
    A tied output layer gets its own int8 copy, the input embedding stays as it was."""
    targets = [(name, child) for name, child in module.named_modules() if isinstance(child, nn.Linear)]
    for name, linear in targets:
        parent_name, _, attribute = name.rpartition(".")
        parent = module.get_submodule(parent_name) if parent_name else module
        setattr(parent, attribute, Int8WeightOnlyLinear.from_linear(linear))
    if targets and hasattr(module, "config") and getattr(module.config, "tie_word_embeddings", False):
        module.config.tie_word_embeddings = False  # the output layer is no longer the embedding matrix
    return len(targets)
