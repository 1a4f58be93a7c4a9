"""`folder`: a plain folder of clips (video, audio or images, in sub-folders too), optionally
labelled by a CSV (default `labels.csv` in the folder) with columns

    file (required, relative to the folder), emotion, sentiment, intent, subtitle, split

Each labelled column gives one record with a gold answer (emotion -> MER, sentiment -> MSA,
intent -> MIR); a clip without labels gets one MER record with no gold (usable for predict).
A CSV row naming a missing file is rejected at prepare time ("file not found"); a row with a
label outside the fixed label sets is rejected with the reason.
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import get_args

from data_pipeline.clip import media_kind
from data_pipeline.converters.base import Converter, Reject, make_record, register_converter
from data_pipeline.errors import ConfigError, UserFacingError
from data_pipeline.labels import INTENTS, SENTIMENTS, normalize_emotion
from data_pipeline.schema import Labels, Record, Split
from data_pipeline.tasks import Task

COLUMNS = ("file", "emotion", "sentiment", "intent", "subtitle", "split")
SPLITS = get_args(Split)


def _emotion(value: str) -> str:
    return normalize_emotion(value)


def _choice(allowed: tuple[str, ...], kind: str):
    def check(value: str) -> str:
        if value.strip().lower() not in allowed:
            raise ValueError(f"unknown {kind} {value!r}; expected one of {', '.join(allowed)}")
        return value.strip().lower()
    return check


# column -> (task it adds, validator, Labels field)
LABEL_COLUMNS = {
    "emotion": (Task.MER, _emotion, "emotion"),
    "sentiment": (Task.MSA, _choice(SENTIMENTS, "sentiment"), "sentiment"),
    "intent": (Task.MIR, _choice(INTENTS, "intent"), "intent"),
}


@register_converter
class FolderConverter(Converter):
    name = "folder"
    tasks = (Task.MER, Task.MSA, Task.MIR)
    label_set = "emotion7"
    source = "any folder of clips; optional labels.csv (file,emotion[,sentiment,intent,subtitle,split])"

    def __init__(self, root: Path, labels: str = "labels.csv", split: str = "test", **options):
        super().__init__(root, **options)
        if options:
            raise ConfigError(f"folder: unknown option(s) {', '.join(sorted(options))}; known: labels, split")
        if split not in SPLITS:
            raise ConfigError(f"folder: split must be one of {', '.join(SPLITS)}, got {split!r}")
        self.labels_path = self.root / labels
        self.default_split = split

    def iter_records(self) -> Iterator[Record | Reject]:
        rows = self._read_labels()
        files = {p.relative_to(self.root).as_posix(): p for p in self._media_files()}
        names = sorted(set(files) | set(rows))
        stems = Counter(str(Path(name).with_suffix("")) for name in names)
        for name in names:
            stem = str(Path(name).with_suffix(""))
            # ids drop the suffix unless two files share a stem (clip.wav and clip.m4a)
            clip_id = (stem if stems[stem] == 1 else name).replace("/", "__")
            yield from self._records_for(clip_id, self.root / name, rows.get(name, {}))

    def _media_files(self) -> Iterator[Path]:
        for path in sorted(self.root.rglob("*")):
            hidden = any(part.startswith(".") for part in path.relative_to(self.root).parts)
            if path.is_file() and not hidden and media_kind(path):
                yield path

    def _read_labels(self) -> dict[str, dict[str, str]]:
        if not self.labels_path.exists():
            return {}
        with self.labels_path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            header = [h.strip() for h in reader.fieldnames or []]
            unknown = [h for h in header if h not in COLUMNS]
            if "file" not in header or unknown:
                raise UserFacingError(f"{self.labels_path}: needs a 'file' column; allowed columns: "
                                      f"{', '.join(COLUMNS)}" + (f"; unknown: {', '.join(unknown)}" if unknown else ""))
            rows = {}
            for row in reader:
                row = {k.strip(): (v or "").strip() for k, v in row.items() if k}
                if row.get("file"):
                    rows[Path(row["file"]).as_posix()] = row
            return rows

    def _records_for(self, clip_id: str, path: Path, row: dict[str, str]) -> Iterator[Record | Reject]:
        split = row.get("split") or self.default_split
        if split not in SPLITS:
            yield Reject(str(path), f"{self.labels_path.name}: unknown split {split!r}", clip_id)
            return
        labels, tasks = {}, []
        for column, (task, validate, field) in LABEL_COLUMNS.items():
            if row.get(column):
                try:
                    labels[field] = validate(row[column])
                except ValueError as error:
                    yield Reject(str(path), f"{self.labels_path.name}: {error}", clip_id)
                    return
                tasks.append((task, labels[field]))
        media = {media_kind(path): path}
        gold = Labels(original=row.get("emotion") or None, **labels)
        for task, answer in tasks or [(Task.MER, None)]:
            yield make_record(f"{clip_id}-{task}", self.name, split, task, subtitle=row.get("subtitle"),
                              answer=answer, labels=gold, converter=self.name, **media)

