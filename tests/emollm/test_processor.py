"""The processor on real files made by the tests."""

from __future__ import annotations

import pytest

from data_pipeline.errors import MediaError
from emollm.processing_emollm import IGNORE_INDEX


def test_decodes_an_mp4_with_audio(tiny_model, media_dir):
    _, processor = tiny_model
    clip = processor.load_media(video=media_dir / "clip.mp4")
    assert clip.frames.shape == (processor.num_frames, 96, 128, 3)
    assert clip.faces.shape == (processor.num_frames, processor.face_size, processor.face_size, 3)
    assert clip.waveform.dtype.name == "float32" and 1.9 < len(clip.waveform) / 16000 < 2.2
    assert clip.provenance["sampling"]["indices"] == [1, 3, 5, 7, 9, 11, 13, 15]  # uniform, not the first frame


def test_silent_video_has_no_audio_placeholder(tiny_model, media_dir):
    _, processor = tiny_model
    clip = processor.load_media(video=media_dir / "silent.mp4")
    assert clip.waveform is None and "no audio track" in " ".join(clip.notes)
    text = processor.render([{"role": "user", "content": [{"type": "video"}, {"type": "text", "text": "?"}]}], clip)
    assert "<|frames|>" in text and "<|audio|>" not in text and "<|fusion|>" not in text


@pytest.mark.parametrize("name, reason", [
    ("empty.mp4", "empty file"), ("text.mp4", "not a media file"),
    ("random.mp4", "not a media file"), ("missing.mp4", "not found")])
def test_rejects_corrupt_files_with_a_clear_error(tiny_model, media_dir, name, reason):
    _, processor = tiny_model
    with pytest.raises(MediaError, match=reason) as error:
        processor.load_media(video=media_dir / name)
    assert error.value.path.endswith(name)


def test_labels_cover_only_assistant_turns(tiny_model):
    _, processor = tiny_model
    conversation = [{"role": "user", "content": "first question"}, {"role": "assistant", "content": "first answer"},
                    {"role": "user", "content": "second question"}, {"role": "assistant", "content": "second answer"}]
    batch = processor([conversation], [None], return_labels=True)
    labelled = [t for t in batch["labels"][0].tolist() if t != IGNORE_INDEX]
    text = processor.tokenizer.decode(labelled)
    assert text == "first answer<|im_end|>second answer<|im_end|>"


def test_placeholders_expand_to_adapter_token_counts(tiny_model, media_dir):
    model, processor = tiny_model
    clip = processor.load_media(video=media_dir / "clip.mp4")
    batch = processor([[{"role": "user", "content": [{"type": "video"}, {"type": "text", "text": "?"}]}]], [clip])
    for modality, token_id in model.config.placeholder_token_ids.items():
        assert int((batch["input_ids"] == token_id).sum()) == model.config.num_tokens(modality)


def test_processor_round_trips(tiny_model, tmp_path):
    from emollm import EmoLLMProcessor

    _, processor = tiny_model
    processor.save_pretrained(tmp_path)
    loaded = EmoLLMProcessor.from_pretrained(tmp_path)
    assert (loaded.num_frames, loaded.face_size, loaded.num_tokens) == (
        processor.num_frames, processor.face_size, processor.num_tokens)


def test_video_with_a_separate_audio_has_one_set_of_audio_tokens(tiny_model, media_dir):
    """The one placeholder rule: a video part stands for the sound too only when the conversation
    has no audio part of its own (a record of a video plus a separate audio file has both)."""
    from data_pipeline.clip import Clip

    model, processor = tiny_model
    clip = Clip(video=str(media_dir / "silent.mp4"), audio=str(media_dir / "voice.wav"))
    decoded = processor.load_media(clip)
    as_record = [{"role": "user", "content": [*clip.parts(), {"type": "text", "text": "?"}]}]  # one video part
    as_client = [{"role": "user", "content": [{"type": "video"}, {"type": "audio"}, {"type": "text", "text": "?"}]}]
    batch = processor([as_record, as_client], [decoded, decoded])
    ids = model.config.placeholder_token_ids
    for modality in ("frames", "face", "audio", "fusion"):
        counts = (batch["input_ids"] == ids[modality]).sum(dim=1).tolist()
        assert counts == [model.config.num_tokens(modality)] * 2, modality
    assert model(**batch).logits.shape[1] == batch["input_ids"].shape[1]  # placeholders match the features
