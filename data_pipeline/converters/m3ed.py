"""M3ED: Multi-modal Multi-scene Multi-label Emotional Dialogue (Zhao et al., ACL 2022),
github.com/aim3-ruc/RUCM3ED.

Layout of the release::

    <root>/annotation.json
        {movie: {dialog: {"SpeakerInfo": {...},
                          "Dialog": {utt_id: {"Speaker": "A", "Text": "...", "StartTime": ..., "EndTime": ...,
                                              "EmoAnnotation": {"final_main_emo": "Happy", ...}}}}}}
    <root>/splitInfo/movie_list_{train,val,test}.txt     movie names, one per line (official split)
    <root>/modality_speech/{Speaker}_{utt_id}.wav        (a video <Speaker>_<utt_id>.mp4 anywhere
                                                          under root is used when present)

Chinese TV dialogue: the text becomes a Chinese subtitle; final_main_emo (English or Chinese
words) maps to the basic emotions and is kept in `Labels.original`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

from data_pipeline.clip import AUDIO_SUFFIXES, VIDEO_SUFFIXES
from data_pipeline.converters._common import (
    DatasetConverter,
    MediaIndex,
    emotion_record,
    find_file,
    read_text,
)
from data_pipeline.converters.base import register_converter
from data_pipeline.errors import UserFacingError
from data_pipeline.schema import Record
from data_pipeline.tasks import Task

SPLITS = (("train", "movie_list_train.txt"), ("validation", "movie_list_val.txt"), ("test", "movie_list_test.txt"))


@register_converter
class M3EDConverter(DatasetConverter):
    name = "m3ed"
    tasks = (Task.MER,)
    label_set = "emotion7"
    source = "M3ED (Zhao et al., ACL 2022), github.com/aim3-ruc/RUCM3ED (annotation.json, splitInfo/)"

    def iter_records(self) -> Iterator[Record]:
        path = find_file(self.root, "annotation.json")
        try:
            annotation = json.loads(read_text(path, self.name))
        except json.JSONDecodeError as error:
            raise UserFacingError(f"{self.name}: {path} is not valid JSON ({error})") from None
        movie_split = self._splits(path.parent)
        media = MediaIndex(self.root, VIDEO_SUFFIXES | AUDIO_SUFFIXES)
        for movie, dialogs in annotation.items():
            split = movie_split.get(movie)
            if split is None:
                yield self.reject(path, f"movie {movie!r} is in no splitInfo/movie_list_*.txt",
                                  kind="movies in no split list")
                continue
            for dialog in dialogs.values():
                for utt_id, utterance in dialog.get("Dialog", {}).items():
                    yield from self._record(media, path.parent, split, utt_id, utterance)
        self.report_rejects()

    def _splits(self, base) -> dict[str, str]:
        movie_split = {}
        for split, name in SPLITS:
            listing = base / "splitInfo" / name
            if listing.exists():
                movie_split.update({line.strip(): split for line in read_text(listing, self.name).splitlines()
                                    if line.strip()})
        if not movie_split:
            raise UserFacingError(f"{self.name}: no splitInfo/movie_list_*.txt under {base}")
        return movie_split

    def _record(self, media: MediaIndex, base, split: str, utt_id: str, utterance: dict) -> Iterator[Record]:
        stem = f"{utterance.get('Speaker', '')}_{utt_id}"
        found = media.find(stem)
        video = found if found is not None and found.suffix.lower() in VIDEO_SUFFIXES else None
        audio = None if video else (found or base / "modality_speech" / f"{stem}.wav")
        label = (utterance.get("EmoAnnotation") or {}).get("final_main_emo")
        record = emotion_record(self, stem, split, label, video=video, audio=audio,
                                subtitle=utterance.get("Text"), subtitle_language="zh")
        yield record or self.reject(base / "annotation.json", f"{utt_id}: emotion {label!r} has no basic class",
                                    kind=f"emotion {label!r} has no basic class")
