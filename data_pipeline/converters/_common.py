"""Shared parts of the dataset converters: label-table reading, a media index, split names,
and the MER/MSA record builders (so every converter asks and answers the same way)."""

from __future__ import annotations

import csv
import io
import logging
import os
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from data_pipeline.clip import VIDEO_SUFFIXES
from data_pipeline.converters.base import Converter, Reject, make_record
from data_pipeline.errors import UserFacingError
from data_pipeline.labels import EMOTION_POLARITY, map_emotion
from data_pipeline.schema import Labels, Record, Split
from data_pipeline.tasks import Task

logger = logging.getLogger(__name__)


_SPLITS: dict[str, Split] = {
    "train": "train", "training": "train", "dev": "validation", "valid": "validation", "val": "validation",
    "validation": "validation", "test": "test", "testing": "test",
}


def split_name(raw: str, where: str = "") -> Split:
    try:
        return _SPLITS[str(raw).strip().lower()]
    except KeyError:
        raise UserFacingError(f"{where}: unknown split {raw!r}; expected one of {sorted(_SPLITS)}") from None


def require_file(path: Path, dataset: str, what: str = "label file") -> Path:
    if not path.is_file():
        raise UserFacingError(f"{dataset}: {what} not found: {path}")
    return path


def read_text(path: Path, dataset: str) -> str:
    """A label file's text: UTF-8 (BOM allowed), else Windows-1252 (MELD's CSVs have such bytes)."""
    data = require_file(path, dataset).read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def read_table(path: Path, dataset: str, required: Iterable[str] = (), delimiter: str = ",") -> list[dict]:
    """Rows of a CSV/TSV with a header; missing columns are an error naming them."""
    reader = csv.DictReader(io.StringIO(read_text(path, dataset), newline=""), delimiter=delimiter)
    fields = [f.strip() for f in reader.fieldnames or []]
    missing = [c for c in required if c not in fields]
    if missing:
        raise UserFacingError(f"{dataset}: {path} lacks column(s) {', '.join(missing)} (has: {', '.join(fields)})")
    return [{(k or "").strip(): (v.strip() if isinstance(v, str) else v) for k, v in row.items()} for row in reader]


def read_rows(path: Path, dataset: str, delimiter: str, header: bool) -> list[tuple[str, list[str]]]:
    """(file:line, cells) of a table read by position (header names vary between releases);
    blank lines dropped. Converters reject short rows one by one."""
    rows = csv.reader(io.StringIO(read_text(path, dataset), newline=""), delimiter=delimiter)
    return [(f"{path}:{number}", [cell.strip() for cell in row])
            for number, row in enumerate(rows, 1) if (number > 1 or not header) and any(c.strip() for c in row)]


def find_file(root: Path, name: str) -> Path:
    """`root/name`, else the same name one or two folders down (archives unpack a level deeper;
    a full recursive search would crawl millions of extracted frames)."""
    for pattern in (name, f"*/{name}", f"*/*/{name}"):
        found = sorted(root.glob(pattern))
        if found:
            return found[0]
    return root / name


def record_id(dataset: str, *parts: object) -> str:
    """A stable id without path separators (ids name cache entries and files)."""
    return dataset + "-" + "_".join(str(p).replace("/", "_").replace("\\", "_").replace(" ", "_") for p in parts)


def first_existing(*candidates: Path) -> Path:
    """The first candidate that exists, else the first one (prepare then rejects it as missing)."""
    return next((c for c in candidates if c.exists()), candidates[0])


class MediaIndex:
    """Media files under a folder by stem, from one directory walk: layouts differ between
    releases of a dataset (folder names, .mp4 vs .avi), the file stems do not."""

    def __init__(self, root: Path, suffixes: frozenset[str] = VIDEO_SUFFIXES):
        self.by_stem: dict[str, list[Path]] = {}
        if root.is_dir():
            for folder, _, files in os.walk(root):
                for name in files:
                    stem, suffix = os.path.splitext(name)
                    if suffix.lower() in suffixes:
                        self.by_stem.setdefault(stem, []).append(Path(folder) / name)

    def find(self, stem: str, under: str | None = None) -> Path | None:
        """The file named `stem` (optionally whose path contains the folder part `under`)."""
        paths = self.by_stem.get(stem, [])
        if under is not None:
            paths = [p for p in paths if f"/{under.strip('/')}/" in p.as_posix()]
        return sorted(paths)[0] if paths else None


class DatasetConverter(Converter):
    """Converter that yields a `Reject` (listed in rejects.jsonl by prepare) for each input row it
    can't turn into a record, and logs a tally of them once at the end."""

    def __init__(self, root: Path, **options):
        super().__init__(root, **options)
        self.rejected: Counter[str] = Counter()

    def reject(self, where: object, reason: str, id: str | None = None, kind: str | None = None) -> Reject:
        """`kind` groups the tally in the log (default: the reason)."""
        self.rejected[kind or reason] += 1
        return Reject(str(where), f"{self.name}: {reason}", id)

    def report_rejects(self) -> None:
        if self.rejected:
            summary = ", ".join(f"{count} x {reason}" for reason, count in self.rejected.most_common())
            logger.info("%s: rejected %s", self.name, summary)

    def option(self, key: str, default):
        value = self.options.get(key, default)
        return type(default)(value) if default is not None and value is not None else value


def emotion_record(converter: Converter, id: str, split: Split, label: str, *, video=None, audio=None,
                   image=None, subtitle: str | None = None, subtitle_language: str | None = None) -> Record | None:
    """A MER record answering the mapped basic emotion; None when the label has no basic class."""
    emotion = map_emotion(label)
    if emotion is None:
        return None
    labels = Labels(emotion=emotion, sentiment=EMOTION_POLARITY[emotion], original=str(label))
    return make_record(record_id(converter.name, id), converter.name, split, Task.MER, video=video, audio=audio,
                       image=image, subtitle=subtitle or None, subtitle_language=subtitle_language,
                       answer=emotion, labels=labels, converter=converter.name)


def polarity(score: float) -> str:
    """3-class polarity from a signed sentiment score (MOSI/MOSEI [-3, 3], SIMS [-1, 1])."""
    return "positive" if score > 0 else "negative" if score < 0 else "neutral"


def sentiment_record(converter: Converter, id: str, split: Split, score: float, *, video=None,
                     subtitle: str | None = None, subtitle_language: str | None = None,
                     original: str | None = None) -> Record:
    label = polarity(score)
    labels = Labels(sentiment=label, sentiment_score=float(score), original=original or str(score))
    return make_record(record_id(converter.name, id), converter.name, split, Task.MSA, video=video,
                       subtitle=subtitle or None, subtitle_language=subtitle_language, answer=label,
                       labels=labels, converter=converter.name)


def without_audio(record: Record) -> Record:
    """Mark a record visual-only (silent video sets): prepare must not look for a track."""
    record.media.has_audio = False
    record.media.audio = None
    return record
