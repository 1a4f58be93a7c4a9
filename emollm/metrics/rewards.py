"""Verifiable rewards for the reinforcement phase, built from the project's own metrics: each is a
deterministic function of one answer and its record's labels, in [0, 1].

* `answer_reward`: the checkable answer is right. ERG: the chain's "Speaker emotion" names the
  gold emotion (its emotion-wheel group or basic emotion, so a synonym counts) and no other basic
  emotion; MER: the answer's emotion; MSA: its polarity; MIR: its intent; OV-MER: set F over
  wheel groups. Tasks without a checkable answer (ERI) give None (TRL leaves None out).
* `chain_reward` (ERG only): the chain of empathy is well formed (`parse_chain`); half credit
  for each field present when it is not, so a chain that is nearly right beats none at all.
* `copy_reward`: the reply is not a copy of the subtitle (`copies_subtitle`).
* `length_reward`: a format guard against reward hacking: the answer is as short as its task
  asks (one label word, a short list of emotions, a reply of a few sentences) and repeats no
  field.
"""

from __future__ import annotations

from collections.abc import Mapping

from .copying import copies_subtitle
from .open_vocab import set_precision_recall
from .parsing import parse_emotion, parse_emotion_set, parse_intent, parse_sentiment, sentiment_from_score
from .reasoning import CHAIN_FIELDS, parse_chain, split_reasoning
from .text import words
from .wheel import EmotionWheel, load_wheel

CHECKABLE_TASKS = ("MER", "MSA", "MIR", "OV-MER", "ERG")
# Most words an answer may have (the synthetic golds: MER/MSA 1, MIR <= 3, OV-MER <= 8 words; an
# ERG reply 8-20 words). Past the limit, the length reward is 0.
MAX_WORDS = {"MER": 3, "MSA": 3, "MIR": 5, "OV-MER": 12, "ERI": 80, "ERG": 40}
MIN_REPLY_WORDS = 3  # an ERG reply shorter than this says nothing


def answer_reward(task: str, completion: str, labels: Mapping, wheel: EmotionWheel | None = None) -> float | None:
    wheel = load_wheel(wheel)
    if task == "ERG":
        return float(chain_emotion_correct(completion, labels.get("emotion"), wheel))
    _, answer = split_reasoning(completion)
    if task == "MER":
        gold = parse_emotion(str(labels.get("emotion") or ""), wheel)
        return float(gold is not None and parse_emotion(answer, wheel) == gold)
    if task == "MSA":
        gold = labels.get("sentiment") or (sentiment_from_score(labels["sentiment_score"])
                                           if labels.get("sentiment_score") is not None else None)
        gold = parse_sentiment(str(gold), wheel) if gold else None
        return float(gold is not None and parse_sentiment(answer, wheel) == gold)
    if task == "MIR":
        gold = parse_intent(str(labels.get("intent") or ""))
        return float(gold is not None and parse_intent(answer) == gold)
    if task == "OV-MER":
        emotions = labels.get("emotions") or []
        gold = set(parse_emotion_set(", ".join(map(str, emotions)), wheel))
        if not gold:
            return None
        precision, recall = set_precision_recall(set(parse_emotion_set(answer, wheel)), gold)
        return 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return None


def chain_emotion_correct(completion: str, gold: str | None, wheel: EmotionWheel | None = None) -> bool:
    """The chain's "Speaker emotion" names the gold emotion and no other basic emotion (listing
    every emotion must not pay)."""
    wheel = load_wheel(wheel)
    if not gold:
        return False
    stated = parse_chain(completion).fields.get("Speaker emotion", "")
    gold_basic = parse_emotion(str(gold), wheel)
    named = wheel.basics_in(stated)
    return bool(named) and named == [gold_basic]


def chain_reward(task: str, completion: str) -> float | None:
    if task != "ERG":
        return None
    chain = parse_chain(completion)
    if chain.well_formed:
        return 1.0
    return 0.5 * sum(bool(chain.fields.get(f)) for f in CHAIN_FIELDS) / len(CHAIN_FIELDS)


def copy_reward(task: str, completion: str, subtitle: str | None) -> float | None:
    if not subtitle or task not in ("ERG", "ERI"):
        return None
    return 0.0 if copies_subtitle(split_reasoning(completion)[1], subtitle) else 1.0


def length_reward(task: str, completion: str) -> float:
    reasoning, answer = split_reasoning(completion)
    count = len(words(answer))
    if count > MAX_WORDS.get(task, 40) or count == 0:
        return 0.0
    if task == "ERG":
        if count < MIN_REPLY_WORDS or reasoning is None:
            return 0.0
        stated = parse_chain(completion).fields.get("Speaker emotion", "")
        if len(words(stated)) > 3:  # the emotion field is one emotion, not a list of candidates
            return 0.0
    elif reasoning is not None:
        return 0.0  # only ERG thinks aloud
    return 1.0

