"""The learning claim, protected: a short tiny curriculum (one MER phase on the synthetic set,
seed 0) must reach held-out MER accuracy of at least 3x the majority baseline on clips drawn with
a seed it never trains on (seed 1). A change that stops the tiny model learning fails here.

The README's full numbers come from `make demo` (`emollm demo`: train seed 0, held-out seed 1);
this test is the short, reliable version of the same claim."""

from __future__ import annotations

import json
from collections import Counter

import pytest
import yaml

from data_pipeline.schema import read_records
from data_pipeline.synthetic import generate_synthetic
from emollm.cli import run

TRAIN_CLIPS, HELD_OUT_CLIPS = 140, 42
# Held-out MER after 150 steps: 83-93 % over four random inits of the tiny model (torch seeds 0, 3, 4, 5)
# (majority 14 %, so the bar is 43 %). At 90 steps it was 50-86 % over inits 0-3, and 38 % once.
STEPS = 150


@pytest.mark.slow
def test_tiny_model_learns_mer_well_above_the_majority_baseline(tiny_model_dir, tmp_path):
    train = generate_synthetic(tmp_path / "train", n=TRAIN_CLIPS, seed=0, progress=False)
    held_out = generate_synthetic(tmp_path / "held_out", n=HELD_OUT_CLIPS, seed=1, progress=False)
    curriculum = {
        "name": "learning-claim", "model": {"dir": str(tiny_model_dir)}, "seed": 0, "torch_threads": 1,
        "feature_cache_dir": str(tmp_path / "cache"),
        "datasets": {"synthetic": {"records": str(train)}},
        "phases": {"mer": {"init": "base", "train": ["adapter.*", "fusion", "llm"],
                           "data": [{"dataset": "synthetic", "tasks": ["MER"]}],
                           "modality_dropout": {"subtitle": 0.5},  # face and voice, not only the wording
                           "optim": {"lr": {"adapters": 2.0e-3, "fusion": 2.0e-3, "llm": 2.0e-3},
                                     "scheduler": "cosine", "warmup_ratio": 0.05},
                           "max_steps": STEPS, "batch_size": 16, "logging_steps": 10, "save_steps": STEPS}}}
    config = tmp_path / "learning-claim.yaml"
    config.write_text(yaml.safe_dump(curriculum, sort_keys=False))
    assert run(["train", "--config", str(config), "--out", str(tmp_path / "run")]) == 0

    out = tmp_path / "eval"
    assert run(["eval", "--model", str(tmp_path / "run" / "final"), "--data", str(held_out), "--out", str(out),
                "--split", "all", "--tasks", "MER", "--max-new-tokens", "MER=4"]) == 0
    scores = json.loads((out / "metrics.json").read_text())["runs"]["full"]["MER"]["synthetic"]
    golds = Counter(r.labels.emotion for r in read_records(held_out) if r.task == "MER")
    majority = max(golds.values()) / sum(golds.values())
    assert scores["n"] == sum(golds.values()) == HELD_OUT_CLIPS
    assert scores["accuracy"] >= 3 * majority, (scores["accuracy"], majority, scores["confusion"])
