"""`--quantization` for serving: a smaller weight format for the LLM's linear layers.

* `int8`: weight-only, symmetric, one scale per output channel; about half the bytes of bf16 per token.
* `int4`: the MLPs weight-only int4 in asymmetric groups of 32 input channels, the attention
  projections and the output layer int8; about a third of bf16's bytes per token.

Both run on PyTorch's own CPU kernels (`emollm.weight_only`); activations stay in the model's dtype.
The towers, adapters and input embeddings keep theirs: the LLM's weights are most of the bytes read
per generated token. torch is imported only when a model is quantized, so `emollm --help` stays light.
"""

from __future__ import annotations

import argparse
import logging

logger = logging.getLogger(__name__)

QUANTIZATION_CHOICES: tuple[str, ...] = ("int8", "int4")


def add_quantization_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quantization", "-q", choices=QUANTIZATION_CHOICES, default=None,
                        help="weight format of the LLM's linear layers (default: none, the model's dtype); "
                             "int8 = weight-only int8, one scale per channel, half the bytes read per token; "
                             "int4 = the MLPs int4 in groups of 32 (attention and output layer int8), about a third")


def quantize_llm(model, method: str | None) -> None:
    """Apply `--quantization` to an EmoLLM model's language model in place (no-op for None)."""
    if method is None:
        return
    if method not in QUANTIZATION_CHOICES:
        raise ValueError(f"--quantization {method!r}: expected one of {', '.join(QUANTIZATION_CHOICES)}")
    from emollm.weight_only import quantize_weight_only

    replaced, kept = quantize_weight_only(model.language_model, method)
    logger.info("--quantization %s: %d linear layers of the LLM quantized%s", method, replaced,
                f"; kept in their dtype (shape not supported): {', '.join(kept)}" if kept else "")
