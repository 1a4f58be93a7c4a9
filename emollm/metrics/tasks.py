"""One scorer per task, dispatched by name through SCORERS. Every scorer takes the model's answers
and the gold reference dicts and returns a JSON-serialisable dict; `score_task` adds the task
name, the subtitle-copy rate and what the report needs to know about the wheel."""

import functools
from collections.abc import Callable, Sequence
from pathlib import Path

from .classification import classification_scores, rounded
from .copying import subtitle_copy_rate
from .errors import MetricsInputError
from .generation import corpus_bleu, distinct_n, rouge_l
from .judge import NO_JUDGE, Judge, JudgeConfig, resolve_judge
from .labels import BINARY_SENTIMENTS, INTENTS, SENTIMENTS
from .open_vocab import set_scores
from .parsing import parse_emotion, parse_emotion_set, parse_intent, parse_sentiment, sentiment_from_score
from .reasoning import parse_chain, split_reasoning
from .wheel import EmotionWheel, load_wheel

Scorer = Callable[..., dict]
SCORERS: dict[str, Scorer] = {}


def scorer(name: str) -> Callable[[Scorer], Scorer]:
    """Register a task's scorer under `name`, checking the inputs every scorer relies on."""

    def register(fn: Scorer) -> Scorer:
        @functools.wraps(fn)
        def checked(predictions: Sequence[str], references: Sequence[dict], **kwargs) -> dict:
            if len(predictions) != len(references):
                raise MetricsInputError(f"{name}: {len(predictions)} predictions but {len(references)} references")
            bad = [i for i, p in enumerate(predictions) if not isinstance(p, str)]
            if bad:
                raise MetricsInputError(f"{name}: predictions at {bad[:10]} are not strings")
            return fn(predictions, references, **kwargs)

        SCORERS[name] = checked
        return checked

    return register


def gold_field(references: Sequence[dict], name: str, task: str) -> list:
    """references[i][name] for every i; a missing or empty field is an error naming the sample."""
    values = []
    for i, ref in enumerate(references):
        value = ref.get(name) if isinstance(ref, dict) else None
        if value is None or value == "" or value == []:
            raise MetricsInputError(f"{task}: reference {i} has no {name!r} (got {ref!r})")
        values.append(value)
    return values


def gold_labels(values: Sequence, parse: Callable[[str], str | None], task: str, name: str) -> list[str]:
    """Gold labels mapped into the task's label set through the same parser as the answers
    ("joy" -> happy); a gold label that does not map is an error, never a silent skip."""
    labels = []
    for i, value in enumerate(values):
        label = parse(str(value))
        if label is None:
            raise MetricsInputError(f"{task}: reference {i} has {name} {value!r}, which is not in the label set")
        labels.append(label)
    return labels


@scorer("MER")
def score_mer(predictions: Sequence[str], references: Sequence[dict], *, wheel=None, **_) -> dict:
    """Basic emotion recognition: accuracy (= WAR), WAF, UAR, macro F1, confusion, and the
    MER-UniBench hit rate (any emotion word of the answer in the gold's basic emotion; `hit_rate_group`
    asks for the gold's own wheel group)."""
    wheel = load_wheel(wheel)
    raw_golds = gold_field(references, "emotion", "MER")
    golds = gold_labels(raw_golds, lambda v: parse_emotion(v, wheel), "MER", "emotion")
    gold_groups = [wheel.main_group(str(v)) for v in raw_golds]
    result = classification_scores(golds, [parse_emotion(p, wheel) for p in predictions], wheel.basic)
    result["war"] = result["accuracy"]
    n = len(predictions)
    hits = sum(g in wheel.basics_in(p) for p, g in zip(predictions, golds, strict=True))
    group_hits = sum(g in wheel.groups_in(p) for p, g in zip(predictions, gold_groups, strict=True))
    result["hit_rate"] = rounded(hits / n) if n else None
    result["hit_rate_group"] = rounded(group_hits / n) if n else None
    return result


def _msa_golds(references: Sequence[dict], wheel: EmotionWheel) -> list[str]:
    golds = []
    for i, ref in enumerate(references):
        if ref.get("sentiment") not in (None, ""):
            golds.append(gold_labels([ref["sentiment"]], lambda v: parse_sentiment(v, wheel), "MSA", "sentiment")[0])
        elif isinstance(ref.get("sentiment_score"), int | float):
            golds.append(sentiment_from_score(float(ref["sentiment_score"])))
        else:
            raise MetricsInputError(f"MSA: reference {i} has neither 'sentiment' nor a numeric 'sentiment_score'")
    return golds


