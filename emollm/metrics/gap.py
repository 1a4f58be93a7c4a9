"""The perception-to-empathy gap: on the clips asked both MER and ERG, how often the MER answer
names the speaker's emotion and how often the ERG chain of empathy does ("Speaker emotion"),
and the difference. A model that knows the emotion but does not use it when it empathises shows
a large positive gap."""

from collections.abc import Mapping

from .classification import rounded
from .rewards import answer_reward, chain_emotion_correct
from .wheel import EmotionWheel, load_wheel


def perception_empathy_gap(mer: Mapping[str, tuple[str, str]], erg: Mapping[str, tuple[str, str]],
                           wheel: "EmotionWheel | None" = None) -> dict:
    """`mer` and `erg`: {clip: (gold emotion, answer)}. Scores the clips in both; the ERG chain is
    right when its "Speaker emotion" names the gold emotion and no other (as the ERG reward)."""
    wheel = load_wheel(wheel)
    clips = sorted(set(mer) & set(erg))
    mer_right = {c for c in clips if answer_reward("MER", mer[c][1], {"emotion": mer[c][0]}, wheel)}
    erg_right = {c for c in clips if chain_emotion_correct(erg[c][1], erg[c][0], wheel)}
    n = len(clips)
    mer_acc = rounded(len(mer_right) / n) if n else None
    erg_acc = rounded(len(erg_right) / n) if n else None
    return {"n": n, "mer_accuracy": mer_acc, "erg_emotion_accuracy": erg_acc,
            "gap": rounded(mer_acc - erg_acc) if n else None,
            "mer_right_erg_wrong": len(mer_right - erg_right), "erg_right_mer_wrong": len(erg_right - mer_right)}
