"""Every piece of the project the vLLM plugin uses, imported in this one place (so a refactor of
the inference core changes one file here). Only public pieces: the model's parts, the
processor's media and placeholder steps, the face step inside them, the media readers and the
streaming reasoning splitter `emollm serve` uses."""

from data_pipeline import media as readers
from data_pipeline.errors import MediaError
from emollm import EmoLLMConfig, EmoLLMProcessor, register_auto_classes
from emollm.configuration_emollm import PLACEHOLDERS
from emollm.metrics.reasoning import THINK_CLOSE, THINK_OPEN, split_reasoning
from emollm.modeling_emollm import EmoLLMForConditionalGeneration, build_multimodal_parts
from emollm.processing_emollm import ClipMedia
from serve.reasoning import ReasoningStream

ARCHITECTURE = "EmoLLMForConditionalGeneration"  # config.json's `architectures`, as save_pretrained writes it
MODEL_TYPE = EmoLLMConfig.model_type

__all__ = [
    "ARCHITECTURE", "MODEL_TYPE", "PLACEHOLDERS", "THINK_CLOSE", "THINK_OPEN", "ClipMedia", "EmoLLMConfig",
    "EmoLLMForConditionalGeneration", "EmoLLMProcessor", "MediaError", "ReasoningStream", "build_multimodal_parts",
    "readers", "register_auto_classes", "split_reasoning",
]
