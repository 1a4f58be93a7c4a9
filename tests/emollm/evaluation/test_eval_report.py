"""Scoring and tables from known answers (no model): unparsed answers are counted and shown, clips
that could not be read are listed apart, chance levels come from the gold labels."""

from __future__ import annotations

import re

from data_pipeline.schema import read_records
from emollm.evaluation.scoring import score_runs
from emollm.evaluation.tables import ablation_table, benchmark_table, summary_rows, task_table


def test_known_answers(synthetic_set):
    mer = sorted((r for r in read_records(synthetic_set) if r.task.value == "MER"), key=lambda r: r.id)[:4]
    answers = [mer[0].labels.emotion, f"I think the speaker is {mer[1].labels.emotion}.", "blah blah", None]
    rows = {("full", r.id): {"prediction": a, "error": None if a is not None else "clip.mp4: empty file"}
            for r, a in zip(mer, answers, strict=True)}
    rows |= {("no-subtitle", r.id): {"prediction": "blah", "error": None} for r in mer}
    runs = score_runs(mer, rows, ["full", "no-subtitle"])
    scores = runs["full"]["MER"]["synthetic"]
    assert (scores["n"], scores["errors"], scores["unparsed"]) == (3, 1, 1)
    assert scores["accuracy"] == round(2 / 3, 4)
    assert scores["unparsed_examples"] == [{"id": mer[2].id, "answer": "blah blah"}]
    assert scores["error_ids"] == [{"id": mer[3].id, "error": "clip.mp4: empty file"}]
    golds = [r.labels.emotion for r in mer[:3]]
    assert scores["chance"]["majority"] == round(max(map(golds.count, golds)) / 3, 4)

    table = re.sub(r" +", " ", task_table("MER", runs["full"]["MER"]))  # tabulate pads cells; compare words
    benchmark = re.sub(r" +", " ", benchmark_table(runs, "m"))
    assert "| synthetic | 3 | 66.67 |" in table and "| 1/3 | 1 |" in table
    assert "| 3/4 |" not in benchmark  # errors are not answers
    assert "| m | 66.67 | 66.67 | 1/3 |" in benchmark
    assert "| m − subtitle | 0.00 | 0.00 | 4/4 |" in benchmark
    assert "| MER | synthetic | Acc | 66.67 | 0.00 (-66.67) |" in re.sub(r" +", " ", ablation_table(runs))
    assert summary_rows(runs)[0] == {"task": "MER", "dataset": "synthetic", "n": 3, "metric": "Acc",
                                   "value": round(2 / 3, 4), "chance_majority": scores["chance"]["majority"],
                                   "unparsed": "1/3", "errors": 1}
