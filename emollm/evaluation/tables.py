"""Markdown tables from metrics.json's `runs` ({run: {task: {dataset: scores}}}), in the layouts
papers in this field print: a MER-UniBench table (dataset columns, average; rows = model and its
ablations), one table per task with a row per dataset, and a table of what removing each
modality costs. Rates are printed x100 with two decimals; judge scores on their 0-10 scale;
"n/c" is a metric that was not computed (never a zero)."""

from __future__ import annotations

from collections.abc import Callable

from data_pipeline.tables import markdown_table
from emollm.evaluation.scoring import FULL_RUN, unparsed_count

NOT_COMPUTED = "n/c"
# MER-UniBench: hit rate for basic-emotion sets, weighted F1 for sentiment sets, set F for OV-MER.
BENCHMARK_COLUMNS = (("MER", "hit_rate"), ("MSA", "waf"), ("OV-MER", "f1"))
HEADLINE = {"MER": ("Acc", "accuracy"), "MSA": ("Acc", "accuracy"), "OV-MER": ("set F", "f1"),
            "ERI": ("label hit", "label_hit"), "MIR": ("Acc", "accuracy"), "ERG": ("emotion Acc", "emotion_accuracy")}
ABLATION_METRICS = {
    "MER": (("Acc", "accuracy"), ("WAF", "waf")), "MSA": (("Acc", "accuracy"), ("WAF", "waf")),
    "OV-MER": (("set F", "f1"),), "ERI": (("label hit", "label_hit"),),
    "MIR": (("Acc", "accuracy"), ("WAF", "waf")),
    "ERG": (("emotion Acc", "emotion_accuracy"), ("well-formed chain", "well_formed")),
}


def pct(value) -> str:
    return NOT_COMPUTED if value is None else f"{100 * value:.2f}"


def plain(value) -> str:
    return NOT_COMPUTED if value is None else f"{value:.2f}"


def _get(*path: str) -> Callable[[dict], object]:
    def get(scores: dict):
        for key in path:
            scores = scores.get(key) if isinstance(scores, dict) else None
        return scores
    return get


def _chance(scores: dict) -> str:
    chance = scores.get("chance") or {}
    return f"{pct(chance.get('uniform'))} / {pct(chance.get('majority'))}"


def _unparsed(task: str) -> Callable[[dict], str]:
    return lambda s: f"{unparsed_count(task, s)}/{s.get('n', 0)}"


def _copy_rate(scores: dict) -> str:
    copy = scores.get("subtitle_copy") or {}
    return pct(copy.get("rate"))


Column = tuple[str, Callable[[dict], str]]
_COUNT: list[Column] = [("n", lambda s: str(s.get("n", 0)))]
TASK_COLUMNS: dict[str, list[Column]] = {
    "MER": [("Acc (WAR)", lambda s: pct(s.get("accuracy"))), ("WAF", lambda s: pct(s.get("waf"))),
            ("UAR", lambda s: pct(s.get("uar"))), ("hit rate", lambda s: pct(s.get("hit_rate"))),
            ("chance uniform / majority", _chance)],
    "MSA": [("Acc-3", lambda s: pct(s.get("accuracy"))), ("WAF-3", lambda s: pct(s.get("waf"))),
            ("Acc-2", lambda s: pct(_get("binary", "accuracy")(s))), ("F1-2", lambda s: pct(_get("binary", "waf")(s))),
            ("chance uniform / majority", _chance)],
    "OV-MER": [("precision", lambda s: pct(s.get("precision"))), ("recall", lambda s: pct(s.get("recall"))),
               ("set F", lambda s: pct(s.get("f1"))), ("set F (basic)", lambda s: pct(_get("basic", "f1")(s)))],
    "ERI": [("label hit", lambda s: pct(s.get("label_hit"))), ("label hit (basic)", lambda s: pct(s.get("label_hit_basic"))),
            ("judge clue 0-10", lambda s: plain(_get("judge", "clue_overlap")(s))),
            ("judge label 0-10", lambda s: plain(_get("judge", "label_overlap")(s))),
            ("judge", lambda s: str(_get("judge", "status")(s) or NOT_COMPUTED)), ("copies subtitle", _copy_rate)],
    "MIR": [("Acc", lambda s: pct(s.get("accuracy"))), ("WAF", lambda s: pct(s.get("waf"))),
            ("macro F1", lambda s: pct(s.get("macro_f1"))), ("chance uniform / majority", _chance)],
    "ERG": [("emotion Acc", lambda s: pct(s.get("emotion_accuracy"))), ("emotion hit", lambda s: pct(s.get("emotion_hit"))),
            ("well-formed chain", lambda s: pct(s.get("well_formed"))), ("Dist-1", lambda s: pct(s.get("dist_1"))),
            ("Dist-2", lambda s: pct(s.get("dist_2"))), ("BLEU", lambda s: plain(s.get("bleu"))),
            ("ROUGE-L", lambda s: pct(s.get("rouge_l"))), ("copies subtitle", _copy_rate)],
}


