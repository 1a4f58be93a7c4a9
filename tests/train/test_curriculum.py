"""The curriculum is data: the shipped files validate, overrides apply, and every bad input
(a key, a value, a missing dataset file, a phase that trains nothing, an unsupported
combination, a run directory in use) fails before any work with a message naming it."""

from __future__ import annotations

import json

import pytest

from data_pipeline.errors import ConfigError
from emollm.cli import run
from emollm.packaged import find_config
from emollm.presets import load_preset
from train.curriculum import load_curriculum
from train.support import check_supported, check_trainable_parts

P2E = find_config("curriculum", "p2e")


def test_shipped_curricula_follow_the_published_recipe(tiny_curriculum):
    for path in (P2E, tiny_curriculum):
        curriculum = load_curriculum(path)
        phases = curriculum.phases
        recipe = [p for p in phases if p != "0"]  # the tiny one warms its random LLM up on text first
        assert recipe == ["1a", "1b", "2", "3", "4"]
        assert [phases[p].init for p in recipe] == [list(phases)[0] if "0" in phases else "base", "1a", "1b", "2", "3"]
        assert "adapter.audio" in phases["1a"].train and "adapter.frames" not in phases["1a"].train
        assert {"adapter.frames", "adapter.face"} <= set(phases["1b"].train)
        assert "adapter.audio" not in phases["1b"].train
        assert "fusion" in phases["2"].train and {e.tasks[0] for e in phases["2"].data} == {"MIR"}
        assert "lora" in phases["3"].train and phases["3"].lora is not None
        tasks = {t for e in phases["3"].data for t in (e.tasks or [])}
        assert tasks == {"MER", "MSA", "OV-MER", "ERI", "MIR", "ERG"}
        grpo = phases["4"]  # reinforcement after multitask tuning, on every checkable task
        assert grpo.grpo is not None and grpo.grpo.beta > 0 and grpo.grpo.rewards["emotion"] > 0
        assert {t for e in grpo.data for t in e.tasks} == {"MER", "MSA", "OV-MER", "MIR", "ERG"}
    warm_up = load_curriculum(tiny_curriculum).phases["0"]
    assert warm_up.train == ["llm"] and {"video", "audio"} <= set(warm_up.drop)
    real = load_curriculum(P2E)
    assert real.model.preset == "nano-2b"
    assert all("llm" not in p.train for p in real.phases.values())  # the real LLM only gets LoRA


def test_overrides_address_phases_by_name_and_steps_caps_all(tiny_curriculum):
    curriculum = load_curriculum(tiny_curriculum, ["phases.3.max_steps=5", "steps=2", "phases.1a.batch_size=3"])
    assert curriculum.phases["3"].max_steps == 5
    assert curriculum.phases["1a"].batch_size == 3
    assert curriculum.phase_steps_cap(curriculum.phases["3"].max_steps) == 2
    assert curriculum.phases["1b"].optim.scheduler == "cosine"  # from defaults


@pytest.mark.parametrize(("override", "named"), [
    ("phases.1a.learning_rate=0.1", "phases.1a.learning_rate"),
    ("phases.1a.batch_size=zero", "phases.1a.batch_size"),
    ("phases.9.max_steps=1", "no phase named '9'"),
    ("phases.1b.train=[]", "phases.1b"),
    ("phases.1b.train=[adapter.video]", "adapter.video"),
    ("phases.2.init=3", "phases.2.init"),
    ("phases.2.optim.lr={adapters: 0.1}", "fusion"),
    ("phases.3.lora=null", "lora"),
    ("phases.1a.data=[{dataset: nowhere}]", "nowhere"),
    ("deepspeed=zero7", "zero7"),
    ("phases.1a.drop=[video, audio]", "adapter.audio would get no gradient"),
    ("surprise=1", "surprise"),
])
def test_bad_keys_and_values_are_named(tiny_curriculum, override, named):
    with pytest.raises(ConfigError, match=named.replace("[", r"\[")):
        load_curriculum(tiny_curriculum, [override])


