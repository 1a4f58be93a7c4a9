"""`matmul_softmax`: an attention function for the towers on a CPU, registered with transformers'
`AttentionInterface` so a tower switches to it by name (`set_attn_implementation`).

PyTorch's CPU `scaled_dot_product_attention` (its flash kernel) runs the towers' attention at about
120 GFLOP/s on 2 cores in bf16, a quarter to a third of the towers' time for a 10 s clip although it
is under 5 % of their FLOPs. Two batched matmuls around a softmax in the inputs' dtype (PyTorch's CPU
softmax accumulates reduced-precision inputs in float32) run the same shapes about twice as fast
(CLIP-L on 8 frames: 17.6 -> 9.5 ms a layer; Whisper on 10 s: 7.6 -> 3.6 ms). It is transformers'
own eager attention without the float32 copy of the scores that CLIP's and ViT's eager version
makes, for encoders only: no causal mask, no KV cache, no dropout.
"""

from __future__ import annotations

import torch
from transformers import AttentionInterface

NAME = "matmul_softmax"


def matmul_softmax_attention(module, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
                             attention_mask: torch.Tensor | None, scaling: float | None = None,
                             dropout: float = 0.0, **kwargs) -> tuple[torch.Tensor, None]:
    """(batch, heads, positions, head_dim) queries, keys and values -> (batch, positions, heads,
    head_dim), as every `AttentionInterface` function returns it."""
    if module.training and dropout:
        raise ValueError(f"{NAME} attention is for inference: it has no dropout")
    if scaling is None:
        scaling = query.shape[-1] ** -0.5
    scores = torch.matmul(query * scaling, key.transpose(-1, -2))
    if attention_mask is not None:
        scores = scores + attention_mask[..., : key.shape[-2]]
    weights = torch.softmax(scores, dim=-1)
    return torch.matmul(weights, value).transpose(1, 2).contiguous(), None


AttentionInterface.register(NAME, matmul_softmax_attention)
