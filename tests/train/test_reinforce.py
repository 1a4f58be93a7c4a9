"""Phase 4 (GRPO, train/reinforce.py) from a briefly trained checkpoint that already writes chains
of empathy: the mean reward rises over an untrained control, and a run killed mid-phase and resumed ends with the weights
of an uninterrupted one."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest
from safetensors.torch import load_file

from emollm.cli import run
from tests.train.test_resume import EMOLLM, _kill_after_checkpoint

WARMUP = ["phases.0.max_steps=150", "phases.0.batch_size=8",
          "phases.0.data=[{dataset: synthetic, tasks: [ERG]}, {dataset: synthetic, tasks: [MER]}]",
          "phases.0.drop=[]", "phases.0.train=[llm, adapter.*, fusion]",
          "phases.0.optim.lr={llm: 4.0e-3, adapters: 1.0e-3, fusion: 1.0e-3}"]


def _phase4(out, tiny_curriculum, tiny_overrides, *extra):
    return ["train", "--config", str(tiny_curriculum), "--out", str(out), "--phase", "4", *tiny_overrides,
            "phases.4.init=0", "phases.4.batch_size=32", "phases.4.grpo.num_generations=8",
            "phases.4.data=[{dataset: synthetic, tasks: [ERG, MER]}]", *extra]


@pytest.fixture(scope="module")
def warm(tmp_path_factory, tiny_curriculum, tiny_overrides):
    """Phase 0 trained briefly on ERG and MER (with media), so chains are written and vary."""
    out = tmp_path_factory.mktemp("reinforce")
    assert run(["train", "--config", str(tiny_curriculum), "--out", str(out / "warm"), "--phase", "0",
                *tiny_overrides, *WARMUP]) == 0
    return out


def _with_warm(warm, target):
    import shutil

    shutil.copytree(warm / "warm", target, ignore=shutil.ignore_patterns("checkpoints"))
    return target


@pytest.fixture(scope="module")
def four_erg_prompts(synthetic_set, tmp_path_factory) -> Path:
    """Four ERG records of the training split (media paths made absolute): every step of a run asks
    the same four, so what training does to their reward shows within 30 steps."""
    records = [json.loads(line) for line in synthetic_set.read_text().splitlines()]
    chosen = [r for r in records if r["task"] == "ERG" and r["split"] == "train"][:4]
    assert len(chosen) == 4
    for record in chosen:
        record["media"]["video"] = str(synthetic_set.parent / record["media"]["video"])
    path = tmp_path_factory.mktemp("four_erg") / "records.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in chosen))
    return path


def _reinforce_steps(warm, name, tiny_curriculum, tiny_overrides, lr: float, records: Path) -> list[dict]:
    out = _with_warm(warm, warm / name)
    rate = f"phases.4.optim.lr={{adapters: {lr}, fusion: {lr}, llm: {lr}}}"
    assert run([*_phase4(out, tiny_curriculum, tiny_overrides, "phases.4.max_steps=30", rate,
                         f"datasets.synthetic.records={records}", "phases.4.data=[{dataset: synthetic, tasks: [ERG]}]"),
                "--resume"]) == 0
    info = json.loads((out / "4" / "training.json").read_text())
    assert (out / "4" / "reward_curve.png").stat().st_size > 0
    return info["reinforce"]["steps"]


@pytest.mark.slow  # a warm-up and two runs of 30 GRPO steps: a few minutes on 2 cores
def test_mean_reward_rises_over_an_untrained_control(warm, tiny_curriculum, tiny_overrides, four_erg_prompts):
    """The control (learning rate 0) answers the same prompts with the same sampling seeds, so the
    difference of the two runs' rewards is what training did."""
    trained = _reinforce_steps(warm, "trained", tiny_curriculum, tiny_overrides, 5.0e-4, four_erg_prompts)
    control = _reinforce_steps(warm, "control", tiny_curriculum, tiny_overrides, 0.0, four_erg_prompts)
    assert len(trained) == len(control) == 30
    assert all(s["reward_std"] > 0 for s in trained[:5])  # rewards vary within groups: something to learn
    assert all("kl" in s and "sample_emotion_accuracy" in s for s in trained[1:])
    assert max(s["kl"] for s in control) < 1e-6 < trained[-1]["kl"]  # only the trained policy moved
    late = slice(15, 30)
    gain = sum(t["reward"] - c["reward"] for t, c in zip(trained[late], control[late], strict=True)) / 15
    # measured: +0.93 (the trained chains named the emotion 80 % of the time late in the run, the
    # control's 34 %); the standard error of this 15-step mean is about 0.1
    assert gain > 0.25, [(round(t["reward"], 2), round(c["reward"], 2)) for t, c in zip(trained, control, strict=True)]


@pytest.mark.slow  # three short GRPO runs
def test_killed_phase4_resumes_to_identical_weights(warm, tiny_curriculum, tiny_overrides, tmp_path):
    extra = ("phases.4.max_steps=6", "phases.4.save_steps=2", "phases.4.keep_checkpoints=5")
    straight = _with_warm(warm, tmp_path / "straight")
    assert run([*_phase4(straight, tiny_curriculum, tiny_overrides, *extra), "--resume"]) == 0
    killed = _with_warm(warm, tmp_path / "killed")
    code = _kill_after_checkpoint([EMOLLM, *_phase4(killed, tiny_curriculum, tiny_overrides, *extra), "--resume"],
                                  killed / "checkpoints" / "4" / "checkpoint-2", tmp_path / "killed.log")
    assert code == -signal.SIGKILL and not (killed / "4").exists()
    assert run([*_phase4(killed, tiny_curriculum, tiny_overrides, *extra), "--resume"]) == 0
    assert "checkpoint-" in json.loads((killed / "4" / "training.json").read_text())["metrics"]["resumed_from"]
    expected, resumed = load_file(straight / "4" / "model.safetensors"), load_file(killed / "4" / "model.safetensors")
    assert [k for k in expected if not expected[k].equal(resumed[k])] == []
