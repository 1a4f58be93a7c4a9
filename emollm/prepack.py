"""Linear layers with their weights laid out once for oneDNN, for inference on a CPU.

An eager `nn.Linear` hands oneDNN a plain row-major weight on every call. For one decoded token
(a matrix-vector product) that reads the weight far below the memory bandwidth, and the towers'
and the prefill's GEMMs lose 10-20 % to it. Inductor's `freezing` fixes this in compiled graphs
by reordering each weight once into oneDNN's blocked layout (`torch.ops.mkldnn._reorder_linear_weight`)
and calling `torch.ops.mkldnn._linear_pointwise` on it; `PrepackedLinear` does the same in eager
mode, so the model needs no compile step. Measured on 2 cores (bf16, weights larger than the
cache): a decoding step's matrix-vector products read 66 GB/s instead of 23 GB/s, a 2056-row GEMM
runs at 920 instead of 770 GFLOP/s (benchmarks/cpu_latency.py times the served model with and
without it).

Only for inference: the packed weight is an opaque oneDNN tensor, neither a parameter nor a
buffer, so it takes no gradient, is never saved, and the model's `state_dict` loses the layer's
weight. emollm.cpu_inference applies it after anything that hashes or compiles the weights.
"""

from __future__ import annotations

import logging

import torch
from torch import nn

from emollm.weight_only import replace_linear_layers

logger = logging.getLogger(__name__)


def packable_dtypes() -> frozenset[torch.dtype]:
    """The weight dtypes oneDNN computes on this CPU (bf16 and fp16 need the instructions)."""
    if not torch.backends.mkldnn.is_available():
        return frozenset()
    dtypes = {torch.float32}
    if torch.ops.mkldnn._is_mkldnn_bf16_supported():
        dtypes.add(torch.bfloat16)
    if torch.ops.mkldnn._is_mkldnn_fp16_supported():
        dtypes.add(torch.float16)
    return frozenset(dtypes)


class PrepackedLinear(nn.Module):
    """`nn.Linear` on a weight reordered once into oneDNN's layout; the same kernels, so the same
    outputs up to the order of float additions (bit-identical in bf16 in our tests)."""

    BATCH_HINT = 1  # the layout is chosen for one row, a decoding step; larger inputs run as fast (measured)

    def __init__(self, linear: nn.Linear):
        super().__init__()
        self.in_features, self.out_features = linear.in_features, linear.out_features
        weight = linear.weight.detach()
        self.packed_weight = torch.ops.mkldnn._reorder_linear_weight(weight.contiguous(), self.BATCH_HINT)
        self.bias = None if linear.bias is None else linear.bias.detach().to(weight.dtype)

    @classmethod
    def supports(cls, linear: nn.Linear) -> bool:
        return linear.weight.device.type == "cpu" and linear.weight.dtype in packable_dtypes()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.ops.mkldnn._linear_pointwise(x.contiguous(), self.packed_weight, self.bias, "none", [], "")

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}, prepacked"


def prepack_linear_layers(module: nn.Module) -> int:
    """Replace every `nn.Linear` under `module` whose dtype oneDNN computes here by a
    `PrepackedLinear`, in place; returns how many were replaced."""
    replaced, kept = replace_linear_layers(module, lambda name, linear, is_output: PrepackedLinear)
    if kept:
        logger.info("prepacking: %d linear layers kept as they were (dtype or device oneDNN doesn't take here)",
                    len(kept))
    return replaced

