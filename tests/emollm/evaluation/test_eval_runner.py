"""The evaluation runner on the tiny random model and the shared synthetic set: it runs, writes
metrics.json / tables / PNGs / run_info.json, resumes (a rerun asks nothing new; a run cut short
goes on where it stopped and ends with the same metrics), refuses to mix set-ups, and records a
clip that can't be read as an error row while the rest is answered."""

from __future__ import annotations

import json
import re
import shutil

import pytest

from data_pipeline.errors import UserFacingError
from data_pipeline.schema import read_records, write_records
from emollm.evaluation.evaluate import EvalPlan, evaluate

# A random model never stops early: small budgets keep the test fast.
BUDGETS = {"MER": 4, "MSA": 4, "MIR": 4, "OV-MER": 6, "ERI": 8, "ERG": 8}
PLAN = dict(split="test", ablate=("subtitle",), batch_size=4, max_new_tokens=BUDGETS)


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory, tiny_model, synthetic_set):
    out = tmp_path_factory.mktemp("eval") / "run"
    report = evaluate(tiny_model, synthetic_set, out, EvalPlan(**PLAN), progress=False)
    return out, report


def test_writes_metrics_tables_pngs_and_run_info(evaluated, synthetic_set):
    out, report = evaluated
    records = [r for r in read_records(synthetic_set) if r.split == "test"]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics == report.metrics
    assert set(metrics["runs"]) == {"full", "no-subtitle"}
    full = metrics["runs"]["full"]
    assert list(full) == ["MER", "MSA", "OV-MER", "ERI", "MIR", "ERG"]
    assert sum(s["n"] + s["errors"] for task in full.values() for s in task.values()) == len(records)
    rows = [json.loads(line) for line in (out / "predictions.jsonl").read_text().splitlines()]
    assert len(rows) == 2 * len(records)
    for name in ("MER", "MSA", "MIR", "ERG"):  # the classification sets
        png = out / "confusion" / f"{name}_synthetic.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    report_md = re.sub(r" +", " ", (out / "report.md").read_text())  # tabulate pads table cells
    assert "## MER-UniBench layout" in report_md and "| model | synthetic (MER) | synthetic (MSA) |" in report_md
    assert (out / "tables" / "benchmark.md").exists() and (out / "tables" / "task_ERG.md").exists()
    info = json.loads((out / "run_info.json").read_text())
    assert info["generation"]["do_sample"] is False and info["generation"]["seed"] == 0
    assert info["generation"]["max_new_tokens"]["ERG"] == 8
    assert info["versions"]["torch"] and info["versions"]["transformers"]
    assert "Recognise the speaker's emotion" in info["prompts"]["instructions"]["MER"]
    first_mer = info["prompts"]["first_prompt_per_run_and_task"]["no-subtitle"]["MER"]
    assert "The speaker says" not in json.dumps(first_mer)  # the ablated prompt really lost its subtitle
    assert "The speaker says" in json.dumps(info["prompts"]["first_prompt_per_run_and_task"]["full"]["MER"])


def test_ablation_table_present(evaluated):
    out, report = evaluated
    table = (out / "tables" / "ablations.md").read_text()
    assert "without subtitle" in table
    assert "| MER | synthetic | Acc |" in re.sub(r" +", " ", table)  # tabulate pads table cells
    assert table in report.markdown and "without subtitle" in report.summary


def test_unparsed_answers_are_counted_not_dropped(evaluated):
    out, report = evaluated
    mer = report.metrics["runs"]["full"]["MER"]["synthetic"]
    labels, matrix = mer["confusion"]["labels"], mer["confusion"]["matrix"]
    parsed = sum(sum(row[: len(labels) - ("unparsed" in labels)]) for row in matrix)
    assert parsed + mer["unparsed"] == mer["n"] == 3  # every answer is in n, parsed or not
    benchmark = re.sub(r" +", " ", (out / "tables" / "benchmark.md").read_text())  # tabulate pads table cells
    total_unparsed = sum(report.metrics["runs"]["full"][t]["synthetic"]["unparsed"] for t in ("MER", "MSA", "OV-MER"))
    assert f"| {total_unparsed}/9 |" in benchmark
    if mer["unparsed"]:
        assert "full · MER · synthetic:" in report.markdown


