"""`emollm init` on a machine laid out like a user's: tiny checkpoints of the real classes (a full
CLIP model, a ViT classifier, a Whisper model, a Qwen2 causal LM) saved by transformers into a
hub cache under their real repo ids (`HF_HOME/hub/models--openai--clip-vit-large-patch14/
snapshots/<rev>/...`, `refs/main`), read with HF_HUB_OFFLINE=1. Every tensor of each part must
equal its checkpoint's; a renamed key must fail by name; `pretrained: /local/dir` works too."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from safetensors.torch import load_file, save_file

from emollm.presets import REPO_ROOT, init_model_dir, load_preset
from emollm.processing_emollm import ClipMedia
from emollm.towers import TowerLoadError

# The repo ids of the real preset (configs/model/nano-2b.yaml); the sizes are tiny.
REPOS = {"frames": "openai/clip-vit-large-patch14", "face": "google/vit-base-patch16-224",
         "audio": "openai/whisper-medium", "text": "Qwen/Qwen2.5-1.5B-Instruct"}
VISION = {"hidden_size": 32, "intermediate_size": 48, "num_hidden_layers": 2, "num_attention_heads": 2,
          "image_size": 32, "patch_size": 16}
WHISPER = {"d_model": 32, "encoder_layers": 2, "encoder_attention_heads": 2, "encoder_ffn_dim": 48,
           "decoder_layers": 1, "decoder_attention_heads": 2, "decoder_ffn_dim": 48, "num_mel_bins": 80,
           "max_source_positions": 1500, "max_target_positions": 32, "vocab_size": 64, "pad_token_id": 1,
           "bos_token_id": 1, "eos_token_id": 2, "decoder_start_token_id": 1}
VOCAB = 1280  # above the tiny tokenizer's size + EmoLLM's placeholders: no resizing
QWEN = {"model_type": "qwen2", "vocab_size": VOCAB, "hidden_size": 64, "intermediate_size": 96, "num_hidden_layers": 2,
        "num_attention_heads": 4, "num_key_value_heads": 2, "max_position_embeddings": 512,
        "tie_word_embeddings": True}


def _checkpoints() -> dict[str, torch.nn.Module]:
    """One random model of each real class (seeded: values differ from any random init)."""
    from transformers import (
        CLIPConfig,
        CLIPModel,
        Qwen2Config,
        Qwen2ForCausalLM,
        ViTConfig,
        ViTForImageClassification,
        WhisperConfig,
        WhisperForConditionalGeneration,
    )

    torch.manual_seed(1234)
    text = {"hidden_size": 32, "intermediate_size": 48, "num_hidden_layers": 1, "num_attention_heads": 2,
            "vocab_size": 99, "bos_token_id": 1, "eos_token_id": 2, "pad_token_id": 1}
    return {
        "frames": CLIPModel(CLIPConfig(text_config=text, vision_config=VISION, projection_dim=16)),
        "face": ViTForImageClassification(ViTConfig(**VISION, qkv_bias=True, num_labels=7)),
        "audio": WhisperForConditionalGeneration(WhisperConfig(**WHISPER)),
        "text": Qwen2ForCausalLM(Qwen2Config(**{k: v for k, v in QWEN.items() if k != "model_type"})),
    }


def _save_processors(folder: Path, part: str, tokenizer) -> None:
    from transformers import CLIPImageProcessorPil, ViTImageProcessorPil, WhisperFeatureExtractor

    if part == "frames":  # CLIP's own statistics (the class defaults are OpenAI CLIP's)
        CLIPImageProcessorPil(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}).save_pretrained(folder)
    elif part == "face":  # google/vit-base-patch16-224 normalises with 0.5 / 0.5
        ViTImageProcessorPil(size={"height": 32, "width": 32}, image_mean=[0.5] * 3,
                             image_std=[0.5] * 3).save_pretrained(folder)
    elif part == "audio":
        WhisperFeatureExtractor(feature_size=80).save_pretrained(folder)
    else:
        tokenizer.save_pretrained(folder)


def _hub_snapshot(hub: Path, repo: str, files_from: Path) -> Path:
    """Lay a folder out as huggingface_hub's cache does: blobs/, snapshots/<rev>/ (links), refs/main."""
    base = hub / f"models--{repo.replace('/', '--')}"
    revision = hashlib.sha1(repo.encode()).hexdigest()
    snapshot = base / "snapshots" / revision
    snapshot.mkdir(parents=True)
    (base / "blobs").mkdir()
    for file in files_from.iterdir():
        data = file.read_bytes()
        blob = base / "blobs" / hashlib.sha256(data).hexdigest()
        blob.write_bytes(data)
        (snapshot / file.name).symlink_to(os.path.relpath(blob, snapshot))
    (base / "refs").mkdir()
    (base / "refs" / "main").write_text(revision)
    return snapshot


