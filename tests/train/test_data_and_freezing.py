"""The phase's data (weighted mixture, deterministic order and dropout, collation that trains only
assistant turns) and explicit freezing (selection, table, errors)."""

from __future__ import annotations

import re

import pytest
import torch

from data_pipeline.errors import ConfigError
from emollm import EmoLLMForConditionalGeneration
from emollm.feature_cache import FeatureCache
from emollm.processing_emollm import IGNORE_INDEX
from train.curriculum import ModalityDropout, load_curriculum
from train.data import CachedClips, Collator, MixtureDataset, load_sources, warm_feature_cache
from train.freezing import format_table, parameter_table, select_trainable


@pytest.fixture(scope="module")
def sources(tiny_curriculum, tiny_overrides):
    curriculum = load_curriculum(tiny_curriculum, tiny_overrides)
    return load_sources(curriculum, "3")


@pytest.fixture(scope="module")
def cached(tiny_model, sources, train_cache_dir):
    model, processor = tiny_model
    cache = FeatureCache(train_cache_dir)
    return CachedClips(cache, warm_feature_cache(model, processor, sources, cache))


def test_mixture_follows_weights_and_is_deterministic(sources, cached):
    dataset = MixtureDataset(sources, 700, seed=3, clips=cached)
    counts = list(dataset.counts().values())  # weights 3 : 2 : 2
    assert abs(counts[0] / 700 - 3 / 7) < 0.06 and abs(counts[1] / 700 - 2 / 7) < 0.06
    again = MixtureDataset(sources, 700, seed=3, clips=cached)
    assert dataset.items == again.items
    assert MixtureDataset(sources, 700, seed=4, clips=cached).items != dataset.items
    passes = len(sources[0].records)
    first = [row for source, row in dataset.items if source == 0][:passes]
    assert len(set(first)) == len(first)  # a source is walked without repeats within a pass


def test_modality_dropout_is_per_index_and_removes_features(sources, cached):
    dropout = ModalityDropout(video=0.5, audio=0.5, subtitle=0.5)
    dataset = MixtureDataset(sources, 64, seed=0, clips=cached, dropout=dropout)
    drops = [dataset.dropped(i) for i in range(64)]
    assert drops == [dataset.dropped(i) for i in range(64)]
    assert not any({"video", "audio"} <= d for d in drops)
    index = next(i for i, d in enumerate(drops) if "video" in d)
    item = dataset[index]
    assert set(item["clip"].features) == {"audio"}
    assert all(part.get("type") != "video" for part in item["messages"][0]["content"] if isinstance(part, dict))


def test_collator_trains_only_the_assistant_turn(tiny_model, sources, cached):
    _, processor = tiny_model
    dataset = MixtureDataset(sources, 4, seed=0, clips=cached)
    items = [dataset[i] for i in range(4)]
    batch = Collator(processor)(items)
    assert set(batch["tower_features"]) >= {"frames", "face", "audio"}
    for row, item in zip(range(4), items, strict=True):
        labelled = batch["labels"][row][batch["labels"][row] != IGNORE_INDEX]
        answer = processor.decode(labelled, skip_special_tokens=True).strip()
        assert answer == item["messages"][-1]["content"].strip()


def test_freezing_selects_named_parts_and_logs_a_table(tiny_model_dir):
    model = EmoLLMForConditionalGeneration.from_pretrained(tiny_model_dir)
    groups = select_trainable(model, ["adapter.*", "llm.embeddings"], "x")
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable == set(groups)
    assert all(n.startswith("adapters.") or "embed_tokens" in n for n in trainable)
    assert set(groups.values()) == {"adapters", "llm"}
    rows = {r["component"]: r for r in parameter_table(model)}
    assert rows["adapter.audio"]["trainable"] == rows["adapter.audio"]["parameters"] > 0
    assert rows["tower.audio"]["trainable"] == 0 and rows["fusion"]["trainable"] == 0
    assert 0 < rows["llm"]["trainable"] < rows["llm"]["parameters"]
    assert "| adapter.audio |" in re.sub(r" +", " ", format_table(list(rows.values())))  # tabulate pads
    with pytest.raises(ConfigError, match="phase x: train names 'lora'"):
        select_trainable(model, ["lora"], "x")
    for parameter in model.parameters():
        assert parameter.dtype == torch.float32
