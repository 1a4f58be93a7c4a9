"""Predictions -> metrics: one `emollm.metrics.score_task` call per (run, task, dataset), plus what
a report needs beside the scores (clips that could not be read, examples of unparsed answers,
chance levels). The judge scores ERI of the full run only; ablation runs are not judged."""

from __future__ import annotations

from collections import defaultdict

from data_pipeline.schema import Record

FULL_RUN = "full"
UNPARSED_EXAMPLES = 3
NOT_JUDGED_ABLATION = "not computed (ablation runs are not judged)"


def score_runs(records: list[Record], rows: dict[tuple[str, str], dict], runs: list[str], *,
               judge=None, wheel=None) -> dict:
    """{run: {task: {dataset: scores}}} in a fixed order (runs as given, tasks as `Task` lists them,
    datasets sorted), so the same answers give the same JSON."""
    from data_pipeline.tasks import Task
    from emollm.metrics import score_task

    task_order = [task.value for task in Task]

    groups: dict[tuple[str, str, str], list[tuple[Record, dict]]] = defaultdict(list)
    for run in runs:
        for record in records:
            row = rows.get((run, record.id))
            if row is not None:
                groups[(run, record.task.value, record.dataset)].append((record, row))
    result: dict = {}
    order = sorted(groups, key=lambda g: (runs.index(g[0]), task_order.index(g[1]), g[2]))
    for run, task, dataset in order:
        items = groups[(run, task, dataset)]
        answered = [(record, row) for record, row in items if row.get("error") is None]
        failed = [(record, row) for record, row in items if row.get("error") is not None]
        scores = score_task(task, [row["prediction"] or "" for _, row in answered],
                            [record.labels.model_dump() for record, _ in answered],
                            subtitles=[record.subtitle for record, _ in answered], wheel=wheel,
                            judge=judge if run == FULL_RUN and task == "ERI" else None)
        if task == "ERI" and run != FULL_RUN and judge is not None:
            scores["judge"]["status"] = NOT_JUDGED_ABLATION
        scores["errors"] = len(failed)
        scores["error_ids"] = [{"id": record.id, "error": row["error"]} for record, row in failed]
        scores["unparsed_examples"] = [
            {"id": answered[i][0].id, "answer": answered[i][1]["prediction"] or ""}
            for i in _unparsed_indices(task, scores)[:UNPARSED_EXAMPLES]]
        if "confusion" in scores:
            scores["chance"] = chance_levels(scores["confusion"])
        result.setdefault(run, {}).setdefault(task, {})[dataset] = scores
    return result


def _unparsed_indices(task: str, scores: dict) -> list[int]:
    if task == "ERG":
        return sorted(set(scores.get("malformed_indices", [])) | set(scores.get("emotion_unparsed_indices", [])))
    return list(scores.get("unparsed_indices", []))


def unparsed_count(task: str, scores: dict) -> int:
    """Answers that gave no usable label (ERG: no well-formed chain or no emotion in it)."""
    return len(_unparsed_indices(task, scores))


def chance_levels(confusion: dict) -> dict:
    """Accuracy of guessing uniformly among the gold classes present, and of always answering the
    most frequent gold class, from the confusion matrix's row sums."""
    support = [sum(row) for row in confusion["matrix"]]
    total = sum(support)
    present = [s for s in support if s]
    if not total:
        return {"uniform": None, "majority": None}
    return {"uniform": round(1 / len(present), 4), "majority": round(max(present) / total, 4)}
