"""LoRA (PEFT) on the LLM, and QLoRA: the LLM's linear layers in 4-bit NF4 (bitsandbytes, which
also runs on CPU) with LoRA on top. Towers, adapters, fusion and the head stay in full precision.
"""

from __future__ import annotations

import logging

import torch

logger = logging.getLogger(__name__)

DEFAULT_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
# Module-name fragments bitsandbytes must leave unquantised.
KEEP_FULL_PRECISION = ["towers", "adapters", "fusion", "lm_head"]


def apply_lora(model, r: int = 16, alpha: int = 32, dropout: float = 0.05,
               target_modules: tuple[str, ...] | list[str] = DEFAULT_TARGETS):
    """Wrap the LLM with LoRA; the LLM's base weights freeze, other components keep their flags."""
    from peft import LoraConfig, get_peft_model

    if is_lora(model):
        return model
    config = LoraConfig(r=r, lora_alpha=alpha, lora_dropout=dropout, target_modules=list(target_modules),
                        task_type="CAUSAL_LM")
    model.language_model = get_peft_model(model.language_model, config)
    logger.info("LoRA r=%d alpha=%d on %s", r, alpha, ", ".join(target_modules))
    return model


def is_lora(model) -> bool:
    from peft import PeftModel

    return isinstance(model.language_model, PeftModel)


def merge_lora(model):
    """Fold LoRA into the base weights, so the model saves as a plain EmoLLM directory."""
    if is_lora(model):
        model.language_model = model.language_model.merge_and_unload()
    return model


def quantization_config(compute_dtype: torch.dtype = torch.bfloat16):
    from transformers import BitsAndBytesConfig

    return BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
                              bnb_4bit_compute_dtype=compute_dtype, llm_int8_skip_modules=KEEP_FULL_PRECISION)


def load_4bit(model_dir, compute_dtype: torch.dtype = torch.bfloat16):
    """The model with its LLM in 4-bit, ready for `apply_lora` (QLoRA)."""
    from emollm.modeling_emollm import EmoLLMForConditionalGeneration

    model = EmoLLMForConditionalGeneration.from_pretrained(
        model_dir, quantization_config=quantization_config(compute_dtype))
    disable_cpu_repacking(model)
    model.freeze()
    return model


def disable_cpu_repacking(model) -> None:
    """On CPUs with avx512_bf16 a first no-grad forward repacks the 4-bit weights and later
    training forwards fail ("a view of a leaf Variable..."); turn that path off (bitsandbytes
    nn/modules.py: Linear4bit.forward repacks when `support_avx512bf16_for_cpu` and not training)."""
    import bitsandbytes as bnb

    for module in model.modules():
        if isinstance(module, bnb.nn.Linear4bit):
            module.support_avx512bf16_for_cpu = False
