"""`decode_matmul`: the LLM's attention on a CPU, registered with transformers' `AttentionInterface`
(and its mask with `AttentionMaskInterface`) so the LLM switches to it by name.

A decoding step attends one query per sequence to the cached keys. PyTorch's CPU
`scaled_dot_product_attention` (its flash kernel) spends far more on that than the arithmetic needs,
and more the longer the cache. In bf16 with heads of up to 128 (where the CPU has AVX512-BF16) a
step is one call of our kernel (`decode_attention` in emollm/kernels/cpu_kernels.cpp: scores,
softmax and sums in float32); elsewhere two small matmuls around a float32 softmax (transformers'
eager attention, without copying the keys and values for each query head). Per layer of nano-2b's
LLM (12 query heads on 2 key/value heads, bf16, 2 cores; benchmarks/decode_attention.py), SDPA
takes 261 us at 200 cached tokens, 1203 at 1000 and 4658 at 4000, the matmuls 67, 122 and 182 us,
the kernel 14, 43 and 211 us. In the model the matmuls cost more than that: oneDNN creates a new
primitive for each new cache length (measured: the first layer's score matmul took about 1 ms of
each token), which the kernel never needs. A prefill (more than one query) keeps SDPA, which never
builds the full score matrix.
"""

from __future__ import annotations

import torch
from transformers import AttentionInterface
from transformers.integrations.sdpa_attention import sdpa_attention_forward
from transformers.masking_utils import AttentionMaskInterface, sdpa_mask

from emollm.native_kernels import kernel_function, native_kernels

NAME = "decode_matmul"


def decode_matmul_attention(module, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
                            attention_mask: torch.Tensor | None, scaling: float | None = None,
                            dropout: float = 0.0, **kwargs) -> tuple[torch.Tensor, None]:
    """(batch, heads, positions, head_dim) queries and (batch, kv_heads, cached, head_dim) keys and
    values -> (batch, positions, heads, head_dim), as every `AttentionInterface` function returns it.
    `attention_mask`: SDPA's (boolean, True = attend, or additive), or None (attend to everything)."""
    if query.shape[2] != 1 or (module.training and dropout):
        return sdpa_attention_forward(module, query, key, value, attention_mask, scaling=scaling, dropout=dropout,
                                      **kwargs)
    batch, heads, _, head_dim = query.shape
    cached = key.shape[2]
    if scaling is None:
        scaling = head_dim**-0.5
    if kernel_takes(query, key, value, attention_mask):
        mask = None if attention_mask is None else attention_mask[:, 0, 0, :cached].contiguous()
        output = kernel_function("decode_attention")(query.reshape(batch, heads, head_dim).contiguous(), key, value,
                                                     mask, scaling)
        return output.reshape(batch, 1, heads, head_dim), None
    return matmul_softmax_step(query, key, value, attention_mask, scaling), None


def matmul_softmax_step(query: torch.Tensor, key: torch.Tensor, value: torch.Tensor, attention_mask: torch.Tensor | None,
                        scaling: float) -> torch.Tensor:
    """A decoding step as two matmuls around a float32 softmax (any dtype, head size and mask)."""
    batch, heads, _, head_dim = query.shape
    kv_heads, cached = key.shape[1], key.shape[2]
    # grouped-query attention: the query heads sharing a key/value head are consecutive (transformers'
    # `repeat_kv`), so each group is a (heads / kv_heads)-row matrix against its keys
    grouped = query.reshape(batch, kv_heads, heads // kv_heads, head_dim)
    scores = torch.matmul(grouped, key.transpose(-1, -2)) * scaling  # (batch, kv_heads, group, cached)
    if attention_mask is not None:
        mask = attention_mask[..., :cached]  # (batch, 1, 1, cached)
        scores = scores.masked_fill(~mask, float("-inf")) if mask.dtype == torch.bool else scores + mask
    weights = torch.softmax(scores, dim=-1, dtype=torch.float32).to(value.dtype)
    output = torch.matmul(weights, value)  # (batch, kv_heads, group, head_dim)
    return output.reshape(batch, 1, heads, head_dim)


def kernel_takes(query: torch.Tensor, key: torch.Tensor, value: torch.Tensor, attention_mask) -> bool:
    """Whether our kernel (`decode_attention` in emollm/kernels/cpu_kernels.cpp) runs this step:
    bf16, head_dim a multiple of 32 up to 128, the cache contiguous, a boolean mask or none."""
    return (query.dtype == key.dtype == value.dtype == torch.bfloat16 and query.shape[-1] % 32 == 0
            and query.shape[-1] <= 128 and key.is_contiguous() and value.is_contiguous()
            and (attention_mask is None or attention_mask.dtype == torch.bool) and native_kernels() is not None)


AttentionInterface.register(NAME, decode_matmul_attention)
AttentionMaskInterface.register(NAME, sdpa_mask)  # the masks SDPA takes: None where nothing is masked
