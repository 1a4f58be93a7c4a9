"""`Clip`, the one value for "a clip", and `media_kind` from the one suffix table."""

from __future__ import annotations

import dataclasses

import pytest

from data_pipeline.clip import MEDIA_SUFFIXES, Clip, media_kind


@pytest.mark.parametrize("name, kind", [("a.MP4", "video"), ("b.ts", "video"), ("c.png", "image"),
                                        ("d.opus", "audio"), ("e.txt", None), ("noext", None)])
def test_media_kind_by_suffix(name, kind):
    assert media_kind(name) == kind


def test_one_table_every_kind():
    assert set(MEDIA_SUFFIXES.values()) == {"video", "image", "audio"}
    assert all(suffix == suffix.lower() and suffix.startswith(".") for suffix in MEDIA_SUFFIXES)


def test_where_the_sound_comes_from():
    video = Clip(video="v.mp4")
    assert video.visual == "v.mp4" and video.audio_source == "v.mp4" and video.parts() == [{"type": "video"}]
    dubbed = Clip(video="v.mp4", audio="a.wav", use_video_audio=True)
    assert dubbed.use_video_audio is False and dubbed.audio_source == "a.wav"  # the file replaces the track
    assert dubbed.parts() == [{"type": "video"}]  # the video part stands for the clip's sound too
    assert Clip(image="i.png", audio="a.wav").parts() == [{"type": "image"}, {"type": "audio"}]
    assert Clip(image="i.png").audio_source is None and Clip().empty


def test_frozen_and_one_visual():
    clip = Clip.of("x.wav")
    assert clip == Clip(audio="x.wav")
    with pytest.raises(dataclasses.FrozenInstanceError):
        clip.audio = "y.wav"
    with pytest.raises(ValueError, match="one visual input"):
        Clip(video="v.mp4", image="i.png")


def test_drops():
    clip = Clip(video="v.mp4", face_boxes=[[0, 0, 4, 4], None])
    assert clip.face_boxes == ((0, 0, 4, 4), None)
    assert clip.without({"audio"}) == Clip(video="v.mp4", use_video_audio=False, face_boxes=clip.face_boxes)
    assert clip.without({"video"}) == Clip(audio="v.mp4")  # the video dropped: its sound still speaks
    assert clip.without({"video", "audio"}).empty
    assert Clip(video="v.mp4", audio="a.wav").without({"video"}) == Clip(audio="a.wav")
    assert clip.without(set()) == clip
