"""Real DeepSpeed: ZeRO-2 with two processes under torchrun (gloo on CPU) matches the
single-process loss step for step; and QLoRA (bitsandbytes 4-bit LLM + LoRA) trains phase 3
on CPU and saves a plain full-precision model with the LoRA merged."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from emollm import EmoLLMForConditionalGeneration
from emollm.cli import run
from train.distributed import free_port

BIN = Path(sys.executable).parent
STEPS = 4


def _phase_1a(tiny_curriculum, out, tiny_overrides, batch_size):
    return ["train", "--config", str(tiny_curriculum), "--out", str(out), "--phase", "1a", *tiny_overrides,
            "phases.1a.init=base",
            f"steps={STEPS}", f"phases.1a.batch_size={batch_size}", "phases.1a.logging_steps=1"]


def test_zero2_on_two_processes_matches_one_process(tmp_path, tiny_curriculum, tiny_overrides):
    single, double = tmp_path / "one", tmp_path / "two"
    assert run(_phase_1a(tiny_curriculum, single, tiny_overrides, batch_size=4)) == 0
    # a real free port: with --master_port 0 torchrun exports MASTER_PORT=0 and DeepSpeed's
    # env:// rendezvous then waits forever for rank 0's store
    command = [str(BIN / "torchrun"), "--nproc_per_node", "2", "--master_port", str(free_port()), str(BIN / "emollm"),
               *_phase_1a(tiny_curriculum, double, tiny_overrides, batch_size=2), "deepspeed=zero2"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=900,
                            env=os.environ | {"HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"})
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]
    one = json.loads((single / "1a" / "training.json").read_text())
    two = json.loads((double / "1a" / "training.json").read_text())
    assert two["metrics"]["processes"] == 2 and two["deepspeed"] == "zero2"
    assert two["loss_curve"] == pytest.approx(one["loss_curve"], rel=1e-3)
    assert len(one["loss_curve"]) == STEPS and one["loss_curve"][-1] < one["loss_curve"][0]
    assert (double / "checkpoints" / "1a" / f"checkpoint-{STEPS}" / f"global_step{STEPS}").is_dir()
    EmoLLMForConditionalGeneration.from_pretrained(double / "1a")


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
