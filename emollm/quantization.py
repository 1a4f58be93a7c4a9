"""`--quantization` for serving: a smaller weight format for the LLM's linear layers.

`int8`: weight-only, symmetric, one scale per output channel (`emollm.int8_linear`); activations
stay in the model's dtype. The towers, adapters and input embeddings keep theirs: the LLM's weights
are most of the bytes read per generated token. torch is imported only when a model is quantized,
so `emollm --help` stays light.
"""

from __future__ import annotations

import argparse

QUANTIZATION_CHOICES: tuple[str, ...] = ("int8",)


def add_quantization_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quantization", "-q", choices=QUANTIZATION_CHOICES, default=None,
                        help="weight format of the LLM's linear layers (default: none, the model's dtype); "
                             "int8 = weight-only int8 with per-channel scales, about half the bytes read per token")


def _int8(module) -> int:
    from emollm.int8_linear import quantize_int8_weight_only

    return quantize_int8_weight_only(module)


QUANTIZERS = {"int8": _int8}


def quantize_llm(model, method: str | None) -> None:
    """Apply `--quantization` to an EmoLLM model's language model in place (no-op for None)."""
    if method is None:
        return
    if method not in QUANTIZERS:
        raise ValueError(f"--quantization {method!r}: expected one of {', '.join(QUANTIZERS)}")
    QUANTIZERS[method](model.language_model)