@scorer("MSA")
def score_msa(predictions: Sequence[str], references: Sequence[dict], *, wheel=None, **_) -> dict:
    """Sentiment: 3-class scores, and binary scores over the non-neutral golds only (as the
    CMU-MOSI/MOSEI papers report Acc-2/F1); a neutral or unparsed answer there counts as wrong."""
    wheel = load_wheel(wheel)
    golds = _msa_golds(references, wheel)
    preds = [parse_sentiment(p, wheel) for p in predictions]
    result = classification_scores(golds, preds, SENTIMENTS)
    keep = [i for i, g in enumerate(golds) if g != "neutral"]
    binary_preds = [preds[i] if preds[i] in BINARY_SENTIMENTS else None for i in keep]
    binary = classification_scores([golds[i] for i in keep], binary_preds, BINARY_SENTIMENTS)
    # Indices of the binary subset refer back to the full prediction list.
    binary["unparsed_indices"] = [keep[j] for j in binary["unparsed_indices"]]
    binary["note"] = "non-neutral golds only; neutral or unparsed answers count as wrong"
    result["binary"] = binary
    return result


@scorer("MIR")
def score_mir(predictions: Sequence[str], references: Sequence[dict], **_) -> dict:
    """Intent recognition over the 20 MIntRec intents: accuracy, weighted F1, macro F1, confusion."""
    golds = gold_labels(gold_field(references, "intent", "MIR"), parse_intent, "MIR", "intent")
    return classification_scores(golds, [parse_intent(p) for p in predictions], INTENTS)


@scorer("OV-MER")
def score_ov_mer(predictions: Sequence[str], references: Sequence[dict], *, wheel=None, **_) -> dict:
    """Open-vocabulary MER: set precision/recall/F over wheel groups, and the same at basic level."""
    wheel = load_wheel(wheel)
    gold_raw = [v if isinstance(v, str) else ", ".join(map(str, v)) for v in gold_field(references, "emotions", "OV-MER")]
    golds = [set(parse_emotion_set(v, wheel)) for v in gold_raw]
    preds = [set(parse_emotion_set(p, wheel)) for p in predictions]
    unparsed = [i for i, p in enumerate(preds) if not p]
    basic = [{wheel.parent_of(g) or g for g in groups} for groups in (*preds, *golds)]
    return {"n": len(preds), **set_scores(preds, golds),
            "basic": set_scores(basic[: len(preds)], basic[len(preds):]),
            "unparsed": len(unparsed), "unparsed_indices": unparsed}


def _eri_golds(references: Sequence[dict], wheel: EmotionWheel) -> tuple[list[str], list[set[str]]]:
    """Each reference's gold emotion text (for the judge) and its wheel groups. A reference gives one
    `emotion` (synthetic, MER-style sets; off the wheel is an error naming the sample) or, as
    OV-MERD does, its open-vocabulary `emotions` (words off the wheel give no group; a sample
    with none on it is left out of the label hit). Neither field is an error naming the sample."""
    texts, groups = [], []
    for i, ref in enumerate(references):
        ref = ref if isinstance(ref, dict) else {}
        if ref.get("emotion") not in (None, ""):
            text = str(ref["emotion"])
            found = {wheel.main_group(text)} - {None}
        elif ref.get("emotions"):
            words = ref["emotions"] if isinstance(ref["emotions"], list | tuple) else [ref["emotions"]]
            text = ", ".join(map(str, words))
            found = {g for g in (wheel.main_group(str(w)) for w in words) if g}
        else:
            raise MetricsInputError(f"ERI: reference {i} has neither 'emotion' nor 'emotions' (got {ref!r})")
        if not found and "emotion" in ref and ref["emotion"] not in (None, ""):
            raise MetricsInputError(f"ERI: reference {i} has emotion {text!r}, which is not in the label set")
        texts.append(text)
        groups.append(found)
    return texts, groups


