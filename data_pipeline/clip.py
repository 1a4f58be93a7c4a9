"""What "a clip" is, in one place: which file gives the frames and faces, where the sound comes
from, and which media a file suffix names.

`Clip` is the one value training, evaluation, `predict`, the API and the chat UI hand to the
processor and the feature cache:

* `video` or `image` (at most one) gives the frames and face crops;
* the sound is the video's own track (`use_video_audio`, default) or a separate `audio` file,
  which then replaces it ("video plus separate audio");
* `face_boxes` are a record's face track (one box or None per video frame), when known.

`media_kind(path)` reads the kind ("video", "image", "audio") from the suffix, from the one
table `MEDIA_SUFFIXES`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

MediaKind = Literal["video", "image", "audio"]
VIDEO_SUFFIXES = frozenset({".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".flv", ".wmv",
                            ".3gp", ".ts"})
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".gif", ".tif", ".tiff"})
AUDIO_SUFFIXES = frozenset({".wav", ".mp3", ".flac", ".ogg", ".m4a", ".aac", ".opus"})
MEDIA_SUFFIXES: dict[str, MediaKind] = {**dict.fromkeys(sorted(VIDEO_SUFFIXES), "video"),
                                        **dict.fromkeys(sorted(IMAGE_SUFFIXES), "image"),
                                        **dict.fromkeys(sorted(AUDIO_SUFFIXES), "audio")}


def media_kind(path: str | os.PathLike) -> MediaKind | None:
    """"video", "image" or "audio" by the file's suffix; None for anything else."""
    return MEDIA_SUFFIXES.get(Path(path).suffix.lower())


@dataclass(frozen=True)
class Clip:
    video: str | None = None
    image: str | None = None
    audio: str | None = None  # a separate audio file: replaces the video's own sound
    use_video_audio: bool = True  # whether a video's own sound track is heard (without `audio`)
    face_boxes: tuple | None = None  # per video frame: (x0, y0, x1, y1) or None

    def __post_init__(self):
        if self.video and self.image:
            raise ValueError("a clip has one visual input: a video or an image, not both")
        for name in ("video", "image", "audio"):
            value = getattr(self, name)
            object.__setattr__(self, name, str(value) if value else None)
        if self.audio:
            object.__setattr__(self, "use_video_audio", False)  # the separate file replaces the track
        if self.face_boxes is not None:
            object.__setattr__(self, "face_boxes", tuple(tuple(b) if b is not None else None for b in self.face_boxes))

    @classmethod
    def of(cls, path: str | os.PathLike) -> Clip:
        """A clip of one media file, by its suffix (a file of unknown suffix is read as a video)."""
        return cls(**{media_kind(path) or "video": str(path)})

    @property
    def visual(self) -> str | None:
        return self.video or self.image

    @property
    def audio_source(self) -> str | None:
        """The file the sound is read from (the video itself unless a separate audio replaces it)."""
        return self.audio or (self.video if self.use_video_audio else None)

    @property
    def empty(self) -> bool:
        return not (self.video or self.image or self.audio)

    def parts(self) -> list[dict]:
        """Content parts for a user message (the processor turns each into its placeholders): a
        video part stands for the whole clip, its sound included (the video's own track or the
        separate audio); an image has no sound, so a separate audio gets its own part."""
        if self.video:
            return [{"type": "video"}]
        return [{"type": kind} for kind in ("image", "audio") if getattr(self, kind)]

    def without(self, drop: set[str] | frozenset[str]) -> Clip:
        """The clip with its "video" (the visual input) and/or "audio" (every sound) removed."""
        visual = {} if "video" in drop else {"video": self.video, "image": self.image, "face_boxes": self.face_boxes}
        if "audio" in drop:
            return Clip(**visual, use_video_audio=False)
        if "video" in drop:  # the video dropped: its sound track still speaks
            return Clip(audio=self.audio_source)
        return Clip(**visual, audio=self.audio, use_video_audio=self.use_video_audio)

    def describe(self) -> dict:
        """The fields as plain data (cache keys, logs)."""
        return {"video": self.video, "image": self.image, "audio": self.audio,
                "use_video_audio": self.use_video_audio,
                "face_boxes": [list(b) if b is not None else None for b in self.face_boxes]
                if self.face_boxes is not None else None}
