"""The model on the tiny preset: every modality mix trains, placeholders are checked, weights
round-trip, LoRA and QLoRA train only what they should, generate returns text."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from emollm import EmoLLMForConditionalGeneration
from emollm.modeling_emollm import PlaceholderMismatchError


def _ask(parts):
    return [{"role": "user", "content": [*parts, {"type": "text", "text": "How does the speaker feel?"}]},
            {"role": "assistant", "content": "happy"}]


@pytest.fixture(scope="module")
def clips(tiny_model, media_dir):
    _, processor = tiny_model
    return {
        "video+audio": (processor.load_media(video=media_dir / "clip.mp4"), [{"type": "video"}]),
        "image": (processor.load_media(image=media_dir / "still.png"), [{"type": "image"}]),
        "audio": (processor.load_media(audio=media_dir / "voice.wav"), [{"type": "audio"}]),
        "text": (None, []),
    }


@pytest.mark.parametrize("mix", ["video+audio", "image", "audio", "text"])
def test_forward_backward_every_modality_mix(tiny_model, clips, mix):
    model, processor = tiny_model
    clip, parts = clips[mix]
    batch = processor([_ask(parts)], [clip], return_labels=True)
    model.train()
    model.zero_grad()
    loss = model(**batch).loss
    assert torch.isfinite(loss)
    loss.backward()
    used = {"video+audio": ["frames", "face", "audio", "fusion"], "image": ["frames", "face"],
            "audio": ["audio"], "text": []}[mix]
    for modality, adapter in model.adapters.items():
        has_grad = any(p.grad is not None and p.grad.abs().sum() > 0 for p in adapter.parameters())
        assert has_grad == (modality in used), modality
    assert all(p.grad is None for p in model.towers.parameters()), "frozen towers got gradients"
    model.zero_grad()


def test_mixed_batch_with_and_without_media(tiny_model, clips):
    model, processor = tiny_model
    names = ["video+audio", "text", "audio", "image"]
    batch = processor([_ask(clips[n][1]) for n in names], [clips[n][0] for n in names], return_labels=True)
    with torch.no_grad():
        batched = model(**batch).logits
        for row, name in enumerate(names):
            alone = processor([_ask(clips[name][1])], [clips[name][0]], return_labels=True)
            logits = model(**alone).logits[0]
            torch.testing.assert_close(batched[row, : logits.shape[0]], logits, atol=1e-4, rtol=1e-4)


def test_placeholder_feature_mismatch_is_a_clear_error(tiny_model, clips):
    model, processor = tiny_model
    batch = processor([_ask([{"type": "video"}])], [clips["video+audio"][0]])
    frames_id = model.config.placeholder_token_ids["frames"]
    ids = batch["input_ids"].clone()
    ids[0, (ids[0] == frames_id).nonzero()[0]] = processor.tokenizer.pad_token_id  # drop one placeholder
    batch["input_ids"] = ids
    with pytest.raises(PlaceholderMismatchError, match="frames: the prompt has 7 frames placeholder tokens"):
        model(**batch)


def test_save_and_load_in_a_new_process_gives_identical_logits(tiny_model, clips, tmp_path):
    model, processor = tiny_model
    model.save_pretrained(tmp_path / "model")
    processor.save_pretrained(tmp_path / "model")
    batch = processor([_ask([{"type": "video"}])], [clips["video+audio"][0]])
    torch.save(dict(batch), tmp_path / "batch.pt")
    model.eval()
    with torch.no_grad():
        expected = model(**batch).logits
    script = (
        "import sys, torch, emollm\n"
        "emollm.register_auto_classes()\n"
        "from transformers import AutoModel\n"
        "m = AutoModel.from_pretrained(sys.argv[1]).eval()\n"
        "b = torch.load(sys.argv[2])\n"
        "with torch.no_grad(): torch.save(m(**b).logits, sys.argv[3])\n")
    subprocess.run([sys.executable, "-c", script, str(tmp_path / "model"), str(tmp_path / "batch.pt"),
                    str(tmp_path / "logits.pt")], check=True)
    assert torch.equal(torch.load(tmp_path / "logits.pt"), expected)
    assert (tmp_path / "model" / "model.safetensors").exists()


def test_any_import_path_registers_the_auto_classes(tiny_model_dir):
    """The serving loader imports the class modules directly: AutoConfig must still know the model
    type (AutoTokenizer consults it, and warned "model of type `emollm` to instantiate a model of
    type ``" when it did not)."""
    script = ("import sys\n"
              "from emollm.inference import load_model_dir\n"
              "load_model_dir(sys.argv[1])\n"
              "from transformers import AutoConfig, AutoProcessor\n"
              "print(type(AutoConfig.from_pretrained(sys.argv[1])).__name__, "
              "type(AutoProcessor.from_pretrained(sys.argv[1])).__name__)\n")
    out = subprocess.run([sys.executable, "-c", script, str(tiny_model_dir)], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["EmoLLMConfig", "EmoLLMProcessor"]
    assert "to instantiate a model of type" not in out.stderr, out.stderr


def test_lora_trains_only_lora_and_what_is_marked_trainable(tiny_model_dir, tiny_model):
    from emollm.lora import apply_lora, merge_lora

    _, processor = tiny_model
    model = EmoLLMForConditionalGeneration.from_pretrained(tiny_model_dir)
    model.requires_grad_(False)
    model.adapters["audio"].requires_grad_(True)  # what a phase config would mark trainable
    apply_lora(model, r=4, alpha=8, dropout=0.0)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    batch = processor([[{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]],
                      [None], return_labels=True)
    model.train()
    for _ in range(2):
        model(**batch).loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    changed = {n for n, p in model.named_parameters() if not torch.equal(p, before[n])}
    assert changed, "nothing trained"
    assert all("lora_" in n for n in changed), sorted(changed)[:5]  # audio adapter unused by text: unchanged
    merge_lora(model)
    assert not any("lora_" in n for n, _ in model.named_parameters())


def test_qlora_loads_4bit_and_takes_a_training_step_on_cpu(tiny_model_dir, tiny_model):
    import bitsandbytes as bnb

    from emollm.lora import apply_lora, load_4bit

    _, processor = tiny_model
    model = load_4bit(tiny_model_dir)
    quantised = [m for m in model.language_model.modules() if isinstance(m, bnb.nn.Linear4bit)]
    assert quantised and all(not isinstance(m, bnb.nn.Linear4bit) for m in model.adapters.modules())
    apply_lora(model, r=4, alpha=8, dropout=0.0)
    model.requires_grad_(False)
    for name, param in model.named_parameters():
        param.requires_grad = "lora_" in name
    batch = processor([[{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]],
                      [None], return_labels=True)
    with torch.no_grad():  # the first no-grad forward is the avx512-bf16 trap (emollm/lora.py)
        model.eval()
        model(**batch)
    model.train()
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=5e-3)
    losses = []
    for _ in range(6):
        loss = model(**batch).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        losses.append(loss.item())
    assert losses[-1] < losses[0]


def test_generate_returns_text(tiny_model, clips):
    model, processor = tiny_model
    conversation = [{"role": "user", "content": [{"type": "video"}, {"type": "text", "text": "How do they feel?"}]}]
    batch = processor([conversation, [{"role": "user", "content": "hi"}]], [clips["video+audio"][0], None],
                      add_generation_prompt=True, padding_side="left")
    model.eval()
    ids = model.generate(**batch, max_new_tokens=5, do_sample=False, min_new_tokens=5)
    texts = processor.batch_decode(ids, skip_special_tokens=True)
    assert ids.shape == (2, 5) and all(isinstance(t, str) for t in texts)