@scorer("ERI")
def score_eri(predictions: Sequence[str], references: Sequence[dict], *, wheel=None, judge=None, **_) -> dict:
    """Emotion reasoning: judged clue/label overlap (0-10) when a judge is configured, and a local
    label hit (a gold emotion's wheel group, or its basic emotion, is asserted in the text; with
    several gold words, as OV-MERD has, any of them counts)."""
    wheel = load_wheel(wheel)
    emotions, gold_groups = _eri_golds(references, wheel)
    n = len(predictions)
    groups = [wheel.groups_in(p) for p in predictions]
    unparsed = [i for i, g in enumerate(groups) if not g]
    off_wheel = [i for i, gold in enumerate(gold_groups) if not gold]
    pairs = [(gold, set(found)) for gold, found in zip(gold_groups, groups, strict=True) if gold]
    hits = sum(bool(gold & found) for gold, found in pairs)
    basic_hits = sum(bool({wheel.parent_of(g) for g in gold} & {wheel.parent_of(x) for x in found})
                     for gold, found in pairs)
    scored = len(pairs)
    client = resolve_judge(judge)
    if client is None:
        judged = dict(NO_JUDGE)
    elif not n:
        judged = {**NO_JUDGE, "status": "not computed (no samples)"}
    else:
        clues = [ref.get("clues") for ref in references]
        judged = client.score_eri(predictions, clues, emotions)
    return {"n": n, "label_hit": rounded(hits / scored) if scored else None,
            "label_hit_basic": rounded(basic_hits / scored) if scored else None,
            "gold_off_wheel": len(off_wheel), "gold_off_wheel_indices": off_wheel,
            "unparsed": len(unparsed), "unparsed_indices": unparsed, "judge": judged}


@scorer("ERG")
def score_erg(predictions: Sequence[str], references: Sequence[dict], *, wheel=None, **_) -> dict:
    """Empathetic response generation: emotion accuracy/hit of the chain's "Speaker emotion",
    share of well-formed chains, Dist-1/2 of the replies, BLEU and ROUGE-L against the references."""
    wheel = load_wheel(wheel)
    raw_golds = [str(e) for e in gold_field(references, "emotion", "ERG")]
    golds = gold_labels(raw_golds, lambda v: parse_emotion(v, wheel), "ERG", "emotion")
    gold_groups = [wheel.main_group(v) for v in raw_golds]
    refs = [str(r) for r in gold_field(references, "reply", "ERG")]
    chains = [parse_chain(p) for p in predictions]
    stated = [c.fields.get("Speaker emotion", "") for c in chains]
    emotion = classification_scores(golds, [parse_emotion(s, wheel) for s in stated], wheel.basic)
    n = len(predictions)
    hits = sum(g in wheel.groups_in(s) for g, s in zip(gold_groups, stated, strict=True))
    replies = [c.reply for c in chains]
    malformed = [i for i, c in enumerate(chains) if not c.well_formed]
    return {"n": n, "emotion_accuracy": emotion["accuracy"],
            "emotion_hit": rounded(hits / n) if n else None,
            "emotion_unparsed": emotion["unparsed"], "emotion_unparsed_indices": emotion["unparsed_indices"],
            "confusion": emotion["confusion"],
            "well_formed": rounded(1 - len(malformed) / n) if n else None,
            "malformed_indices": malformed,
            "malformed_reasons": [{"index": i, "problems": chains[i].problems} for i in malformed[:20]],
            "dist_1": distinct_n(replies, 1), "dist_2": distinct_n(replies, 2),
            **corpus_bleu(replies, refs), "rouge_l": rouge_l(replies, refs)}


def task_name(task: str) -> str:
    name = task.strip().upper().replace("_", "-")
    if name not in SCORERS:
        raise MetricsInputError(f"unknown task {task!r}; known tasks: {', '.join(SCORERS)}")
    return name


def score_task(task: str, predictions: Sequence[str], references: Sequence[dict], *,
               subtitles: Sequence[str | None] | None = None,
               wheel: "str | Path | EmotionWheel | None" = None,
               judge: "Judge | JudgeConfig | dict | None" = None) -> dict:
    """Score one task's answers; see docs/metrics.md for every key of the result."""
    name = task_name(task)
    built = load_wheel(wheel)
    result = {"task": name, **SCORERS[name](predictions, references, wheel=built, judge=judge)}
    if subtitles is not None:
        answers = [split_reasoning(p)[1] for p in predictions]
        result["subtitle_copy"] = subtitle_copy_rate(answers, subtitles)
    else:
        result["subtitle_copy"] = None
    result["wheel"] = built.describe()
    return result

