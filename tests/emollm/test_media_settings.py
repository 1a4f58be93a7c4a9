"""Media settings that decide what a model sees, recorded with it: `media.frame_backend` (which
decoder picks a clip's frames; new presets skip non-reference frames, directories saved before the
option keep decord) and the processor's `face_detect_side` (new presets search faces on frames
downscaled to 192 pixels, older directories on 320)."""

from __future__ import annotations

import json
import shutil

import pytest

from emollm.configuration_emollm import MediaSpec


def test_the_preset_setting_reaches_the_processor_and_the_saved_directory(tiny_model_dir, media_dir):
    from emollm import EmoLLMConfig, EmoLLMProcessor

    assert EmoLLMConfig.from_pretrained(tiny_model_dir).specs.media.frame_backend == "pyav-fast"
    processor = EmoLLMProcessor.from_pretrained(tiny_model_dir)
    assert processor.frame_backend == "pyav-fast"
    assert processor.face_detect_side == 192
    clip = processor.load_media(video=str(media_dir / "clip.mp4"))
    assert clip.provenance["sampling"]["backend"] == "pyav"
    assert clip.provenance["sampling"]["skip_frame"] == "NONREF"
    assert clip.frames.shape[0] == processor.num_frames


def test_old_directories_keep_decord(tiny_model_dir, tmp_path, media_dir):
    from emollm import EmoLLMProcessor

    assert MediaSpec().frame_backend == "auto"
    old = tmp_path / "old"
    shutil.copytree(tiny_model_dir, old)
    config_path = old / "processor_config.json"
    saved = json.loads(config_path.read_text())
    saved.pop("frame_backend")  # as written before the options existed
    saved.pop("face_detect_side")
    config_path.write_text(json.dumps(saved))
    processor = EmoLLMProcessor.from_pretrained(old)
    assert processor.frame_backend == "auto"
    assert processor.face_detect_side == 320
    clip = processor.load_media(video=str(media_dir / "clip.mp4"))
    assert clip.provenance["sampling"]["backend"] == "decord"


@pytest.mark.parametrize(("name", "other"), [("frame_backend", "auto"), ("face_detect_side", 320)])
def test_each_setting_is_part_of_the_feature_cache_key(tiny_model, name, other):
    from emollm.feature_cache import processor_settings

    _, processor = tiny_model
    new = processor_settings(processor)
    previous = getattr(processor, name)
    try:
        setattr(processor, name, other)
        assert processor_settings(processor) != new
        assert processor_settings(processor)[name] == other
    finally:
        setattr(processor, name, previous)


def test_the_face_detector_searches_the_downscaled_frame(tiny_model, monkeypatch):
    """The detector is handed frames whose longer side is the processor's face_detect_side."""
    import numpy as np

    from data_pipeline.faces.detectors import get_detector

    _, processor = tiny_model
    seen = []
    detector = get_detector("haar")
    original = type(detector).detect

    def recording(self, image):
        seen.append(image.shape[:2])
        return original(self, image)

    monkeypatch.setattr(type(detector), "detect", recording)
    frames = np.zeros((3, 720, 1280, 3), dtype=np.uint8)
    processor._face_crops(frames, None)
    assert seen and all(max(shape) == processor.face_detect_side for shape in seen)
