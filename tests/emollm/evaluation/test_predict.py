"""`predict_clip` and `emollm predict` on real media made by the shared fixtures: one clip, a folder
with a corrupt file (an error row, the rest answered), records files, and input errors."""

from __future__ import annotations

import json
import shutil

import pytest

from data_pipeline.errors import UserFacingError
from data_pipeline.schema import read_records, write_records
from emollm.cli import run
from emollm.evaluation.predict import Predictor, expand_inputs, predict_clip

BUDGETS = {"MER": 4, "MSA": 4, "MIR": 4, "OV-MER": 6, "ERI": 8, "ERG": 8}


@pytest.fixture(scope="module")
def predictor(tiny_model):
    return Predictor(*tiny_model, batch_size=4, max_new_tokens=BUDGETS)


def test_predict_clip(predictor, tiny_model, media_dir):
    row = predict_clip(predictor, media_dir / "clip.mp4", "ERG", subtitle="I lost my keys again.")
    assert row["path"] == str(media_dir / "clip.mp4") and row["task"] == "ERG"
    assert row["error"] is None and isinstance(row["answer"], str)
    assert set(row) == {"path", "task", "answer", "reasoning", "error"}
    # the same call with a (model, processor) pair and the default task
    assert predict_clip(tiny_model, media_dir / "still.png")["task"] == "MER"


def test_folder_with_a_corrupt_file(predictor, media_dir, tmp_path):
    folder = tmp_path / "clips"
    (folder / "nested").mkdir(parents=True)
    shutil.copy(media_dir / "clip.mp4", folder / "a.mp4")
    shutil.copy(media_dir / "truncated.mp4", folder / "b.mp4")
    shutil.copy(media_dir / "voice.wav", folder / "nested" / "c.wav")
    (folder / "notes.txt").write_text("not media")  # skipped: a folder yields its media files only
    rows = predictor.predict_paths([folder], task="MSA", progress=False)
    assert [r["path"] for r in rows] == [str(folder / "a.mp4"), str(folder / "b.mp4"), str(folder / "nested" / "c.wav")]
    assert rows[1]["answer"] is None and "b.mp4" in rows[1]["error"]
    assert rows[0]["error"] is None and rows[2]["error"] is None
    assert all(r["task"] == "MSA" for r in rows)


def test_cli_writes_jsonl_and_exits_1_when_an_input_failed(tiny_model_dir, media_dir, tmp_path, capsys):
    out = tmp_path / "answers.jsonl"
    code = run(["predict", "--model", str(tiny_model_dir), str(media_dir / "clip.mp4"), str(media_dir / "empty.mp4"),
                str(media_dir / "text.mp4"), "--task", "MIR", "--out", str(out), "--batch-size", "2"])
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert code == 1
    assert [r["error"] is None for r in rows] == [True, False, False]
    assert "empty" in rows[1]["error"]
    assert "answered 1 of 3 inputs" in capsys.readouterr().err


def test_records_without_gold_labels(predictor, synthetic_set, tmp_path):
    records = [r for r in read_records(synthetic_set) if r.split == "test"][:6]
    unlabeled = [r.model_copy(update={"conversation": r.conversation[:1], "labels": type(r.labels)()}) for r in records]
    path = tmp_path / "unlabeled.jsonl"
    write_records(path, unlabeled)
    rows = predictor.predict_paths([path], progress=False)
    assert [r["id"] for r in rows] == [r.id for r in records]
    assert [r["task"] for r in rows] == [r.task.value for r in records]  # each record's own task
    assert all(r["error"] is None for r in rows)
    asked = predictor.predict_paths([path], task="ERG", progress=False)
    assert {r["task"] for r in asked} == {"ERG"}


def test_input_errors(predictor, tmp_path):
    with pytest.raises(UserFacingError, match="input not found"):
        expand_inputs([tmp_path / "missing.mp4"])
    odd = tmp_path / "notes.txt"
    odd.write_text("hello")
    row = predictor.predict_paths([odd], progress=False)[0]
    assert "unsupported file type .txt" in row["error"]