def test_no_judge_is_not_computed_never_zero(evaluated):
    _, report = evaluated
    eri = report.metrics["runs"]["full"]["ERI"]["synthetic"]
    assert eri["judge"]["status"].startswith("not computed")
    assert eri["judge"]["clue_overlap"] is None and eri["judge"]["label_overlap"] is None
    assert "| n/c | n/c | not computed (no judge) |" in re.sub(r" +", " ", (report.paths["report"].parent / "tables" / "task_ERI.md").read_text())


def test_rerun_asks_nothing_and_gives_identical_metrics(evaluated, tiny_model, synthetic_set):
    out, _ = evaluated
    predictions = (out / "predictions.jsonl").read_bytes()
    metrics = (out / "metrics.json").read_bytes()
    again = evaluate(tiny_model, synthetic_set, out, EvalPlan(**PLAN), progress=False)
    info = json.loads((out / "run_info.json").read_text())
    assert info["inference"]["asked"] == 0 and info["inference"]["reused"] == 36
    assert (out / "predictions.jsonl").read_bytes() == predictions
    assert (out / "metrics.json").read_bytes() == metrics
    assert again.metrics == json.loads(metrics)


def test_run_cut_short_resumes_to_the_same_answers(evaluated, tiny_model, synthetic_set, tmp_path):
    out, report = evaluated
    cut = tmp_path / "cut"
    shutil.copytree(out, cut)
    lines = (cut / "predictions.jsonl").read_text().splitlines(keepends=True)
    # Killed after 28 answers (inside the ablation run's ERI batch), halfway through the 29th line.
    (cut / "predictions.jsonl").write_text("".join(lines[:28]) + lines[28][:25])
    for name in ("metrics.json", "report.md"):
        (cut / name).unlink()
    resumed = evaluate(tiny_model, synthetic_set, cut, EvalPlan(**PLAN), progress=False)
    info = json.loads((cut / "run_info.json").read_text())
    assert info["inference"]["asked"] == 8 and info["inference"]["reused"] == 28
    assert resumed.metrics == report.metrics
    by_key = lambda text: sorted(text.splitlines())  # noqa: E731
    assert by_key((cut / "predictions.jsonl").read_text()) == by_key((out / "predictions.jsonl").read_text())


def test_refuses_to_mix_setups(evaluated, tiny_model, synthetic_set, tmp_path):
    out, _ = evaluated
    changed = EvalPlan(**{**PLAN, "batch_size": 2, "tasks": ("MER",)})
    with pytest.raises(UserFacingError, match="batch_size"):
        evaluate(tiny_model, synthetic_set, out, changed, progress=False)
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    evaluate(tiny_model, synthetic_set, copy, changed, overwrite_if_changed=True, progress=False)
    rows = (copy / "predictions.jsonl").read_text().splitlines()
    assert len(rows) == 6 and all('"task": "MER"' in row for row in rows)  # the old answers are gone
    assert json.loads((copy / "eval_state.json").read_text())["batch_size"] == 2


def test_unreadable_clip_is_an_error_row_and_the_rest_goes_on(tiny_model, synthetic_set, media_dir, tmp_path):
    records = [r for r in read_records(synthetic_set) if r.split == "test" and r.task.value == "MER"]
    broken = records[1].model_copy(deep=True)
    broken.media.video = str(media_dir / "truncated.mp4")
    data = tmp_path / "records.jsonl"
    write_records(data, [records[0], broken, records[2]])
    report = evaluate(tiny_model, data, tmp_path / "out", EvalPlan(max_new_tokens=BUDGETS), progress=False)
    rows = [json.loads(line) for line in (tmp_path / "out" / "predictions.jsonl").read_text().splitlines()]
    errors = {row["id"]: row["error"] for row in rows}
    assert errors[broken.id] and "truncated.mp4" in errors[broken.id]
    assert errors[records[0].id] is None and errors[records[2].id] is None
    mer = report.metrics["runs"]["full"]["MER"]["synthetic"]
    assert mer["n"] == 2 and mer["errors"] == 1 and mer["error_ids"][0]["id"] == broken.id
    assert f"`{broken.id}`" in report.markdown


def test_empty_selection_names_what_the_file_has(tiny_model, synthetic_set, tmp_path):
    with pytest.raises(UserFacingError, match="splits test, train, validation"):
        evaluate(tiny_model, synthetic_set, tmp_path / "none", EvalPlan(split="dev"), progress=False)
