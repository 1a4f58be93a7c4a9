"""Real DeepSpeed as users launch it (gloo on CPU): ZeRO-2, ZeRO-3 and ZeRO-3 with CPU offload on
two processes under torchrun, and ZeRO-3 under the `deepspeed` launcher, each match the
single-process loss step for step; a two-process ZeRO-3 run killed after a checkpoint and
resumed ends with the weights of an uninterrupted one. And QLoRA (bitsandbytes 4-bit LLM + LoRA)
trains phase 3 on CPU and saves a plain full-precision model with the LoRA merged.

The DeepSpeed runs are slow (two processes on shared cores; the first run on a machine also
compiles DeepSpeed's shm_comm and cpu_adam ops), so they run under `make test-slow`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
import torch
from safetensors.torch import load_file

from emollm import EmoLLMForConditionalGeneration
from emollm.cli import run
from train.checkpoints import MARKER
from train.distributed import free_port

BIN = Path(sys.executable).parent
STEPS = 4
# Below pytest's per-test --timeout (pyproject.toml), so a stuck launch fails with its output.
LAUNCH_TIMEOUT = 600
ENV = {"HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}


def _phase_1a(tiny_curriculum, out, tiny_overrides, batch_size, steps=STEPS, *extra):
    return ["train", "--config", str(tiny_curriculum), "--out", str(out), "--phase", "1a", *tiny_overrides,
            "phases.1a.init=base",
            f"steps={steps}", f"phases.1a.batch_size={batch_size}", "phases.1a.logging_steps=1", *extra]


def _torchrun(args: list[str]) -> list[str]:
    # a real free port: with --master_port 0 torchrun exports MASTER_PORT=0 and DeepSpeed's
    # env:// rendezvous then waits forever for rank 0's store
    return [str(BIN / "torchrun"), "--nproc_per_node", "2", "--master_port", str(free_port()),
            str(BIN / "emollm"), *args]


def _launch(command: list[str], cwd: Path | None = None) -> None:
    result = subprocess.run(command, capture_output=True, text=True, timeout=LAUNCH_TIMEOUT, cwd=cwd,
                            env=os.environ | ENV)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]


@pytest.fixture(scope="module")
def one_process(tmp_path_factory, tiny_curriculum, tiny_overrides) -> dict:
    """The reference: phase 1a in this process, no DeepSpeed, batch 4."""
    out = tmp_path_factory.mktemp("one")
    assert run(_phase_1a(tiny_curriculum, out, tiny_overrides, batch_size=4)) == 0
    info = json.loads((out / "1a" / "training.json").read_text())
    assert len(info["loss_curve"]) == STEPS and info["loss_curve"][-1] < info["loss_curve"][0]
    return info


def _assert_matches(one: dict, out: Path, deepspeed: str) -> None:
    two = json.loads((out / "1a" / "training.json").read_text())
    assert two["metrics"]["processes"] == 2 and two["deepspeed"] == deepspeed
    assert two["loss_curve"] == pytest.approx(one["loss_curve"], rel=1e-3)
    assert (out / "checkpoints" / "1a" / f"checkpoint-{STEPS}" / f"global_step{STEPS}").is_dir()
    EmoLLMForConditionalGeneration.from_pretrained(out / "1a")


@pytest.mark.slow
@pytest.mark.parametrize("deepspeed", ["zero2", "zero3", "zero3-offload"])
def test_two_processes_under_torchrun_match_one_process(tmp_path, tiny_curriculum, tiny_overrides, one_process,
                                                        deepspeed):
    out = tmp_path / deepspeed
    _launch(_torchrun([*_phase_1a(tiny_curriculum, out, tiny_overrides, batch_size=2), f"deepspeed={deepspeed}"]))
    _assert_matches(one_process, out, deepspeed)


@pytest.mark.slow
def test_deepspeed_launcher_matches_one_process(tmp_path, tiny_curriculum, tiny_overrides, one_process):
    """The launch users copy from docs/training.md: `deepspeed --num_gpus 2 $(which emollm) train ...`
    (the launcher puts --local_rank=N after the script and exports RANK, WORLD_SIZE, LOCAL_RANK)."""
    out = tmp_path / "launcher"
    command = [str(BIN / "deepspeed"), "--num_gpus", "2", "--master_port", str(free_port()), str(BIN / "emollm"),
               *_phase_1a(tiny_curriculum, out, tiny_overrides, batch_size=2), "deepspeed=zero3"]
    _launch(command)
    _assert_matches(one_process, out, "zero3")


RESUME_STEPS = 6


def _resume_args(tiny_curriculum, out, tiny_overrides) -> list[str]:
    return [*_phase_1a(tiny_curriculum, out, tiny_overrides, 2, RESUME_STEPS, "phases.1a.save_steps=2",
                       "phases.1a.keep_checkpoints=5"), "deepspeed=zero3"]


@pytest.mark.slow
@pytest.mark.timeout(3 * LAUNCH_TIMEOUT + 100)  # three launches
def test_zero3_resume_gives_the_weights_of_an_uninterrupted_run(tmp_path, tiny_curriculum, tiny_overrides):
    straight, killed = tmp_path / "straight", tmp_path / "killed"
    _launch(_torchrun(_resume_args(tiny_curriculum, straight, tiny_overrides)))

    checkpoint = killed / "checkpoints" / "1a" / "checkpoint-2"
    log = tmp_path / "killed.log"
    with open(log, "w") as handle:
        process = subprocess.Popen(_torchrun(_resume_args(tiny_curriculum, killed, tiny_overrides)), stdout=handle,
                                   stderr=subprocess.STDOUT, env=os.environ | ENV, start_new_session=True)
    deadline = time.time() + LAUNCH_TIMEOUT
    while not (checkpoint / MARKER).exists():
        if process.poll() is not None or time.time() > deadline:
            process.kill()
            pytest.fail(f"the run ended before {checkpoint.name} was complete:\n{log.read_text()[-3000:]}")
        time.sleep(0.05)
    # torchrun and both ranks: the ranks run in sessions of their own (torch.distributed.elastic
    # starts each worker with start_new_session), so a process-group kill would miss them
    launcher = psutil.Process(process.pid)
    everyone = [launcher, *launcher.children(recursive=True)]
    for member in everyone:
        member.send_signal(signal.SIGKILL)
    psutil.wait_procs(everyone, timeout=60)
    assert len(everyone) >= 3 and not (killed / "1a").exists()

    _launch(_torchrun([*_resume_args(tiny_curriculum, killed, tiny_overrides), "--resume"]))
    info = json.loads((killed / "1a" / "training.json").read_text())
    assert info["metrics"]["resumed_from"] is not None and info["metrics"]["steps"] == RESUME_STEPS
    expected = load_file(straight / "1a" / "model.safetensors")
    resumed = load_file(killed / "1a" / "model.safetensors")
    assert expected.keys() == resumed.keys()
    assert [k for k in expected if not torch.allclose(expected[k], resumed[k], rtol=1e-5, atol=1e-7)] == []


def test_qlora_phase_trains_on_cpu_and_saves_a_merged_model(tmp_path, tiny_curriculum, tiny_overrides,
                                                            tiny_model_dir):
    out = tmp_path / "qlora"
    assert run(["train", "--config", str(tiny_curriculum), "--out", str(out), "--phase", "3", *tiny_overrides,
                "phases.3.init=base", "phases.3.lora.quantize=4bit", "phases.3.train=[lora, adapter.*]",
                "phases.3.batch_size=2", "phases.3.logging_steps=1", "steps=3",
                "phases.3.precision=bf16"]) == 0  # bf16 compute, as on a GPU (the Trainer refused it on CPU)
    info = json.loads((out / "3" / "training.json").read_text())
    rows = {r["component"]: r for r in info["trainable"]}
    assert rows["lora"]["trainable"] > 0 and rows["llm"]["trainable"] == 0
    assert all(torch.isfinite(torch.tensor(info["loss_curve"])))
    before, after = load_file(tiny_model_dir / "model.safetensors"), load_file(out / "3" / "model.safetensors")
    assert before.keys() == after.keys()
    assert all(t.dtype == torch.float32 for t in after.values() if t.is_floating_point())  # not 4-bit, not bf16
    q_proj = "language_model.model.layers.0.self_attn.q_proj.weight"
    assert not torch.equal(before[q_proj], after[q_proj])  # LoRA merged into the full-precision base
    assert torch.equal(before["towers.audio.conv1.weight"], after["towers.audio.conv1.weight"])
    model = EmoLLMForConditionalGeneration.from_pretrained(out / "3")
    assert not getattr(model, "is_quantized", False)
