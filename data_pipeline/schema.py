"""One record format for every dataset and task (JSONL, validated by pydantic).

Media paths are stored relative to the records file's folder when they lie below it (so a
prepared set can be moved), absolute otherwise; `read_records` resolves them.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from data_pipeline.atomic import atomic_path
from data_pipeline.errors import UserFacingError, validation_message
from data_pipeline.tasks import Task

Split = Literal["train", "validation", "test"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Media(_Strict):
    video: str | None = None
    audio: str | None = None  # a separate audio file; when None the video's own track is used
    image: str | None = None
    duration: float | None = None
    fps: float | None = None
    width: int | None = None
    height: int | None = None
    has_video: bool = False  # a visual stream (video or image) is present
    has_audio: bool = False  # an audio track is present (in `audio` or in `video`)

    @property
    def visual_path(self) -> str | None:
        return self.video or self.image

    @property
    def audio_path(self) -> str | None:
        if not self.has_audio:
            return None
        return self.audio or self.video


class Turn(_Strict):
    role: Literal["system", "user", "assistant"]
    content: str


class Labels(_Strict):
    """Gold labels; each task reads the fields it needs. `original` keeps the dataset's own label."""

    emotion: str | None = None  # one of labels.EMOTIONS
    emotions: list[str] | None = None  # open vocabulary (OV-MER)
    sentiment: str | None = None  # one of labels.SENTIMENTS
    sentiment_score: float | None = None  # e.g. CMU-MOSI's [-3, 3]
    intent: str | None = None  # one of labels.INTENTS
    clues: list[str] | None = None  # ERI
    reply: str | None = None  # ERG reference reply (without the chain)
    original: str | None = None  # the dataset's own label, untranslated


class FaceTrack(_Strict):
    """The main speaker's face box (x0, y0, x1, y1 in pixels) per sampled frame index."""

    frame_indices: list[int]
    boxes: list[tuple[float, float, float, float] | None]
    detector: str
    found: bool = True


class Provenance(_Strict):
    """How the derived fields were made (face track, ASR, frame sampling)."""

    face: dict | None = None
    asr: dict | None = None
    sampling: dict | None = None
    converter: str | None = None
    generator: dict | None = None  # parameters of a generated item (synthetic set: subtitle mode, ...)


class Record(_Strict):
    id: str
    dataset: str
    split: Split
    task: Task
    media: Media = Field(default_factory=Media)
    subtitle: str | None = None
    subtitle_language: str | None = None
    conversation: list[Turn]
    labels: Labels = Field(default_factory=Labels)
    face_track: FaceTrack | None = None
    provenance: Provenance = Field(default_factory=Provenance)

    @model_validator(mode="after")
    def _check_conversation(self) -> Record:
        if not any(turn.role == "user" for turn in self.conversation):
            raise ValueError("conversation needs at least one user turn")
        return self

    @property
    def answer(self) -> str | None:
        """The gold assistant answer (last assistant turn), if any."""
        replies = [t.content for t in self.conversation if t.role == "assistant"]
        return replies[-1] if replies else None


def _resolve(path: str | None, base: Path) -> str | None:
    if path is None or os.path.isabs(path):
        return path
    return str(base / path)


def _relativise(path: str | None, base: Path) -> str | None:
    if path is None:
        return None
    try:
        return str(Path(path).resolve().relative_to(base.resolve()))
    except ValueError:
        return path


def read_records(path: str | os.PathLike, resolve_paths: bool = True) -> list[Record]:
    return list(iter_records(path, resolve_paths))


def iter_records(path: str | os.PathLike, resolve_paths: bool = True) -> Iterator[Record]:
    """Validated records; a bad line is an error naming the file and line number."""
    path = Path(path)
    if not path.exists():
        raise UserFacingError(f"records file not found: {path}")
    base = path.parent
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                record = Record.model_validate_json(line)
            except ValidationError as error:
                raise UserFacingError(f"{path}:{number}: invalid record: {validation_message(error)}") from None
            if resolve_paths:
                media = record.media
                media.video, media.audio, media.image = (
                    _resolve(media.video, base), _resolve(media.audio, base), _resolve(media.image, base))
            yield record


def record_to_json(record: Record, base: Path | None = None) -> str:
    data = record.model_dump(mode="json", exclude_none=True)
    if base is not None:
        for key in ("video", "audio", "image"):
            if key in data["media"]:
                data["media"][key] = _relativise(data["media"][key], base)
    return json.dumps(data, ensure_ascii=False)


def write_records(path: str | os.PathLike, records: Iterable[Record]) -> int:
    """Write atomically (temp file + rename): a killed run never leaves a half file."""
    path = Path(path)
    count = 0
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as handle:
        for record in records:
            handle.write(record_to_json(record, path.parent) + "\n")
            count += 1
    return count
