"""A run killed (SIGKILL) mid-phase and resumed with --resume ends with exactly the weights of an
uninterrupted run: same data order, optimiser, scheduler and RNG state. A half-written
checkpoint left behind by the kill is never picked."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from safetensors.torch import load_file

from emollm.cli import run
from train.checkpoints import MARKER

EMOLLM = str(Path(sys.executable).with_name("emollm"))
STEPS = 10


def _args(tiny_curriculum, out, tiny_overrides):
    return ["train", "--config", str(tiny_curriculum), "--out", str(out), "--phase", "1a", *tiny_overrides,
            "phases.1a.init=base",
            f"steps={STEPS}", "phases.1a.batch_size=4", "phases.1a.save_steps=2", "phases.1a.logging_steps=1",
            "phases.1a.modality_dropout.subtitle=0.5", "phases.1a.keep_checkpoints=5"]


def _kill_after_checkpoint(command: list[str], checkpoint: Path, log: Path) -> int:
    with open(log, "w") as handle:
        process = subprocess.Popen(command, stdout=handle, stderr=subprocess.STDOUT,
                                   env=os.environ | {"HF_HUB_OFFLINE": "1"}, start_new_session=True)
    deadline = time.time() + 600
    while not (checkpoint / MARKER).exists():
        if process.poll() is not None or time.time() > deadline:
            process.kill()
            pytest.fail(f"the run ended before {checkpoint.name} was complete:\n{log.read_text()[-3000:]}")
        time.sleep(0.02)
    os.killpg(process.pid, signal.SIGKILL)
    return process.wait()


@pytest.mark.slow  # three runs of a phase: over a minute on 2 cores
def test_killed_run_resumes_to_identical_weights(tmp_path, tiny_curriculum, tiny_overrides):
    straight, killed = tmp_path / "straight", tmp_path / "killed"
    assert run(_args(tiny_curriculum, straight, tiny_overrides)) == 0

    checkpoints = killed / "checkpoints" / "1a"
    code = _kill_after_checkpoint([EMOLLM, *_args(tiny_curriculum, killed, tiny_overrides)[:]],
                                  checkpoints / "checkpoint-4", tmp_path / "killed.log")
    assert code == -signal.SIGKILL and not (killed / "1a").exists()
    half = checkpoints / "checkpoint-8"  # what a kill during a save leaves: files, no marker
    half.mkdir(exist_ok=True)
    (half / "trainable.safetensors").write_bytes(b"truncated")

    assert run([*_args(tiny_curriculum, killed, tiny_overrides), "--resume"]) == 0
    assert not half.exists() or (half / MARKER).exists()  # dropped, then written again for real
    info = (killed / "1a" / "training.json").read_text()
    assert '"resumed_from"' in info and "checkpoint-" in info

    expected = load_file(straight / "1a" / "model.safetensors")
    resumed = load_file(killed / "1a" / "model.safetensors")
    assert expected.keys() == resumed.keys()
    changed = [k for k in expected if not expected[k].equal(resumed[k])]
    assert changed == []
