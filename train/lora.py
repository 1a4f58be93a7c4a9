"""A phase's starting model, with LoRA or QLoRA on the LLM when the phase says so.

The mechanics live in `emollm.lora` (PEFT on `model.language_model`; bitsandbytes 4-bit NF4
for the LLM's linear layers only, towers/adapters/fusion/lm_head skipped; the avx512_bf16
repack trap switched off). This module maps a phase's `lora:` section onto them and tells the
Trainer that a 4-bit model carries trainable adapters.
"""

from __future__ import annotations

import torch

from emollm.lora import apply_lora, is_lora, load_4bit, merge_lora
from train.curriculum import LoraSpec

COMPUTE_DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}

__all__ = ["attach_lora", "is_lora", "load_phase_model", "merge_lora"]


def load_phase_model(model_dir, lora: LoraSpec | None, precision: str = "fp32", for_training: bool = True):
    """For training: fp32 master weights (bf16 is autocast by the Trainer), or a 4-bit LLM for
    QLoRA phases. Otherwise (exporting) the directory's own dtype, never quantised."""
    from emollm import EmoLLMForConditionalGeneration

    if not for_training:
        return EmoLLMForConditionalGeneration.from_pretrained(model_dir, dtype="auto")
    if lora is not None and lora.quantize == "4bit":
        return load_4bit(model_dir, compute_dtype=COMPUTE_DTYPES[precision])
    return EmoLLMForConditionalGeneration.from_pretrained(model_dir, dtype=torch.float32)


def attach_lora(model, spec: LoraSpec) -> None:
    apply_lora(model, r=spec.r, alpha=spec.alpha, dropout=spec.dropout, target_modules=spec.target_modules)
    if getattr(model, "is_quantized", False):
        # The 4-bit LLM now carries PEFT adapters, but only as a submodule, and the Trainer's
        # quantisation check looks at the top-level model alone
        # (https://github.com/huggingface/transformers/issues/30878); record the adapters as
        # transformers' own `add_adapter` does, so the Trainer accepts the model for training.
        model._hf_peft_config_loaded = True