def _preset(path: Path, sources: dict[str, str], tokenizer: str) -> Path:
    """The tiny preset's architecture with the checkpoints' sizes and the named sources."""
    preset = load_preset("tiny").model_dump()
    preset.update(name=path.stem, tokenizer=tokenizer, text_pretrained=sources["text"], text=dict(QWEN))
    preset["frames"] = {"model_type": "clip_vision_model", **VISION, "projection_dim": 16}
    preset["face"] = {"model_type": "vit", **VISION, "qkv_bias": True}
    preset["audio"] = {"model_type": "whisper", **WHISPER}
    for modality in ("frames", "face", "audio"):
        preset["towers"][modality]["pretrained"] = sources[modality]
    preset["image_processor"] = {"size": 32}
    preset["face_size"] = 32
    path.write_text(yaml.safe_dump(preset, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def stand_ins(tmp_path_factory):
    """(checkpoints, local folders, HF_HOME) of the four tiny stand-ins."""
    from emollm.presets import load_tokenizer

    root = tmp_path_factory.mktemp("stand_ins")
    tokenizer = load_tokenizer(load_preset("tiny"))
    assert len(tokenizer) + 8 < VOCAB
    checkpoints = _checkpoints()
    folders, hub = {}, root / "hf_home" / "hub"
    for part, model in checkpoints.items():
        folders[part] = root / "local" / part
        model.save_pretrained(folders[part])
        _save_processors(folders[part], part, tokenizer)
        _hub_snapshot(hub, REPOS[part], folders[part])
    return checkpoints, folders, root / "hf_home"


def _assert_parts_equal_checkpoints(model, checkpoints) -> None:
    """Compare by value, part against the checkpoint module it came from."""
    references = {"frames": checkpoints["frames"].vision_model, "face": checkpoints["face"].vit,
                  "audio": checkpoints["audio"].get_encoder()}
    for modality, reference in references.items():
        ours = model.towers[modality].state_dict()
        theirs = reference.state_dict()
        assert set(ours) <= set(theirs), (modality, sorted(set(ours) - set(theirs)))
        for key, tensor in ours.items():
            assert torch.equal(tensor, theirs[key]), (modality, key)
    assert not any("pooler" in k for k in model.towers["face"].state_dict())  # the classifier has none
    llm = model.language_model.state_dict()
    for key, tensor in checkpoints["text"].state_dict().items():
        assert torch.equal(llm[key], tensor), key


def test_init_from_the_hub_cache_loads_every_tensor(stand_ins, tmp_path):
    from emollm import EmoLLMForConditionalGeneration, EmoLLMProcessor

    checkpoints, _, hf_home = stand_ins
    preset = _preset(tmp_path / "nano-standin.yaml", REPOS, REPOS["text"])
    env = {**os.environ, "HF_HOME": str(hf_home), "HF_HUB_OFFLINE": "1"}
    env.pop("HF_HUB_CACHE", None)
    out = tmp_path / "model"
    result = subprocess.run([sys.executable, "-m", "emollm.cli", "init", "--preset", str(preset), "--out", str(out)],
                            env=env, capture_output=True, text=True, cwd=REPO_ROOT, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    model = EmoLLMForConditionalGeneration.from_pretrained(out)
    _assert_parts_equal_checkpoints(model, checkpoints)
    processor = EmoLLMProcessor.from_pretrained(out)
    assert processor.face_image_mean == [0.5] * 3 and processor.face_image_std == [0.5] * 3
    # a grey clip: frames normalised with CLIP's statistics, face crops with the ViT checkpoint's
    grey = np.full((8, 32, 32, 3), 128, np.uint8)
    pixels = processor.media_tensors([ClipMedia(frames=grey, faces=grey)])
    assert torch.allclose(pixels["face_pixel_values"], torch.tensor((128 / 255 - 0.5) / 0.5), atol=1e-4)
    clip_red = (128 / 255 - 0.48145466) / 0.26862954  # OpenAI CLIP's red-channel mean / std
    assert torch.allclose(pixels["frames_pixel_values"][:, :, 0], torch.tensor(clip_red), atol=1e-4)


def test_init_from_local_folders(stand_ins, tmp_path):
    checkpoints, folders, _ = stand_ins
    preset = _preset(tmp_path / "local.yaml", {p: str(f) for p, f in folders.items()}, str(folders["text"]))
    from emollm import EmoLLMForConditionalGeneration

    out = init_model_dir(str(preset), tmp_path / "model")
    _assert_parts_equal_checkpoints(EmoLLMForConditionalGeneration.from_pretrained(out), checkpoints)


def _renamed(folder: Path, target: Path, old: str, new: str) -> Path:
    shutil.copytree(folder, target)
    tensors = load_file(target / "model.safetensors")
    assert old in tensors
    tensors[new] = tensors.pop(old)
    save_file(tensors, target / "model.safetensors", metadata={"format": "pt"})
    return target


# `missing` is the key as the loaded model names it (transformers 5 renames ViT's on load)
@pytest.mark.parametrize(("part", "old", "missing"), [
    ("face", "vit.encoder.layer.0.attention.attention.query.weight", "layers.0.attention.q_proj.weight"),
    ("text", "model.layers.1.mlp.up_proj.weight", "model.layers.1.mlp.up_proj.weight"),
])
def test_a_renamed_key_fails_by_name(stand_ins, tmp_path, part, old, missing):
    _, folders, _ = stand_ins
    sources = {p: str(f) for p, f in folders.items()}
    sources[part] = str(_renamed(folders[part], tmp_path / "renamed", old, old.replace("weight", "renamed_weight")))
    preset = _preset(tmp_path / "renamed.yaml", sources, str(folders["text"]))
    with pytest.raises(TowerLoadError, match=rf"missing keys: {missing.replace('.', '[.]')}") as error:
        init_model_dir(str(preset), tmp_path / "model")
    assert "renamed_weight" in str(error.value)  # and the unknown key is named too
    assert not (tmp_path / "model").exists()


def test_a_preset_that_does_not_describe_the_checkpoint_fails(stand_ins, tmp_path):
    _, folders, _ = stand_ins
    preset = _preset(tmp_path / "wrong.yaml", {p: str(f) for p, f in folders.items()}, str(folders["text"]))
    data = yaml.safe_load(preset.read_text())
    data["audio"]["encoder_layers"] = 3  # the checkpoint has 2
    preset.write_text(yaml.safe_dump(data))
    with pytest.raises(TowerLoadError, match=r"missing keys: layers[.]2[.]"):
        init_model_dir(str(preset), tmp_path / "model")


def test_random_init_is_the_seeds(tmp_path):
    """`emollm init` draws the parts without pretrained weights from --seed, not from the process's
    RNG: the same seed writes the same bytes whatever ran before, and leaves the RNG as it was."""
    from emollm.cli import run

    torch.manual_seed(123)
    for name, seed in (("first", 0), ("again", 0), ("other", 1)):
        torch.rand(7)  # something else draws from the global RNG in between
        assert run(["init", "--preset", "tiny", "--out", str(tmp_path / name), "--seed", str(seed)]) == 0
    weights = {name: (tmp_path / name / "model.safetensors").read_bytes() for name in ("first", "again", "other")}
    assert weights["first"] == weights["again"] != weights["other"]
    untouched = torch.Generator().manual_seed(123)
    for _ in range(3):
        torch.rand(7, generator=untouched)
    assert torch.equal(torch.rand(3), torch.rand(3, generator=untouched))
