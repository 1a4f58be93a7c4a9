"""`decode_matmul`: the LLM's attention on a CPU, registered with transformers' `AttentionInterface`
(and its mask with `AttentionMaskInterface`) so the LLM switches to it by name.

A decoding step attends one query per sequence to the cached keys. PyTorch's CPU
`scaled_dot_product_attention` (its flash kernel) spends far more on that than the arithmetic needs,
and more the longer the cache: per layer of nano-2b's LLM (12 query heads on 2 key/value heads, bf16,
2 cores; benchmarks/decode_attention.py) 236 us at 200 cached tokens, 1151 us at 1000, 5099 us at
4000, against 60, 73 and 207 us for two small matmuls around a float32 softmax (transformers' eager
attention, without copying the keys and values for each query head). Over 28 layers, at 4000
cached tokens, that is 143 ms a token against 6. A prefill (more than one query) keeps SDPA, which
never builds the full score matrix.
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