def markdown(header: list[str], rows: list[list[str]], align: list[str] | None = None) -> str:
    """`align`: "---" (left) or "---:" (right) per column; default: the first left, the rest right."""
    return markdown_table(header, rows, [{"---": "left", "---:": "right"}[a] for a in align] if align else None)


def run_label(model_name: str, run: str) -> str:
    return model_name if run == FULL_RUN else f"{model_name} − {run.removeprefix('no-')}"


def benchmark_table(runs: dict, model_name: str) -> str | None:
    """MER-UniBench layout: one column per (task, dataset) of MER / MSA / OV-MER, then the average."""
    full = runs.get(FULL_RUN, {})
    columns = [(task, dataset, key) for task, key in BENCHMARK_COLUMNS for dataset in sorted(full.get(task, {}))]
    if not columns:
        return None
    shared = {d for _, d, _ in columns if sum(d == other for _, other, _ in columns) > 1}
    header = ["model", *(f"{d} ({t})" if d in shared else d for t, d, _ in columns), "avg", "unparsed"]
    rows = []
    for run, tasks in runs.items():
        scores = [tasks.get(t, {}).get(d) for t, d, _ in columns]
        values = [s.get(key) if s else None for s, (_, _, key) in zip(scores, columns, strict=True)]
        known = [v for v in values if v is not None]
        average = sum(known) / len(known) if known and len(known) == len(values) else None
        unparsed = sum(unparsed_count(t, s) for s, (t, _, _) in zip(scores, columns, strict=True) if s)
        total = sum(s.get("n", 0) for s in scores if s)
        rows.append([run_label(model_name, run), *map(pct, values), pct(average), f"{unparsed}/{total}"])
    note = ("MER sets: hit rate; sentiment sets: weighted F1 (3 classes); OV-MER: set F over emotion-wheel "
            "groups; x100. `unparsed`: answers with no usable label, counted as wrong. avg is n/c when a column is.")
    return markdown(header, rows) + "\n\n" + note


def summary_rows(runs: dict) -> list[dict]:
    """Every task and dataset of the full run: its headline metric, chance level, unparsed, errors."""
    rows = []
    for task, datasets in runs.get(FULL_RUN, {}).items():
        name, key = HEADLINE[task]
        for dataset, scores in datasets.items():
            rows.append({"task": task, "dataset": dataset, "n": scores.get("n", 0), "metric": name,
                         "value": scores.get(key), "chance_majority": (scores.get("chance") or {}).get("majority"),
                         "unparsed": _unparsed(task)(scores), "errors": scores.get("errors", 0)})
    return rows


def overview_table(summary: list[dict]) -> str:
    rows = [[r["task"], r["dataset"], str(r["n"]), r["metric"], pct(r["value"]), pct(r["chance_majority"]),
             r["unparsed"], str(r["errors"])] for r in summary]
    return markdown(["task", "dataset", "n", "metric", "value", "chance (majority)", "unparsed", "unreadable clips"],
                    rows, ["---", "---", "---:", "---", "---:", "---:", "---:", "---:"])


def task_table(task: str, datasets: dict) -> str:
    columns = [*_COUNT, *TASK_COLUMNS[task], ("unparsed", _unparsed(task)),
               ("unreadable clips", lambda s: str(s.get("errors", 0)))]
    rows = [[dataset, *(get(scores) for _, get in columns)] for dataset, scores in datasets.items()]
    return markdown(["dataset", *(name for name, _ in columns)], rows)


def ablation_table(runs: dict) -> str | None:
    """Each metric with all modalities, then without each one: value (change), x100."""
    ablations = [run for run in runs if run != FULL_RUN]
    if not ablations:
        return None
    rows = []
    for task, datasets in runs.get(FULL_RUN, {}).items():
        for dataset, full in datasets.items():
            ablated = [runs[run].get(task, {}).get(dataset) for run in ablations]
            if not any(ablated):
                continue  # this task was not re-asked (--ablate-tasks)
            for name, key in ABLATION_METRICS[task]:
                cells = [_with_change(full.get(key), scores.get(key)) if scores else "not run" for scores in ablated]
                rows.append([task, dataset, name, pct(full.get(key)), *cells])
    header = ["task", "dataset", "metric", "all modalities", *(f"without {r.removeprefix('no-')}" for r in ablations)]
    note = "Change in points (x100) against all modalities; negative = the modality helped."
    return markdown(header, rows, ["---", "---", "---", *["---:"] * (len(header) - 3)]) + "\n\n" + note


def _with_change(full, ablated) -> str:
    if ablated is None or full is None:
        return pct(ablated)
    return f"{pct(ablated)} ({100 * (ablated - full):+.2f})"
