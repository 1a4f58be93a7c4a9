"""OV-MERD and MER-Caption+ (Lian et al., OV-MER ICML 2025 / AffectGPT ICML 2025), as released in
the MER2025 set (huggingface.co/datasets/MERChallenge/MER2025; the tree is the one drawn in
github.com/zeroQiaoba/MERTools MER2025/MER2025_Track23/README.md, and the reading follows its
loader my_affectgpt/datasets/datasets/ovmerd_dataset.py)::

    <root>/track2_train_ovmerd.csv           name, openset      (open-vocabulary emotion words)
    <root>/track3_train_ovmerd.csv           name, reason       (emotion description)
    <root>/track2_train_mercaptionplus.csv   name, openset      (MER-Caption+)
    <root>/track3_train_mercaptionplus.csv   name, reason
    <root>/subtitle_chieng.csv               name, chinese, english
    <root>/video/<name>.mp4                  (video/video/ after unpacking the archive)
    <root>/audio/<name>.wav, openface_face/  (not read: the video carries the audio)

`openset` is a list of words, written as a Python-style list ("['happy', 'relieved']") or
comma-separated; an empty list means neutral (as the loader reads it). Each clip gives an
OV-MER record (answer: the words, comma-separated) and, where track3 has a description, an ERI
record (answer: the description; `labels.emotions` the clip's words, `labels.clues` the
description: what ERI scoring checks against). Option `subset`: "ovmerd" (default),
"mercaptionplus" or "all".

Splits: the release has no split files. OV-MERD is the human-checked set that AffectGPT's
MER-UniBench evaluates open-vocabulary MER on, while MER-Caption+ is its training corpus, so by
default OV-MERD records are `test` and MER-Caption+ records `train`; option `split` (train /
validation / test) puts every record in one split instead (MER2025 trains on OV-MERD).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator

from data_pipeline.converters._common import (
    DatasetConverter,
    MediaIndex,
    find_file,
    read_table,
    record_id,
    split_name,
)
from data_pipeline.converters.base import make_record, register_converter
from data_pipeline.errors import ConfigError
from data_pipeline.schema import Labels, Record
from data_pipeline.tasks import Task

SUBSETS = {"ovmerd": ("ovmerd",), "mercaptionplus": ("mercaptionplus",), "all": ("ovmerd", "mercaptionplus")}
DEFAULT_SPLITS = {"ovmerd": "test", "mercaptionplus": "train"}  # MER-UniBench tests on OV-MERD


def parse_words(raw: str) -> list[str]:
    """Emotion words from "['a', 'b']" or "a, b" (Chinese commas too), lower-cased, de-duplicated."""
    text = (raw or "").strip()
    try:
        value = ast.literal_eval(text)
        items = value if isinstance(value, list | tuple) else [value]
    except (ValueError, SyntaxError):
        items = re.split(r"[,，、;；]", text.strip("[]"))
    words = [str(w).strip().strip("'\"").lower() for w in items]
    return list(dict.fromkeys(w for w in words if w))


@register_converter
class OVMERDConverter(DatasetConverter):
    name = "ovmerd"
    tasks = (Task.OV_MER, Task.ERI)
    label_set = "open_vocabulary"
    source = ("OV-MERD / MER-Caption+ in MER2025 (huggingface.co/datasets/MERChallenge/MER2025; layout and loader: "
              "github.com/zeroQiaoba/MERTools MER2025/MER2025_Track23)")

    def iter_records(self) -> Iterator[Record]:
        subset = self.option("subset", "ovmerd")
        if subset not in SUBSETS:
            raise ConfigError(f"{self.name}: option subset={subset!r}; choose from {', '.join(SUBSETS)}")
        split = self.options.get("split")
        split = split_name(split, f"{self.name} option split") if split else None
        videos = MediaIndex(self.root)
        subtitles = {r["name"]: r for r in self._table("subtitle_chieng.csv", ("name",), optional=True)}
        for part in SUBSETS[subset]:
            reasons = {r["name"]: r.get("reason") for r in self._table(f"track3_train_{part}.csv", ("name",), True)}
            for row in self._table(f"track2_train_{part}.csv", ("name", "openset")):
                name = row["name"]
                words = parse_words(row["openset"]) or ["neutral"]  # the loader's reading of an empty list
                common = self._common(name, videos, subtitles.get(name, {}), split or DEFAULT_SPLITS[part])
                yield make_record(record_id(self.name, part, name), answer=", ".join(words), task=Task.OV_MER,
                                  labels=Labels(emotions=words, original=row["openset"] or "[]"), **common)
                if reasons.get(name):
                    yield make_record(record_id(self.name, part, name, "eri"), answer=reasons[name], task=Task.ERI,
                                      labels=Labels(emotions=words, clues=[reasons[name]],
                                                    original=row["openset"] or "[]"),
                                      **common)
        self.report_rejects()

    def _table(self, name: str, required: tuple[str, ...], optional: bool = False) -> list[dict]:
        path = find_file(self.root, name)
        return [] if optional and not path.exists() else read_table(path, self.name, required)

    def _common(self, name: str, videos: MediaIndex, subtitle: dict, split: str) -> dict:
        text, language = subtitle.get("chinese"), "zh"
        if not text:
            text, language = subtitle.get("english"), "en"
        return {"dataset": self.name, "split": split, "converter": self.name,
                "video": videos.find(name) or self.root / "video" / f"{name}.mp4",
                "subtitle": text or None, "subtitle_language": language if text else None}
