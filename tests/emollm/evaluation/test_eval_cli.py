"""`emollm eval` through the dispatcher: a small real run, and the option errors a user can make."""

from __future__ import annotations

import json
import re

import pytest

from data_pipeline.errors import UserFacingError
from emollm.cli import run


def test_eval_command(tiny_model_dir, synthetic_set, tmp_path, capsys):
    out = tmp_path / "eval"
    argv = ["eval", "--model", str(tiny_model_dir), "--data", str(synthetic_set), "--out", str(out),
            "--tasks", "MER,MSA", "--limit", "2", "--max-new-tokens", "MER=3", "MSA=3", "--name", "tiny"]
    assert run(argv) == 0
    printed = re.sub(r" +", " ", capsys.readouterr().out)  # tabulate pads table cells; compare words
    assert "| model | synthetic (MER) | synthetic (MSA) | avg | unparsed |" in printed
    assert "| tiny |" in printed and str(out / "report.md") in printed
    metrics = json.loads((out / "metrics.json").read_text())
    assert {t: d["synthetic"]["n"] for t, d in metrics["runs"]["full"].items()} == {"MER": 2, "MSA": 2}
    assert json.loads((out / "run_info.json").read_text())["command"]["tasks"] == ["MER,MSA"]
    # a rerun on a directory that is complete does not even load the model
    assert run(argv) == 0
    assert json.loads((out / "run_info.json").read_text())["inference"]["model_loaded"] is False


@pytest.mark.parametrize("extra, message", [
    (["--ablate", "smell"], "unknown modality smell"),
    (["--tasks", "MER", "XYZ"], "unknown task XYZ"),
    (["--max-new-tokens", "MER=lots"], "expected TASK=N"),
    (["--judge-url", "http://127.0.0.1:9/v1"], "both --judge-url and --judge-model"),
    (["--judge-url", "127.0.0.1:9", "--judge-model", "m"], "http"),
    (["--batch-size", "0"], "at least 1"),
])
def test_option_errors(tiny_model_dir, synthetic_set, tmp_path, extra, message):
    argv = ["eval", "--model", str(tiny_model_dir), "--data", str(synthetic_set), "--out", str(tmp_path / "e"), *extra]
    with pytest.raises(UserFacingError, match=message):
        run(argv)


def test_missing_model_and_data(synthetic_set, tmp_path):
    with pytest.raises(UserFacingError, match="not a model directory"):
        run(["eval", "--model", str(tmp_path), "--data", str(synthetic_set), "--out", str(tmp_path / "e")])
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "config.json").write_text("{}")
    with pytest.raises(UserFacingError, match="records file not found"):
        run(["eval", "--model", str(tmp_path / "m"), "--data", str(tmp_path / "none.jsonl"), "--out", str(tmp_path / "e")])
