"""CAER: Context-Aware Emotion Recognition (Lee et al., ICCV 2019), caer-dataset.github.io.

Layout of the video release::

    <root>/{train,validation,test}/{Anger,Disgust,Fear,Happy,Neutral,Sad,Surprise}/NNNN.avi

(the three split folders may sit one level down, e.g. CAER/train). The folder names are the
labels and the official splits.
"""

from __future__ import annotations

from collections.abc import Iterator

from data_pipeline.clip import VIDEO_SUFFIXES
from data_pipeline.converters._common import DatasetConverter, emotion_record, split_name
from data_pipeline.converters.base import register_converter
from data_pipeline.errors import UserFacingError
from data_pipeline.schema import Record
from data_pipeline.tasks import Task

SPLIT_FOLDERS = ("train", "validation", "test")


@register_converter
class CAERConverter(DatasetConverter):
    name = "caer"
    tasks = (Task.MER,)
    label_set = "emotion7"
    source = "CAER (Lee et al., ICCV 2019), caer-dataset.github.io: <split>/<Emotion>/NNNN.avi"

    def iter_records(self) -> Iterator[Record]:
        base = next((b for b in (self.root, *sorted(self.root.glob("*"))) if (b / "train").is_dir()), None)
        if base is None:
            raise UserFacingError(f"{self.name}: no train/ folder (train/<Emotion>/*.avi) under {self.root}")
        for folder in SPLIT_FOLDERS:
            for emotion_dir in sorted(p for p in (base / folder).glob("*") if p.is_dir()):
                for video in sorted(p for p in emotion_dir.iterdir() if p.suffix.lower() in VIDEO_SUFFIXES):
                    record = emotion_record(self, f"{folder}_{emotion_dir.name}_{video.stem}", split_name(folder),
                                            emotion_dir.name, video=video)
                    yield record or self.reject(video, f"emotion folder {emotion_dir.name!r} has no basic class")
        self.report_rejects()
