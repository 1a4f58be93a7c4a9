"""ERG records from dialogues (AvaMERG, EmpatheticDialogues): the speaker's last utterance is the
subtitle (with its clip, if any), the listener's reply is the answer, and earlier turns go into a
system turn. They stay out of separate user turns because the model's record->inputs step puts
media (and subtitle ablations) on the first user turn, which must be the one with the clip."""

from __future__ import annotations

from pathlib import Path

from data_pipeline.converters._common import record_id
from data_pipeline.converters.base import Converter, make_record
from data_pipeline.labels import map_emotion
from data_pipeline.schema import Labels, Record
from data_pipeline.tasks import Task, format_empathy_answer

CHAIN_KEYS = ("event_scenario", "speaker_emotion", "emotion_cause", "goal_to_response")


def empathy_answer(reply: str, chain: dict | None) -> str:
    """The chain of empathy + reply when the dataset gives all four fields, else the reply alone."""
    if chain and all(str(chain.get(k) or "").strip() for k in CHAIN_KEYS):
        return format_empathy_answer(*(str(chain[k]).strip() for k in CHAIN_KEYS), reply)
    return reply


def erg_record(converter: Converter, id: str, split: str, history: list[str], reply: str,
               emotion_label: str | None, chain: dict | None = None, video: Path | None = None,
               audio: Path | None = None) -> Record:
    """history: the utterances so far, alternating speaker/listener, ending with the speaker."""
    return make_record(record_id(converter.name, id), converter.name, split, Task.ERG, video=video, audio=audio,
                       subtitle=history[-1], subtitle_language="en", answer=empathy_answer(reply, chain),
                       labels=Labels(emotion=map_emotion(emotion_label), reply=reply, original=emotion_label),
                       system=history_prompt(history[:-1]), converter=converter.name)


def history_prompt(earlier: list[str]) -> str | None:
    """Earlier turns, oldest first, alternating speaker / you (the listener), ending with you."""
    if not earlier:
        return None
    names = ["Speaker" if (len(earlier) - i) % 2 == 0 else "You" for i in range(len(earlier))]
    return "Earlier in this conversation:\n" + "\n".join(f"{n}: {t}" for n, t in zip(names, earlier, strict=True))
