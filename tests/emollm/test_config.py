from __future__ import annotations

import json
import subprocess
import sys

import pytest

from data_pipeline.errors import ConfigError
from emollm import EmoLLMConfig
from emollm.presets import load_preset


def test_bad_key_names_itself():
    with pytest.raises(ConfigError, match=r"adapters\.frames\.num_tokenz"):
        EmoLLMConfig(frame_config={"model_type": "clip_vision_model"},
                     adapters={"frames": {"kind": "qformer", "num_tokens": 4, "num_tokenz": 3}})


def test_bad_value_names_itself():
    with pytest.raises(ConfigError, match=r"adapters\.face\.num_tokens"):
        EmoLLMConfig(face_config={"model_type": "vit"}, adapters={"face": {"kind": "temporal_pool", "num_tokens": 0}})


def test_unknown_adapter_kind_lists_the_known_ones(tiny_model_dir):
    from emollm.presets import build_config, build_model

    preset = load_preset("tiny")
    preset.adapters["face"]["kind"] = "transformerxl"
    with pytest.raises(ConfigError, match="unknown adapter kind 'transformerxl'; known: .*qformer"):
        build_model(build_config(preset))


def test_bad_preset_key_names_itself(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text("name: x\ntokenizer: t\ntext: {}\nframez: {}\n")
    with pytest.raises(ConfigError, match="framez"):
        load_preset(path)


def test_nano_2b_info_counts_on_meta_device_without_downloads():
    out = subprocess.run([sys.executable, "-m", "emollm.cli", "info", "nano-2b", "--json"], capture_output=True,
                         text=True, check=True, env={"HF_HUB_OFFLINE": "1", "PATH": ""})
    summary = json.loads(out.stdout[out.stdout.index("{"):])
    assert 2.0e9 <= summary["total_parameters"] <= 2.4e9
    assert summary["multimodal_tokens_per_clip"] <= 70


def test_tiny_info_counts_the_model_that_is_built(tiny_model):
    """`emollm info tiny` sizes the vocabulary to the shipped tokenizer, as building the model does."""
    from emollm.cli_model import model_summary

    model, _ = tiny_model
    assert model_summary("tiny")["total_parameters"] == sum(p.numel() for p in model.parameters())


def test_specs_are_parsed_once_and_follow_their_dicts(tiny_model_dir):
    config = EmoLLMConfig.from_pretrained(tiny_model_dir)
    specs = config.specs
    assert config.specs is specs  # not validated again on every access (every forward reads them)
    config.media = {**config.media, "num_frames": 4}
    assert config.specs is not specs and config.specs.media.num_frames == 4
    assert "_parsed_specs" not in config.to_dict() and "_parsed_specs" not in config.to_json_string()
