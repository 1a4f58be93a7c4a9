"""AvaMERG: Avatar-based Multimodal Empathetic Response Generation (Zhang et al., 2025),
huggingface.co/datasets/ZhangHanXD/AvaMERG, AvaMERG.github.io.

Layout of the release (the split JSONs and one flat media folder beside them; file names as the
public loaders parse them, e.g. github.com/eccentricman/AvaMERG-Pipeline
merg_code/scripts/download_avamerge.py)::

    <root>/{train,valid,test}.json       a list of conversations:
        {"conversation_id": "00012", "topic": ..., "speaker_profile": {...}, "listener_profile": {...},
         "turns": [{"dialogue_history": [{"role": "speaker"|"listener", "utterance": "..."}, ...],
                    "response": "...",
                    "chain_of_empathy": {"event_scenario", "speaker_emotion", "emotion_cause",
                                         "goal_to_response"}}, ...]}
    <root>/<media folder>/dia{conversation_id:05d}utt{k}_{speaker or listener id}.mp4 / .wav
        k = 0-based index of the utterance in the conversation

The same loaders' training code renames the files to `dia{D}utt{k+1}.mp4` (D without leading
zeros) under `<split>/video|audio/`; that arrangement is read too. Media are found by name
anywhere below the root (one walk), preferring a folder named after the split.

One ERG record per turn: history -> conversation, the last speaker utterance (and its avatar
video, audio) -> the input, answer = chain of empathy (<think>) + response.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

from data_pipeline.clip import AUDIO_SUFFIXES, VIDEO_SUFFIXES
from data_pipeline.converters._common import DatasetConverter, MediaIndex, find_file, read_text
from data_pipeline.converters._dialogue import erg_record
from data_pipeline.converters.base import register_converter
from data_pipeline.errors import UserFacingError
from data_pipeline.schema import Record
from data_pipeline.tasks import Task

SPLITS = (("train", ("train.json",)), ("validation", ("valid.json", "val.json", "dev.json")), ("test", ("test.json",)))
SPLIT_FOLDERS = {"train": ("train",), "validation": ("valid", "val", "dev", "validation"), "test": ("test",)}
RELEASE_NAME = re.compile(r"^dia(\d+)utt(\d+)_")  # dia00012utt2_<id>: 0-based utterance index
RENAMED = re.compile(r"^dia(\d+)utt(\d+)$")  # dia12utt3: 1-based (the loaders' renamed copies)


class UtteranceMedia:
    """(conversation number, 0-based utterance index) -> files, over both naming schemes."""

    def __init__(self, root: Path, suffixes: frozenset[str]):
        self.files: dict[tuple[int, int], list[Path]] = {}
        for stem, paths in MediaIndex(root, suffixes).by_stem.items():
            release, renamed = RELEASE_NAME.match(stem), RENAMED.match(stem)
            if release:
                key = (int(release[1]), int(release[2]))
            elif renamed:
                key = (int(renamed[1]), int(renamed[2]) - 1)
            else:
                continue
            self.files.setdefault(key, []).extend(paths)

    def find(self, dialogue: int, index: int, split: str) -> Path | None:
        paths = sorted(self.files.get((dialogue, index), []))
        preferred = [p for p in paths if set(p.parts) & set(SPLIT_FOLDERS[split])]
        return (preferred or paths or [None])[0]


@register_converter
class AvaMERGConverter(DatasetConverter):
    name = "avamerg"
    tasks = (Task.ERG,)
    label_set = "emotion7"
    source = ("AvaMERG (huggingface.co/datasets/ZhangHanXD/AvaMERG): {train,valid,test}.json + a flat media folder "
              "dia{id:05d}utt{k}_{speaker/listener}.mp4/.wav (as github.com/eccentricman/AvaMERG-Pipeline reads it)")

    def iter_records(self) -> Iterator[Record]:
        found = False
        videos, audios = UtteranceMedia(self.root, VIDEO_SUFFIXES), UtteranceMedia(self.root, AUDIO_SUFFIXES)
        for split, names in SPLITS:
            path = next((p for p in (find_file(self.root, n) for n in names) if p.exists()), None)
            if path is None:
                continue
            found = True
            try:
                conversations = json.loads(read_text(path, self.name))
            except json.JSONDecodeError as error:
                raise UserFacingError(f"{self.name}: {path} is not valid JSON ({error})") from None
            for conversation in conversations:
                yield from self._conversation(path, split, conversation, videos, audios)
        if not found:
            raise UserFacingError(f"{self.name}: no train.json/valid.json/test.json under {self.root}")
        self.report_rejects()

    def _conversation(self, path: Path, split: str, conversation: dict, videos: UtteranceMedia,
                      audios: UtteranceMedia) -> Iterator[Record]:
        conversation_id = str(conversation.get("conversation_id", ""))
        if not conversation_id.isdigit():
            yield self.reject(path, f"conversation id {conversation_id!r} is not a number",
                              kind="conversations without a numeric id")
            return
        dialogue = int(conversation_id)
        for index, turn in enumerate(conversation.get("turns") or []):
            history = [str(t.get("utterance", "")).strip() for t in turn.get("dialogue_history") or []]
            reply = str(turn.get("response") or "").strip()
            if not history or not history[-1] or not reply:
                yield self.reject(path, f"conversation {conversation_id} turn {index}: "
                                  "no dialogue history or no response", kind="turns without history or response")
                continue
            chain = turn.get("chain_of_empathy") or {}
            utterance = len(history) - 1  # the speaker's last utterance, 0-based in the conversation
            video = videos.find(dialogue, utterance, split)
            expected = path.parent / f"dia{dialogue:05d}utt{utterance}_speaker.mp4"  # named in the reject
            yield erg_record(self, f"{conversation_id}_{index}", split, history, reply,
                             chain.get("speaker_emotion"), chain, video=video or expected,
                             audio=audios.find(dialogue, utterance, split))
