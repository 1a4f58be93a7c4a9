"""The tiny P2E curriculum on the synthetic set, every phase on CPU: each phase's loss falls, each
phase changes exactly the components it names (all others bit-identical to its starting
model), and every output is a plain from_pretrained-loadable EmoLLM with its training record."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file

from emollm import EmoLLMForConditionalGeneration
from emollm.cli import run
from train.curriculum import load_curriculum
from train.freezing import selectable_parts

STEPS = 8
pytestmark = pytest.mark.slow  # the module's run of every phase takes over a minute on 2 cores


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory, tiny_curriculum, tiny_overrides):
    out = tmp_path_factory.mktemp("p2e_tiny")
    curriculum = load_curriculum(tiny_curriculum)
    per_phase = [f"phases.{p}.{k}={v}" for p in curriculum.phases
                 for k, v in {"batch_size": 4, "logging_steps": 1, "save_steps": 4}.items()]
    # phase 2's shipped rates (5e-4) are for 100 steps of 16; at 8 steps of 4 its loss only wanders
    faster = "phases.2.optim.lr={adapters: 2.0e-3, fusion: 2.0e-3, llm: 2.0e-3}"
    per_phase += ["phases.4.batch_size=8", "phases.4.grpo.num_generations=4"]  # two groups of four answers
    assert run(["train", "--config", str(tiny_curriculum), "--out", str(out), *tiny_overrides,
                f"steps={STEPS}", *per_phase, faster]) == 0
    return out, curriculum


def _component_of(name: str, parts: dict[str, list[str]]) -> str:
    if name.startswith("feature_norm."):
        return "feature_norm"
    for part in ("tower.frames", "tower.face", "tower.audio", "adapter.frames", "adapter.face", "adapter.audio",
                 "adapter.fusion", "fusion", "llm"):
        if name in parts.get(part, ()):
            return part
    raise AssertionError(name)


def test_every_phase_runs_and_its_loss_falls(tiny_run):
    out, curriculum = tiny_run
    for name in curriculum.phases:
        info = json.loads((out / name / "training.json").read_text())
        if curriculum.phases[name].grpo is not None:  # GRPO's loss is no likelihood: its rewards are logged
            assert len(info["reinforce"]["steps"]) == STEPS and (out / name / "reward_curve.png").exists()
            continue
        losses = info["loss_curve"]
        assert info["metrics"]["steps"] == STEPS and len(losses) == STEPS
        # halves, not end points: phase 3 mixes six tasks whose batches differ a lot in loss
        half = STEPS // 2
        assert sum(losses[half:]) < sum(losses[:half]), (name, losses)
        assert info["versions"]["transformers"] and info["versions"]["torch"]
        rows = {r["component"]: r for r in info["trainable"]}
        assert rows["tower.audio"]["trainable"] == 0
    assert (out / "final" / "training.json").read_text() == (out / "4" / "training.json").read_text()
    assert (out / "logs" / "4").is_dir() and any((out / "logs" / "4").iterdir())  # TensorBoard events


def test_each_phase_changes_exactly_what_it_names(tiny_run, tiny_model_dir):
    out, curriculum = tiny_run
    model = EmoLLMForConditionalGeneration.from_pretrained(out / "final")
    parts = selectable_parts(model)
    # feature_norm: statistics fitted once, at the first phase (the text-only warm-up warms the cache too)
    expected = {"0": {"llm", "feature_norm"}, "1a": {"adapter.audio", "llm"},
                "1b": {"adapter.frames", "adapter.face", "llm"},
                "2": {"adapter.frames", "adapter.face", "adapter.audio", "adapter.fusion", "fusion", "llm"},
                "3": {"adapter.frames", "adapter.face", "adapter.audio", "adapter.fusion", "fusion", "llm"},
                "4": {"adapter.frames", "adapter.face", "adapter.audio", "adapter.fusion", "fusion", "llm"}}
    for name, phase in curriculum.phases.items():
        start = tiny_model_dir if phase.init == "base" else out / phase.init
        before = load_file(start / "model.safetensors")
        after = load_file(out / name / "model.safetensors")
        assert before.keys() == after.keys()  # LoRA merged: no adapter keys left
        changed = {_component_of(k, parts) for k in before if not torch.equal(before[k], after[k])}
        assert changed == expected[name], name


def test_phase_outputs_load_and_generate(tiny_run):
    out, _ = tiny_run
    from emollm import EmoLLMProcessor

    model = EmoLLMForConditionalGeneration.from_pretrained(out / "final")
    processor = EmoLLMProcessor.from_pretrained(out / "final")
    batch = processor([[{"role": "user", "content": "How do you feel?"}]], add_generation_prompt=True)
    assert model.generate(**batch, max_new_tokens=3, do_sample=False).shape[0] == 1
    assert "name: p2e-tiny" in (out / "curriculum.yaml").read_text()
