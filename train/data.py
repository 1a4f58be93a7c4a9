"""A phase's data: its datasets (generated when a synthetic one is absent), the weighted mixture
of their records, the feature-cache warm-up, and the collator.

* `MixtureDataset` draws each sample's source by weight and walks each source through shuffled
  passes of its records; everything (order, modality dropout) follows from (seed, index), so a
  resumed run sees exactly the samples an uninterrupted one would.
* With frozen towers, `warm_feature_cache` encodes every clip once (`encode_clip`, progress bar)
  and the dataset yields `CachedClip`s read from the cache; otherwise it decodes the media.
* Before the first phase trains, the model's feature standardisation (`emollm.feature_norm`) is
  fitted on the tower features of the clips it reads (`clip_features`).
* The collator is the processor: `processor(conversations, clips, return_labels=True)` pads and
  masks the labels so only the assistant turns are trained.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset
from tqdm.auto import tqdm

from data_pipeline.clip import Clip
from data_pipeline.errors import ConfigError
from data_pipeline.schema import Record, read_records
from emollm.feature_cache import (
    CachedClip,
    FeatureCache,
    clip_key,
    encode_clip,
    model_fingerprint,
    processor_settings,
)
from emollm.records import record_inputs
from train.curriculum import Curriculum, DatasetSpec, ModalityDropout, Phase

logger = logging.getLogger(__name__)

VIDEO_FEATURES = ("frames", "face")


# --- datasets ----------------------------------------------------------------------------------
def ensure_dataset(name: str, spec: DatasetSpec) -> Path:
    """The records file, generated first when the spec says how (synthetic set)."""
    if spec.generate is not None:
        from data_pipeline.synthetic import generate_synthetic

        if spec.records.name != "records.jsonl":
            raise ConfigError(f"datasets.{name}.records: a generated set is written as records.jsonl, "
                              f"got {spec.records.name}")
        return generate_synthetic(spec.records.parent, n=spec.generate.n, seed=spec.generate.seed)
    if not spec.records.exists():
        raise ConfigError(f"datasets.{name}.records: file not found: {spec.records}")
    return spec.records


def check_datasets(curriculum: Curriculum, phases: list[str]) -> None:
    """Before any work: every dataset the phases read exists (or can be generated)."""
    for phase in phases:
        for entry in curriculum.phases[phase].data:
            spec = curriculum.datasets[entry.dataset]
            if spec.generate is None and not spec.records.exists():
                raise ConfigError(f"datasets.{entry.dataset}.records (read by phase {phase}): "
                                  f"file not found: {spec.records}")


@dataclass
class Source:
    name: str
    records: list[Record]
    weight: float


def load_sources(curriculum: Curriculum, phase_name: str) -> list[Source]:
    phase = curriculum.phases[phase_name]
    loaded: dict[str, list[Record]] = {}
    sources = []
    for index, entry in enumerate(phase.data):
        if entry.dataset not in loaded:
            loaded[entry.dataset] = read_records(ensure_dataset(entry.dataset, curriculum.datasets[entry.dataset]))
        tasks = set(entry.tasks) if entry.tasks else None
        records = [r for r in loaded[entry.dataset] if r.split == entry.split and (tasks is None or r.task in tasks)]
        if not records:
            raise ConfigError(f"phases.{phase_name}.data.{index}: dataset {entry.dataset!r} has no "
                              f"{entry.split} records for tasks {sorted(tasks) if tasks else 'any'}")
        label = f"{entry.dataset}[{entry.split}]" + (f"({','.join(sorted(tasks))})" if tasks else "")
        sources.append(Source(label, records, entry.weight))
    return sources


# --- feature cache -----------------------------------------------------------------------------
def distinct_clips(fingerprint: str, processor, sources: list[Source]) -> tuple[dict[str, str], dict[str, Clip]]:
    """({record id: cache key}, {cache key: clip}) over the records the phase reads: each clip
    once, however many records (tasks) share it."""
    settings = processor_settings(processor)
    keys: dict[str, str] = {}
    clip_of: dict[str, Clip] = {}
    for source in sources:
        for record in source.records:
            clip = record_inputs(record).clip
            if clip is not None:
                key = clip_key(fingerprint, settings, clip)
                keys[record.id] = key
                clip_of.setdefault(key, clip)
    return keys, clip_of


def warm_feature_cache(model, processor, sources: list[Source], cache: FeatureCache, rank: int = 0,
                       world_size: int = 1) -> dict[str, str]:
    """Encode every clip the phase reads once (ranks split the work); return {record id: cache key}."""
    fingerprint = model_fingerprint(model)  # hashes the tower weights: once per phase
    keys, todo = distinct_clips(fingerprint, processor, sources)
    mine = list(todo.items())[rank::world_size]
    encoded = 0
    for key, clip in tqdm(mine, desc="feature cache", unit="clip", disable=rank != 0):
        if cache.get(key) is None:
            encode_clip(model, processor, cache, clip, fingerprint=fingerprint)
            encoded += 1
    logger.info("feature cache %s: %d clips for %d records (%d encoded by this process, %d were cached)",
                cache.directory, len(todo), len(keys), encoded, len(mine) - encoded)
    return keys


class CachedClips:
    """Clips from the warmed feature cache, with dropped modalities removed."""

    def __init__(self, cache: FeatureCache, keys: dict[str, str]):
        self.cache, self.keys = cache, keys

    def __call__(self, record: Record, clip: Clip | None, drop: set[str]):
        key = self.keys.get(record.id)
        if key is None or clip is None:  # text-only record, or both media dropped
            return None
        features = self.cache.get(key)
        if features is None:
            raise RuntimeError(f"{record.id}: not in the feature cache {self.cache.directory}; was it warmed?")
        removed = (VIDEO_FEATURES if "video" in drop else ()) + (("audio",) if "audio" in drop else ())
        return CachedClip({m: f for m, f in features.items() if m not in removed})


def clip_features(model, processor, sources: list[Source], clips) -> Iterator[dict]:
    """Tower features of each distinct clip the phase reads (for fitting the model's feature
    standardisation): read from the warmed cache when `clips` uses it, else encoded once."""
    if isinstance(clips, CachedClips):
        for key in dict.fromkeys(clips.keys.values()):
            yield clips.cache.get(key)
        return
    _, clip_of = distinct_clips(model_fingerprint(model), processor, sources)
    for clip in clip_of.values():
        with torch.no_grad():
            yield encode_clip(model, processor, None, clip)[0].features


class DecodedClips:
    """Clips decoded from the media files on every read (towers trainable, or no cache)."""

    def __init__(self, processor):
        self.processor = processor

    def __call__(self, record: Record, clip: Clip | None, drop: set[str]):
        return self.processor.load_media(clip) if clip is not None else None


# --- mixture -----------------------------------------------------------------------------------
class MixtureDataset(Dataset):
    """`length` samples drawn from the sources by weight, deterministic in (seed, index)."""

    def __init__(self, sources: list[Source], length: int, seed: int, clips: Callable,
                 drop: set[str] = frozenset(), dropout: ModalityDropout | None = None):
        self.sources, self.seed, self.clips = sources, seed, clips
        self.drop, self.dropout = set(drop), dropout or ModalityDropout()
        rng = np.random.default_rng([seed, 1])
        weights = np.array([s.weight for s in sources], dtype=float)
        chosen = rng.choice(len(sources), size=length, p=weights / weights.sum())
        self.items: list[tuple[int, int]] = []
        orders = [np.array([], dtype=int) for _ in sources]
        used = [0] * len(sources)
        for source in chosen:
            if used[source] == len(orders[source]):  # start another shuffled pass
                orders[source] = rng.permutation(len(sources[source].records))
                used[source] = 0
            self.items.append((int(source), int(orders[source][used[source]])))
            used[source] += 1

    def __len__(self) -> int:
        return len(self.items)

    def dropped(self, index: int) -> set[str]:
        rng = np.random.default_rng([self.seed, 2, index])
        drop = set(self.drop)
        for modality in ("video", "audio", "subtitle"):
            if rng.random() < getattr(self.dropout, modality):
                drop.add(modality)
        if {"video", "audio"} <= drop and not {"video", "audio"} <= self.drop:  # random dropout keeps one medium
            drop.discard("audio" if "audio" not in self.drop else "video")
        return drop

    def counts(self) -> dict[str, int]:
        totals = np.bincount([s for s, _ in self.items], minlength=len(self.sources))
        return {source.name: int(n) for source, n in zip(self.sources, totals, strict=True)}

    def __getitem__(self, index: int) -> dict:
        source, row = self.items[index]
        record = self.sources[source].records[row]
        drop = self.dropped(index)
        inputs = record_inputs(record, drop=drop)
        return {"messages": inputs.messages, "clip": self.clips(record, inputs.clip, drop)}


def build_dataset(phase: Phase, sources: list[Source], length: int, seed: int, clips: Callable) -> MixtureDataset:
    return MixtureDataset(sources, length, seed, clips, drop=set(phase.drop), dropout=phase.modality_dropout)


class Collator:
    """Pads a batch and masks labels to the assistant turns (the processor does both)."""

    def __init__(self, processor):
        self.processor = processor

    def __call__(self, items: list[dict]) -> dict:
        batch = self.processor([i["messages"] for i in items], [i["clip"] for i in items], return_labels=True)
        return dict(batch)
