"""`decode_matmul`: the LLM's attention on a CPU, registered with transformers' `AttentionInterface`
(and its mask with `AttentionMaskInterface`) so the LLM switches to it by name.

A decoding step attends one query per sequence to the cached keys. PyTorch's CPU
`scaled_dot_product_attention` (its flash kernel) spends about 0.25 ms a layer on that, 7 ms per token
for a 28-layer LLM on 2 cores, and served bf16 decoding of a nano-2b swung between 11 and 15 tokens/s
with it; two small matmuls around a float32 softmax (transformers' eager attention, without copying
the keys and values for each query head) decoded 16 tokens/s steadily (benchmarks/cpu_latency.py).
A prefill (more than one query) keeps SDPA, which never builds the full score matrix.
"""

from __future__ import annotations

import torch
from transformers import AttentionInterface
from transformers.integrations.sdpa_attention import sdpa_attention_forward
from transformers.masking_utils import AttentionMaskInterface, sdpa_mask

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
    kv_heads, cached = key.shape[1], key.shape[2]
    if scaling is None:
        scaling = head_dim**-0.5
    # grouped-query attention: the query heads sharing a key/value head are consecutive (transformers'
    # `repeat_kv`), so each group is a (heads / kv_heads)-row matrix against its keys
    grouped = query.reshape(batch, kv_heads, heads // kv_heads, head_dim)
    scores = torch.matmul(grouped, key.transpose(-1, -2)) * scaling  # (batch, kv_heads, group, cached)
    if attention_mask is not None:
        mask = attention_mask[..., :cached]  # (batch, 1, 1, cached)
        scores = scores.masked_fill(~mask, float("-inf")) if mask.dtype == torch.bool else scores + mask
    weights = torch.softmax(scores, dim=-1, dtype=torch.float32).to(value.dtype)
    output = torch.matmul(weights, value)  # (batch, kv_heads, group, head_dim)
    return output.reshape(batch, 1, heads, head_dim), None


AttentionInterface.register(NAME, decode_matmul_attention)
AttentionMaskInterface.register(NAME, sdpa_mask)  # the masks SDPA takes: None where nothing is masked
