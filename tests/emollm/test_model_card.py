"""MODEL_CARD.md: the sections a card must carry (legal limits, bias, toy warning), a training
phase's record as input, and replacing only the scores after an evaluation."""

from __future__ import annotations

import re

from emollm.model_card import CARD, update_model_card_metrics, write_model_card


def test_card_sections(tiny_model_dir, tmp_path):
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    (model_dir / "config.json").write_text((tiny_model_dir / "config.json").read_text())
    path = write_model_card(model_dir, base="tiny preset (random init)", training="P2E curriculum p2e-tiny",
                            data=["synthetic set, 280 clips, seed 0"])
    card = path.read_text()
    assert path.name == CARD
    for needed in ("## Intended use", "## Training data", "synthetic set, 280 clips", "## Known limits",
                   "Article 5(1)(f)", "workplaces and education institutions", "medical or safety reasons",
                   "## Bias across cultures", "**This is a toy model.**", "Not evaluated yet", "qwen2"):
        assert needed in card, needed
    assert write_model_card(model_dir, base="tiny preset (random init)", training="P2E curriculum p2e-tiny",
                            data=["synthetic set, 280 clips, seed 0"]).read_text() == card  # deterministic


def test_real_model_is_not_called_a_toy(tmp_path):
    card = write_model_card(tmp_path, base="Qwen/Qwen2.5-1.5B-Instruct", data={"MER2023": "train split"}).read_text()
    assert "toy model" not in card and "MER2023" in card and "Article 5(1)(f)" in card


def test_training_phase_record_and_metrics_update(tmp_path):
    info = {"phase": "3", "description": "multitask instruction tuning", "curriculum": "p2e-tiny", "init": "2",
            "config": {"train": ["lora", "llm"], "lora": {"r": 8}}, "mixture": {"synthetic[train](MER)": 16},
            "metrics": {"final_loss": 1.25, "steps": 120, "seconds": 30.0}, "loss_curve": [2.0, 1.25]}
    write_model_card(tmp_path, **info)
    card = (tmp_path / CARD).read_text()
    assert "# p2e-tiny phase 3 (EmoLLM)" in card and "final_loss: 1.25" in card
    assert "synthetic[train](MER)**: 16 training samples" in card and "toy model" in card and "Not evaluated yet" in card
    metrics = {"data": {"file": "records.jsonl", "split": "all", "records": 840},
               "summary": [{"task": "MER", "dataset": "synthetic", "n": 140, "metric": "Acc", "value": 0.6214,
                            "chance_majority": 0.1429, "unparsed": "0/140", "errors": 0}]}
    update_model_card_metrics(tmp_path, metrics)
    updated = (tmp_path / CARD).read_text()
    assert "| MER | synthetic | 140 | Acc | 62.14 | 14.29 | 0/140 |" in re.sub(r" +", " ", updated)
    assert "Not evaluated yet" not in updated
    assert updated.replace(updated[updated.index("<!-- emollm:metrics:start"):updated.index("<!-- emollm:metrics:end")], "") \
        == card.replace(card[card.index("<!-- emollm:metrics:start"):card.index("<!-- emollm:metrics:end")], "")
