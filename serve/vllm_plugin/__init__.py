"""EmoLLM on vLLM: the `vllm.general_plugins` entry point (pyproject.toml) calls `register()` in
every vLLM process. It registers EmoLLM's config with transformers' Auto classes, the model with
vLLM's `ModelRegistry` (lazily, by import path), the "emollm" reasoning parser and the "emollm"
video loader; calling it again changes nothing."""

from __future__ import annotations

MODEL_CLASS = "serve.vllm_plugin.model:EmoLLMForConditionalGenerationVLLM"


def register() -> None:
    from vllm import ModelRegistry

    from serve.vllm_plugin._project import ARCHITECTURE, register_auto_classes
    from serve.vllm_plugin.reasoning import register_reasoning_parser
    from serve.vllm_plugin.video_loader import register_video_loader

    register_auto_classes()  # EmoLLMConfig / EmoLLMProcessor with AutoConfig / AutoProcessor (exist_ok)
    if ARCHITECTURE not in ModelRegistry.get_supported_archs():
        ModelRegistry.register_model(ARCHITECTURE, MODEL_CLASS)
    register_reasoning_parser()
    register_video_loader()
