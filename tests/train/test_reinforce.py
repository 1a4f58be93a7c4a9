"""Phase 4 (GRPO, train/reinforce.py) from a briefly trained checkpoint that already writes chains
of empathy: the mean reward rises, and a run killed mid-phase and resumed ends with the weights
of an uninterrupted one."""

from __future__ import annotations

import json
import signal

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


@pytest.mark.slow  # a warm-up and 30 GRPO steps: a few minutes on 2 cores
def test_mean_reward_rises(warm, tiny_curriculum, tiny_overrides):
    out = _with_warm(warm, warm / "rises")
    faster = "phases.4.optim.lr={adapters: 5.0e-4, fusion: 5.0e-4, llm: 5.0e-4}"  # 30 steps, not 90
    assert run([*_phase4(out, tiny_curriculum, tiny_overrides, "phases.4.max_steps=30", faster), "--resume"]) == 0
    info = json.loads((out / "4" / "training.json").read_text())
    steps = info["reinforce"]["steps"]
    assert len(steps) == 30 and (out / "4" / "reward_curve.png").stat().st_size > 0
    assert all(s["reward_std"] > 0 for s in steps[:5])  # rewards vary within groups: something to learn
    first, last = (sum(s["reward"] for s in part) / len(part) for part in (steps[:10], steps[-10:]))
    assert last > first, (first, last)
    assert all("kl" in s and "sample_emotion_accuracy" in s for s in steps[1:])


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