def test_unsupported_combinations_are_refused(tiny_curriculum):
    qlora = ["phases.3.lora.quantize=4bit", "phases.3.train=[lora, adapter.*]"]
    curriculum = load_curriculum(tiny_curriculum, [*qlora, "deepspeed=zero3"])
    with pytest.raises(ConfigError, match="QLoRA with ZeRO-3"):
        check_supported(curriculum, ["3"], world_size=1)
    curriculum = load_curriculum(tiny_curriculum, ["phases.3.lora.quantize=4bit"])
    with pytest.raises(ConfigError, match="4-bit LLM"):
        check_supported(curriculum, ["3"], world_size=1)
    check_supported(load_curriculum(tiny_curriculum, qlora), ["3"], world_size=1)


def test_qlora_with_zero2_offload_is_refused(tmp_path, tiny_curriculum):
    config = tmp_path / "zero2-offload.json"  # keys as in DeepSpeed's config docs (zero_optimization)
    config.write_text(json.dumps({"zero_optimization": {"stage": 2, "offload_optimizer": {"device": "cpu"}}}))
    curriculum = load_curriculum(tiny_curriculum, ["phases.3.lora.quantize=4bit", "phases.3.train=[lora, adapter.*]",
                                                   f"deepspeed={config}"])
    with pytest.raises(ConfigError, match="QLoRA with ZeRO offload"):
        check_supported(curriculum, ["3"], world_size=1)


def test_shipped_configs_are_found_by_name_from_any_directory(tmp_path, monkeypatch, tiny_curriculum):
    monkeypatch.chdir(tmp_path)
    assert load_curriculum("p2e-tiny", ["deepspeed=zero3-offload"]) == load_curriculum(
        tiny_curriculum, ["deepspeed=zero3-offload"])
    assert load_preset("tiny").name == "tiny"
    with pytest.raises(ConfigError, match="shipped curricula by name: p2e, p2e-tiny"):
        load_curriculum("p2e-huge")
    with pytest.raises(ConfigError, match=r"deepspeed: 'zero4' is neither a JSON file nor a shipped config \(zero2"):
        load_curriculum("p2e-tiny", ["deepspeed=zero4"])
    with pytest.raises(ConfigError, match="unknown preset 'huge'; known presets: nano-2b, tiny"):
        load_preset("huge")


def test_trainable_parts_are_checked_against_the_model(tmp_path, tiny_model_dir, tiny_curriculum):
    from emollm import EmoLLMConfig

    config = EmoLLMConfig.from_pretrained(tiny_model_dir)
    config.audio_config, config.fusion = None, {"enabled": False}
    config.adapters = {k: v for k, v in config.adapters.items() if k not in ("audio", "fusion")}
    config.save_pretrained(tmp_path)
    curriculum = load_curriculum(tiny_curriculum, [f"model.dir={tmp_path}", "model.preset=null"])
    check_trainable_parts(curriculum, ["1b"])
    with pytest.raises(ConfigError, match=r"phases.1a.train: 'adapter.audio' matches nothing"):
        check_trainable_parts(curriculum, ["1a"])


def test_cli_refuses_before_any_work(tmp_path, tiny_overrides, tiny_curriculum):
    out = tmp_path / "run"
    missing = [*tiny_overrides, f"datasets.synthetic.records={tmp_path / 'absent.jsonl'}"]
    with pytest.raises(ConfigError, match="datasets.synthetic.records .*absent.jsonl"):
        run(["train", "--config", str(tiny_curriculum), "--out", str(out), *missing])
    with pytest.raises(ConfigError, match="QLoRA with ZeRO-3"):
        run(["train", "--config", str(tiny_curriculum), "--out", str(out), *tiny_overrides, "deepspeed=zero3",
             "phases.3.lora.quantize=4bit", "phases.3.train=[lora]"])
    with pytest.raises(ConfigError, match="starts from phase 2"):
        run(["train", "--config", str(tiny_curriculum), "--out", str(out), "--phase", "3", *tiny_overrides])
    assert not out.exists()
    (out / "1a").mkdir(parents=True)
    with pytest.raises(ConfigError, match="already holds phase 1a; pass --resume"):
        run(["train", "--config", str(tiny_curriculum), "--out", str(out), *tiny_overrides])
