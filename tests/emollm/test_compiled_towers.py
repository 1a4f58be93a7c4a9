"""`--compile-towers`: the vision towers compiled in place give the eager towers' features (to bf16
rounding), keep their parameter names, and are compiled at start-up for the shape the engine uses."""

from __future__ import annotations

import pytest
import torch


@pytest.mark.slow  # Inductor compiles two towers (about 20 s on 2 cores for the tiny ones)
def test_compiled_vision_towers_give_the_eager_features(tiny_model_dir):
    from emollm import EmoLLMForConditionalGeneration, EmoLLMProcessor
    from emollm.compiled_towers import compile_vision_towers

    model = EmoLLMForConditionalGeneration.from_pretrained(tiny_model_dir, dtype=torch.bfloat16).eval()
    processor = EmoLLMProcessor.from_pretrained(tiny_model_dir)
    side, frames = processor.image_processor.crop_size["height"], processor.num_frames
    generator = torch.Generator().manual_seed(0)
    inputs = {"frames_pixel_values": torch.randn(1, frames, 3, side, side, generator=generator).bfloat16(),
              "face_pixel_values": torch.randn(1, frames, 3, processor.face_size, processor.face_size,
                                               generator=generator).bfloat16()}
    names = list(model.state_dict())
    eager = model.encode_towers(**inputs)

    assert compile_vision_towers(model, processor) == ["frames", "face"]
    assert all(model.towers[name]._compiled_call_impl is not None for name in ("frames", "face"))
    assert list(model.state_dict()) == names  # the feature cache's fingerprint and saved weights don't change
    compiled = model.encode_towers(**inputs)
    for name in ("frames", "face"):
        reference, ours = eager[name].float(), compiled[name].float()
        assert ours.shape == reference.shape
        relative = ((ours - reference).norm() / reference.norm()).item()
        assert relative < 0.03, (name, relative)
