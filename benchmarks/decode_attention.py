"""One decoding step's attention, per layer, on a CPU: PyTorch's SDPA (transformers' `sdpa`), transformers'
eager attention, two matmuls around a float32 softmax (`emollm.decode_attention`'s path without our
kernel) and `emollm.decode_attention` (what `emollm serve` runs), for nano-2b's heads (12
query heads sharing 2 key/value heads of 128) over growing numbers of cached tokens. Prints a
Markdown table of microseconds per call and per 28-layer token.

    .venv/bin/python benchmarks/decode_attention.py [--threads 2] [--dtype bfloat16]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path[:] = [str(Path(__file__).resolve().parents[1])] + [
    p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import torch  # noqa: E402
from tabulate import tabulate  # noqa: E402
from torch import nn  # noqa: E402
from transformers.integrations.sdpa_attention import sdpa_attention_forward  # noqa: E402
from transformers.models.qwen2.modeling_qwen2 import eager_attention_forward  # noqa: E402

from emollm.decode_attention import decode_matmul_attention, matmul_softmax_step  # noqa: E402

HEADS, KV_HEADS, HEAD_DIM, LAYERS = 12, 2, 128, 28  # Qwen2.5-1.5B, the nano-2b preset's LLM
FUNCTIONS = {"sdpa": sdpa_attention_forward, "eager": eager_attention_forward,
             "two matmuls + softmax": lambda module, q, k, v, mask, scaling: (matmul_softmax_step(q, k, v, mask, scaling), None),
             "decode_matmul (served)": decode_matmul_attention}


def microseconds(function, module, inputs, calls: int = 500) -> float:
    """The best of 3 timings of `calls` calls, after 50 untimed."""
    with torch.inference_mode():
        for _ in range(50):
            function(module, *inputs, None, scaling=HEAD_DIM**-0.5)
        best = float("inf")
        for _ in range(3):
            start = time.perf_counter()
            for _ in range(calls):
                function(module, *inputs, None, scaling=HEAD_DIM**-0.5)
            best = min(best, (time.perf_counter() - start) / calls)
    return best * 1e6


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--dtype", default="bfloat16", choices=["bfloat16", "float32"])
    parser.add_argument("--cached", type=int, nargs="+", default=[200, 1000, 4000], help="cached tokens")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    dtype = getattr(torch, args.dtype)
    module = nn.Module().eval()
    module.num_key_value_groups, module.is_causal = HEADS // KV_HEADS, True
    rows = []
    for cached in args.cached:
        torch.manual_seed(0)
        inputs = (torch.randn(1, HEADS, 1, HEAD_DIM, dtype=dtype),
                  *(torch.randn(1, KV_HEADS, cached, HEAD_DIM, dtype=dtype) for _ in range(2)))
        times = {name: microseconds(function, module, inputs) for name, function in FUNCTIONS.items()}
        rows.append([cached, *(f"{t:.0f} us ({t * LAYERS / 1e3:.1f} ms)" for t in times.values())])
    print(f"\n### one decoding step's attention, {args.dtype}, {args.threads} threads: per layer (per {LAYERS}-layer token)\n")
    print(tabulate(rows, headers=["cached tokens", *FUNCTIONS], tablefmt="github"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
