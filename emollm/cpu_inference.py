"""A model loaded only to answer (the serving engine, `emollm eval` and `predict` of a model
directory) made faster on a CPU, with the same weights and the same dtype:

* glibc keeps freed memory for reuse, so the towers' large activations cost no page faults, and
  (set by the commands before torch is imported) large tensors sit on transparent huge pages, so
  reading the weights for each decoded token stalls less on the TLB (emollm.allocator);
* every linear layer of the LLM and the towers gets its weight laid out once for oneDNN
  (emollm.prepack): the same kernels, the same outputs;
* towers in bf16 / fp16 run attention as two matmuls and a softmax (emollm.encoder_attention),
  about twice as fast as PyTorch's CPU SDPA kernel there (in float32 that kernel is the faster, and
  stays); their features match SDPA's to the dtype's rounding;
* the LLM's decoding steps attend through two small matmuls and a float32 softmax
  (emollm.decode_attention) instead of the SDPA kernel, whose fixed cost per call dominated there;
  prefills keep SDPA;
* the LLM's RMSNorms in bf16 are one kernel call each (emollm.rms_norm) instead of eight operations,
  with the same rounding.

Never for a model that will train: prepacked weights take no gradient. `benchmarks/cpu_latency.py`
times the served model with (the default) and without (`--no-cpu-optimizations`).
"""

from __future__ import annotations

import logging

import torch

from emollm.allocator import keep_freed_memory
from emollm.decode_attention import NAME as DECODE_ATTENTION
from emollm.encoder_attention import NAME as TOWER_ATTENTION
from emollm.prepack import prepack_linear_layers
from emollm.rms_norm import fuse_rms_norms

logger = logging.getLogger(__name__)

REDUCED_PRECISION = (torch.bfloat16, torch.float16)


def optimize_for_cpu(model, llm: bool = True, towers=None) -> dict[str, int]:
    """Apply the above to an EmoLLM model on the CPU: its LLM (unless `llm` is False: a compiled
    decode step packs its own weights) and the towers named in `towers` (default all; compiled
    towers are left out). The adapters and fusion are small and stay as they are. Returns the
    linear layers prepacked per part."""
    if model.device.type != "cpu":
        return {}
    keep_freed_memory()
    parts = ([("llm", model.language_model)] if llm else []) + \
        [(name, model.towers[name]) for name in (model.towers if towers is None else towers)]
    packed = {name: prepack_linear_layers(part) for name, part in parts}
    fused_norms = fuse_rms_norms(model.language_model) if llm else 0
    for name, part in parts:
        if name == "llm":
            part.set_attn_implementation(DECODE_ATTENTION)
        elif part.dtype in REDUCED_PRECISION:
            part.set_attn_implementation(TOWER_ATTENTION)
    logger.info("CPU inference: linear layers prepacked for oneDNN (%s); attention: %s; LLM RMSNorms fused: %d",
                ", ".join(f"{n} {c}" for n, c in packed.items()),
                {n: p.config._attn_implementation for n, p in parts}, fused_norms)
    return packed
