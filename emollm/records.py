"""Records -> model inputs: the chat messages (media parts in the first user turn) and the
arguments for `EmoLLMProcessor.load_media` / `feature_cache.encode_clip`.

Training, evaluation (including modality ablations) and `predict` all go through here, so a
record is always asked the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from data_pipeline.schema import Record
from data_pipeline.tasks import user_prompt

ABLATIONS = ("video", "audio", "subtitle")


@dataclass
class RecordInputs:
    messages: list[dict]
    media: dict = field(default_factory=dict)  # kwargs for load_media / encode_clip; empty = no media

    @property
    def has_media(self) -> bool:
        return any(self.media.get(k) for k in ("video", "image", "audio"))


def record_inputs(record: Record, drop: frozenset[str] | set[str] = frozenset(),
                  with_answer: bool = True) -> RecordInputs:
    """`drop` removes modalities ("video", "audio", "subtitle") as ablations and training dropout do."""
    unknown = set(drop) - set(ABLATIONS)
    if unknown:
        raise ValueError(f"unknown modality to drop: {sorted(unknown)}; known: {list(ABLATIONS)}")
    media = record.media
    visual = None if "video" in drop or not media.has_video else media.visual_path
    separate_audio = media.audio if media.has_audio and "audio" not in drop else None
    kwargs = {}
    if visual:
        kwargs = {"video" if media.video else "image": visual,
                  "use_video_audio": bool(media.video and media.has_audio and not media.audio and "audio" not in drop)}
        if record.face_track is not None and record.face_track.found:
            kwargs["face_boxes"] = [list(b) if b is not None else None for b in record.face_track.boxes]
    if separate_audio:
        kwargs["audio"] = separate_audio
    elif not visual and media.video and media.has_audio and "audio" not in drop:
        kwargs["audio"] = media.video  # video dropped: its audio track still speaks

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
            parts = _media_parts(kwargs)
            if parts:
                content = [*parts, {"type": "text", "text": content}]
        messages.append({"role": turn.role, "content": content})
    return RecordInputs(messages, kwargs)


def _media_parts(kwargs: dict) -> list[dict]:
    parts = []
    if kwargs.get("video"):
        parts.append({"type": "video"})
    if kwargs.get("image"):
        parts.append({"type": "image"})
    if kwargs.get("audio") and not kwargs.get("video"):  # a video part already stands for the clip's audio
        parts.append({"type": "audio"})
    return parts
