"""Compiled decoding for the LLM: a static KV cache and a `torch.compile`d decode step, through
transformers' own `generate` (`cache_implementation="static"` + `compile_config`).

* The prefill stays eager (its length changes with every prompt); each decode step runs the
  compiled forward, whose shapes are fixed by the static cache: `max_cache_len` sizes it once for
  every request up to that length, so later requests reuse the compiled graph.
* Inductor's `freezing` folds the weights in as constants, so oneDNN gets its linear layers with the
  weights prepacked; PyTorch's eager bf16 matrix-vector product reads far below this CPU's bandwidth
  (benchmarks/cpu_latency.py measures both).
* transformers compiles automatically only on accelerators (`_valid_auto_compile_criteria`); on a
  CPU the compile config has to opt in with `_compile_all_devices`.
"""

from __future__ import annotations

DEFAULT_MAX_CACHE_LEN = 2048


def enable_compiled_decoding(model, max_cache_len: int = DEFAULT_MAX_CACHE_LEN) -> None:
    """Switch an EmoLLM model's (or a causal LM's) `generate` to the static cache + compiled step."""
    from transformers.generation import CompileConfig

    language_model = getattr(model, "language_model", model)
    config = CompileConfig(fullgraph=False, dynamic=False, mode=None, options={"freezing": True})
    config._compile_all_devices = True  # a class attribute upstream, not an __init__ argument
    generation = language_model.generation_config
    generation.cache_implementation = "static"
    generation.max_cache_len = max_cache_len
    generation.compile_config = config


def warm_up(model, token_id: int, batch_size: int = 1) -> None:
    """One short `generate`, so the decode step compiles at start-up rather than in a first request."""
    import torch

    language_model = getattr(model, "language_model", model)
    ids = torch.full((batch_size, 4), token_id, dtype=torch.long, device=language_model.device)
    with torch.inference_mode():
        language_model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=3,
                                min_new_tokens=3, do_sample=False, pad_token_id=token_id)


def add_compile_argument(parser) -> None:
    parser.add_argument("--compile-decode", action="store_true",
                        help="static KV cache + torch.compile'd decode step, compiled at start-up (a minute or more); "
                             f"the cache holds --max-model-len tokens (default {DEFAULT_MAX_CACHE_LEN} with this flag)")
