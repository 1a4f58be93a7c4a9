"""MER2023 and MER2024 challenge sets (Lian et al.; github.com/zeroQiaoba/MER2023-Baseline,
MER2024 baseline and the MER-UniBench processed copies used by AffectGPT).

Two layouts are read:

* processed (what the baselines and MER-UniBench ship)::

      <root>/label-6way.npz     # train_corpus / [val_corpus /] test1_corpus / test2_corpus / test3_corpus:
                                #   {name: {"emo": "worried", "val": -1.2}}   (numpy pickle)
      <root>/video/<name>.mp4   # names like sample_00000001
      <root>/transcription*.csv # name, chinese, english (or name, sentence)

* release (huggingface.co/datasets/MERChallenge/MER2023; file names and columns as
  github.com/zeroQiaoba/MERTools MERBench/toolkit/preprocess/mer2023.py reads them)::

      <root>/train-label.csv              name, discrete, valence
      <root>/test{1,2,3}-label.csv        same (test3 has no valence column)
      <root>/train/, test1/, test2/, test3/   <name>.avi or .mp4
  or as unpacked from the hub, which public loaders read::
      <root>/mer2023train/train-label.csv, <root>/mer2023train/train/, <root>/mer2023train/test3/
      <root>/test-labels/test{1,2,3}-label.csv, <root>/test1/, <root>/test2/
  Label CSVs are found at the root or one or two folders down; clips anywhere below the root.

Emotions: neutral, angry, happy, sad, worried (-> fearful), surprise. Only the discrete label is
read: `val == -10` in the npz is how MERTools' preprocessing writes "no valence" (test3), not a
missing emotion, so those clips are kept.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from data_pipeline.converters._common import (
    DatasetConverter,
    MediaIndex,
    emotion_record,
    find_file,
    read_table,
)
from data_pipeline.converters.base import register_converter
from data_pipeline.errors import UserFacingError
from data_pipeline.schema import Record
from data_pipeline.tasks import Task

LABEL_TABLES = re.compile(r"^(train|test\d*)-label\.csv$")


class MERChallengeConverter(DatasetConverter):
    tasks = (Task.MER,)
    label_set = "emotion7"

    def iter_records(self) -> Iterator[Record]:
        videos = MediaIndex(self.root)
        subtitles, language = self._subtitles()
        for split, name, emotion in self._labels():
            if not emotion or emotion.lower() in ("nan", "none"):
                yield self.reject(name, "clip without an emotion label", kind="unlabelled clips")
                continue
            video = videos.find(name) or self.root / "video" / f"{name}.mp4"
            record = emotion_record(self, name, split, emotion, video=video, subtitle=subtitles.get(name),
                                    subtitle_language=language if name in subtitles else None)
            yield record or self.reject(name, f"emotion {emotion!r} has no basic class")
        self.report_rejects()

    def _labels(self) -> Iterator[tuple[str, str, str]]:
        npz = find_file(self.root, "label-6way.npz")
        if npz.exists():
            yield from self._npz_labels(npz)
            return
        tables = sorted(p for pattern in ("*-label.csv", "*/*-label.csv", "*/*/*-label.csv")
                        for p in self.root.glob(pattern) if LABEL_TABLES.match(p.name))
        if not tables:
            raise UserFacingError(f"{self.name}: neither label-6way.npz nor train-label.csv / test{{1,2,3}}-label.csv "
                                  f"under {self.root} (or one or two folders down)")
        for table in tables:
            split = "train" if table.name.startswith("train") else "test"
            for row in read_table(table, self.name, ("name", "discrete")):
                yield split, row["name"], row["discrete"]

    def _npz_labels(self, path: Path) -> Iterator[tuple[str, str, str]]:
        # The baselines store dicts in the npz, so pickle loading is what reads this format.
        try:
            archive = np.load(path, allow_pickle=True)
        except (OSError, ValueError) as error:
            raise UserFacingError(f"{self.name}: {path} is not a readable npz ({error})") from None
        for key in sorted(archive.files):
            if not key.endswith("_corpus"):
                continue
            prefix = key.removesuffix("_corpus")
            split = "train" if prefix == "train" else "validation" if prefix in ("val", "dev") else "test"
            for name, entry in archive[key].item().items():
                yield split, str(name), str(entry.get("emo") or "")

    def _subtitles(self) -> tuple[dict[str, str], str | None]:
        """name -> subtitle from transcription*.csv (the Chinese original where there is one)."""
        tables = sorted(p for pattern in ("transcription*.csv", "*/transcription*.csv") for p in self.root.glob(pattern))
        rows = read_table(tables[0], self.name, ("name",)) if tables else []
        column = next((c for c in ("chinese", "sentence", "english") if rows and c in rows[0]), None)
        if column is None:
            return {}, None
        return ({row["name"]: row[column] for row in rows if row.get(column)},
                "en" if column == "english" else "zh")


@register_converter
class MER2023Converter(MERChallengeConverter):
    name = "mer2023"
    source = ("MER2023 (Lian et al., ACM MM 2023): huggingface.co/datasets/MERChallenge/MER2023 release "
              "(train-label.csv, test-labels/test{1,2,3}-label.csv) or MERTools' label-6way.npz + video/")


@register_converter
class MER2024Converter(MERChallengeConverter):
    name = "mer2024"
    source = "MER2024 (Lian et al., MRAC 2024), MER2024 baseline / MER-UniBench layout (label-6way.npz, video/)"
