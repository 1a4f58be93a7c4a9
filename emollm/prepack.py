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

An MLP's activation runs inside its first linear layer as a oneDNN post-op (`fuse_mlp_activations`),
which saves the separate passes over the block's widest activation: for CLIP's QuickGELU, three
(a multiply, a sigmoid, a multiply over 2056 x 4096 values a layer on 8 frames).

Only for inference: the packed weight is an opaque oneDNN tensor, neither a parameter nor a
buffer, so it takes no gradient, is never saved, and the model's `state_dict` loses the layer's
weight. emollm.cpu_inference applies it after anything that hashes or compiles the weights.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass

import torch
from torch import nn
from transformers import activations

from emollm.weight_only import replace_linear_layers

logger = logging.getLogger(__name__)


@functools.cache  # asked once per linear layer; the answer is the CPU's
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
    outputs up to the order of float additions (bit-identical in bf16 in our tests). `post_op`:
    an activation applied to the output inside the kernel (a key of `POST_OPS`); `weight_scale`,
    `bias_scale`: factors folded into the weight and the bias (in float32, rounded once)."""

    BATCH_HINT = 1  # the layout is chosen for one row, a decoding step; larger inputs run as fast (measured)

    def __init__(self, linear: nn.Linear, post_op: str = "none", weight_scale: float = 1.0, bias_scale: float = 1.0):
        super().__init__()
        self.in_features, self.out_features, self.post_op = linear.in_features, linear.out_features, post_op
        self.attr, self.algorithm = POST_OPS[post_op]
        dtype = linear.weight.dtype
        weight = (linear.weight.detach().float() * weight_scale).to(dtype) if weight_scale != 1.0 else linear.weight.detach()
        self.packed_weight = torch.ops.mkldnn._reorder_linear_weight(weight.contiguous(), self.BATCH_HINT)
        self.bias = None if linear.bias is None else (linear.bias.detach().float() * bias_scale).to(dtype)

    @classmethod
    def supports(cls, linear: nn.Linear) -> bool:
        return linear.weight.device.type == "cpu" and linear.weight.dtype in packable_dtypes()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.ops.mkldnn._linear_pointwise(x.contiguous(), self.packed_weight, self.bias, self.attr, [],
                                                  self.algorithm)

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}, "
                f"prepacked{'' if self.post_op == 'none' else ', then ' + self.post_op}")


# activations oneDNN applies to a linear layer's output in the same kernel: name -> (attr, algorithm) of
# `torch.ops.mkldnn._linear_pointwise`
POST_OPS = {"none": ("none", ""), "silu": ("swish", ""), "gelu": ("gelu", "none")}
QUICK_GELU_ALPHA = 1.702  # QuickGELU(z) = z * sigmoid(1.702 z) = silu(1.702 z) / 1.702


@dataclass(frozen=True)
class MLPBlock:
    """Where a block's activation sits: applied to the output of `linear` (and only there), then
    fed to `next_linear` (None: it goes elsewhere first)."""

    linear: str
    activation: str
    next_linear: str | None = None


# transformers' MLP blocks of the towers and the LLM, by class name
MLP_BLOCKS = {
    "CLIPMLP": MLPBlock("fc1", "activation_fn", "fc2"),
    "SiglipMLP": MLPBlock("fc1", "activation_fn", "fc2"),
    "ViTMLP": MLPBlock("fc1", "activation_fn", "fc2"),
    "WhisperEncoderLayer": MLPBlock("fc1", "activation_fn", "fc2"),
    "Qwen2MLP": MLPBlock("gate_proj", "act_fn"),
}


def _post_op(activation: nn.Module) -> str | None:
    """The post-op an activation module computes, "quick_gelu", or None."""
    if isinstance(activation, activations.SiLUActivation | nn.SiLU):
        return "silu"
    if isinstance(activation, activations.GELUActivation) and activation.act is nn.functional.gelu:
        return "gelu"
    if isinstance(activation, nn.GELU) and activation.approximate == "none":
        return "gelu"
    if isinstance(activation, activations.QuickGELUActivation):
        return "quick_gelu"
    return None


def fuse_mlp_activations(module: nn.Module) -> int:
    """Move the activation of every known MLP block under `module` into its first linear layer,
    prepacked, and make the activation an identity; returns how many linear layers were replaced. QuickGELU
    becomes silu on the layer's weights scaled by 1.702, with 1 / 1.702 folded into the next layer's
    weights (each rounded once to the weights' dtype)."""
    fused = 0
    for block in list(module.modules()):
        layout = MLP_BLOCKS.get(type(block).__name__)
        if layout is None:
            continue
        linear, activation = getattr(block, layout.linear), getattr(block, layout.activation)
        post_op = _post_op(activation)
        if type(linear) is not nn.Linear or not PrepackedLinear.supports(linear) or post_op is None:
            continue
        if post_op == "quick_gelu":
            following = getattr(block, layout.next_linear) if layout.next_linear else None
            if type(following) is not nn.Linear or not PrepackedLinear.supports(following):
                continue
            setattr(block, layout.linear, PrepackedLinear(linear, "silu", QUICK_GELU_ALPHA, QUICK_GELU_ALPHA))
            setattr(block, layout.next_linear, PrepackedLinear(following, weight_scale=1 / QUICK_GELU_ALPHA))
            fused += 1
        else:
            setattr(block, layout.linear, PrepackedLinear(linear, post_op))
        setattr(block, layout.activation, nn.Identity())
        fused += 1
    return fused


def prepack_linear_layers(module: nn.Module) -> int:
    """Replace every `nn.Linear` under `module` whose dtype oneDNN computes here by a
    `PrepackedLinear`, in place, with the MLPs' activations fused (`fuse_mlp_activations`);
    returns how many linear layers were replaced."""
    fused = fuse_mlp_activations(module)
    replaced, kept = replace_linear_layers(module, lambda name, linear, is_output: PrepackedLinear)
    if kept:
        logger.info("prepacking: %d linear layers kept as they were (dtype or device oneDNN doesn't take here)",
                    len(kept))
    return replaced + fused

