"""Records -> model inputs: the chat messages (media parts in the first user turn) and the
record's `Clip` (for `EmoLLMProcessor.load_media` / `feature_cache.encode_clip`).

Training, evaluation (including modality ablations) and `predict` all go through here, so a
record is always asked the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

from data_pipeline.clip import Clip
from data_pipeline.schema import Record
from data_pipeline.tasks import user_prompt

ABLATIONS = ("video", "audio", "subtitle")


@dataclass
class RecordInputs:
    messages: list[dict]
    clip: Clip | None = None  # None: a text-only record (or every medium dropped)

    @property
    def has_media(self) -> bool:
        return self.clip is not None


def record_clip(record: Record) -> Clip:
    """The record's media as a clip: the visual file when it has a visual stream, the separate
    audio file when it has sound, else the video's own track."""
    media = record.media
    if not media.has_video or not media.visual_path:
        return Clip(audio=media.audio_path)
    boxes = None
    if record.face_track is not None and record.face_track.found:
        boxes = record.face_track.boxes
    return Clip(video=media.video, image=None if media.video else media.image,
                audio=media.audio if media.has_audio else None,
                use_video_audio=bool(media.video and media.has_audio), face_boxes=boxes)


def record_inputs(record: Record, drop: frozenset[str] | set[str] = frozenset(),
                  with_answer: bool = True) -> RecordInputs:
    """`drop` removes modalities ("video", "audio", "subtitle") as ablations and training dropout do."""
    unknown = set(drop) - set(ABLATIONS)
    if unknown:
        raise ValueError(f"unknown modality to drop: {sorted(unknown)}; known: {list(ABLATIONS)}")
    clip = record_clip(record).without(set(drop))
    turns = list(record.conversation)
    if not with_answer and turns and turns[-1].role == "assistant":
        turns = turns[:-1]
    messages: list[dict] = []
    first_user = True
    for turn in turns:
        content = turn.content
        if turn.role == "user" and first_user:
            first_user = False
            if "subtitle" in drop and record.subtitle:
                content = user_prompt(record.task, None)
            if not clip.empty:
                content = [*clip.parts(), {"type": "text", "text": content}]
        messages.append({"role": turn.role, "content": content})
    return RecordInputs(messages, None if clip.empty else clip)
