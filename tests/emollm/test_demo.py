"""`emollm demo --no-serve` at a reduced size: synthetic sets -> P2E training -> held-out
evaluation (with the subtitle ablation) -> tables printed; a rerun reuses everything built.
About a minute on 2 cores, so it runs with the fast suite."""

from __future__ import annotations

import json
import re
import shlex

from emollm.cli import run
from emollm.demo import SERVED_NAME, usage_banner

SMALL = ["--clips", "14", "--eval-clips", "7", "--steps", "2"]


def test_demo_no_serve_then_rerun_reuses(tmp_path, capsys):
    out = tmp_path / "demo"
    assert run(["demo", "--out", str(out), "--no-serve", *SMALL]) == 0
    printed = capsys.readouterr().out
    train_dir = out / "train-n14-steps2"
    eval_dir = train_dir / "eval-n7-seed1"
    for phase in ("0", "1a", "1b", "2", "3", "4", "final"):
        assert (train_dir / phase / "config.json").exists(), phase
    metrics = json.loads((eval_dir / "metrics.json").read_text())
    assert metrics["data"]["records"] == 42 and set(metrics["runs"]) == {"full", "no-subtitle"}
    assert set(metrics["runs"]["no-subtitle"]) == {"MER", "MSA", "MIR"}
    printed = re.sub(r" +", " ", printed)  # tabulate pads table cells; compare words
    assert "| model | synthetic (MER) |" in printed and "without subtitle" in printed
    assert f"| {SERVED_NAME} − subtitle |" in printed
    card = re.sub(r" +", " ", (train_dir / "final" / "MODEL_CARD.md").read_text())
    assert "| MER | synthetic | 7 | Acc |" in card and "toy model" in card

    predictions = (eval_dir / "predictions.jsonl").read_bytes()
    assert run(["demo", "--out", str(out), "--no-serve", *SMALL]) == 0
    printed = capsys.readouterr().out
    assert "already trained" in printed
    assert (eval_dir / "predictions.jsonl").read_bytes() == predictions
    assert json.loads((eval_dir / "run_info.json").read_text())["inference"]["asked"] == 0
    assert json.loads((eval_dir / "metrics.json").read_text()) == metrics


def test_usage_banner_examples_are_ready_to_paste(tmp_path):
    clip = tmp_path / "clips" / "synth-00000.mp4"
    banner = usage_banner("127.0.0.1", 8123, clip)
    assert "http://127.0.0.1:8123/v1" in banner and "http://127.0.0.1:8123/ui" in banner
    curl = next(line.strip() for line in banner.splitlines() if line.strip().startswith("curl "))
    argv = shlex.split(curl)
    body = json.loads(argv[argv.index("-d") + 1])
    assert body["model"] == SERVED_NAME
    assert body["messages"][0]["content"][0]["video_url"]["url"] == clip.as_uri()
    python = "\n".join(line[2:] for line in banner.split("Python (pip install openai):\n")[1].splitlines()
                       if line.startswith("  "))
    compile(python, "<banner>", "exec")  # the Python example is valid code
