"""EmoLLM: a compact multimodal emotion LLM.

`from emollm import EmoLLMConfig, EmoLLMForConditionalGeneration, EmoLLMProcessor` (or
`emollm.register_auto_classes()`) registers the config, model and processor with the transformers
Auto classes, so `AutoModel.from_pretrained(dir)` and `AutoProcessor.from_pretrained(dir)` work.
`import emollm` alone imports neither torch nor transformers: the `emollm` command answers
`--help` and the commands that load no model without paying for them.
"""

from __future__ import annotations

import importlib

_CLASSES = {
    "EmoLLMConfig": "emollm.configuration_emollm",
    "EmoLLMForConditionalGeneration": "emollm.modeling_emollm",
    "EmoLLMProcessor": "emollm.processing_emollm",
}

__all__ = [*_CLASSES, "register_auto_classes"]
__version__ = "0.1.0"


def register_auto_classes() -> None:
    """Register EmoLLM with AutoConfig / AutoModel / AutoModelForCausalLM / AutoProcessor (idempotent):
    each class module registers its class when it is imported."""
    for module in _CLASSES.values():
        importlib.import_module(module)


def __getattr__(name: str):
    # PEP 562: the classes (and torch, transformers) load on first use, registered as they do.
    if name in _CLASSES:
        register_auto_classes()
        value = getattr(importlib.import_module(_CLASSES[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'emollm' has no attribute {name!r}")
