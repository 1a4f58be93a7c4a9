"""Cache of frozen-tower outputs, so phases that freeze the towers (and a second chat turn about
the same clip) skip decoding and encoding.

What is stored: for each tower, every layer named in its `feature_layers` (the last feeds the
adapter, all feed fusion), as (layers, positions, width) in bf16 — frames: one vector (or every
patch) per sampled frame; face: one vector per face crop; audio: the encoder output trimmed to
the real length and pooled to `media.audio_positions`.

Keyed by the media's content hash plus everything that changes the outputs: the towers'
fingerprint (config, feature selection and a sample of the weights), frame count and sampling,
image and face-crop sizes, the face step's detector and version, the audio window and limit,
and any given face boxes. On disk: one safetensors file per clip, written atomically; with a
size cap the least recently used files go first. `directory=None` keeps an in-memory LRU.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from data_pipeline.atomic import atomic_path
from data_pipeline.clip import Clip

logger = logging.getLogger(__name__)

ClipFeatures = dict[str, torch.Tensor]  # modality -> (layers, positions, width)
FEATURE_DTYPE = torch.bfloat16


@dataclass
class CachedClip:
    """A clip whose tower features are known; stands in for decoded media in the processor."""

    features: ClipFeatures

    @property
    def has_visual(self) -> bool:
        return "frames" in self.features

    @property
    def has_audio(self) -> bool:
        return "audio" in self.features


_HASHES: dict[tuple[str, int, int], str] = {}


def file_hash(path: str | os.PathLike) -> str:
    """sha256 of a file's bytes, remembered per (path, size, mtime) for this process."""
    stat = os.stat(path)
    memo_key = (str(Path(path).resolve()), stat.st_size, stat.st_mtime_ns)
    if memo_key not in _HASHES:
        with open(path, "rb") as handle:
            _HASHES[memo_key] = hashlib.file_digest(handle, "sha256").hexdigest()
    return _HASHES[memo_key]


def model_fingerprint(model) -> str:
    from emollm.configuration_emollm import TowerSpec
    from emollm.towers import tower_fingerprint

    configs = {"frames": model.config.frame_config, "face": model.config.face_config,
               "audio": model.config.audio_config}
    specs = model.config.specs
    parts = [f"{m}:{tower_fingerprint(configs[m], specs.towers.get(m, TowerSpec()), tower)}"
             for m, tower in sorted(model.towers.items())]
    parts.append(f"audio_positions:{specs.media.audio_positions}")
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]


def processor_settings(processor) -> dict:
    from data_pipeline.faces import FACE_STEP_VERSION

    return {
        "num_frames": processor.num_frames, "sample_fps": processor.sample_fps,
        "image_size": processor.image_processor.crop_size, "face_size": processor.face_size,
        "face_detector": processor.face_detector, "face_step": FACE_STEP_VERSION,
        "audio_window": processor.audio_window_seconds, "audio_length": processor.audio_length,
        "max_audio_seconds": processor.max_audio_seconds,
        "max_frame_side": processor.max_frame_side, "frame_backend": processor.frame_backend,
        "face_detect_side": processor.face_detect_side,
    }


def clip_key(fingerprint: str, settings: dict, clip: Clip) -> str:
    parts = {
        "video": file_hash(clip.video) if clip.video else None, "image": file_hash(clip.image) if clip.image else None,
        "audio": file_hash(clip.audio) if clip.audio else None, "use_video_audio": clip.use_video_audio,
        "face_boxes": clip.describe()["face_boxes"], "model": fingerprint, "settings": settings,
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


class FeatureCache:
    def __init__(self, directory: str | os.PathLike | None = None, max_bytes: int | None = None,
                 enabled: bool = True):
        self.directory = Path(directory) if directory else None
        self.max_bytes = max_bytes
        self.enabled = enabled
        self.hits = self.misses = 0
        self._memory: OrderedDict[str, ClipFeatures] = OrderedDict()
        self._memory_bytes = 0
        self._lock = threading.Lock()
        if self.directory:
            self.directory.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        return self.directory / key[:2] / f"{key}.safetensors"

    def get(self, key: str) -> ClipFeatures | None:
        if not self.enabled:
            return None
        with self._lock:
            found = self._get(key)
            self.hits += found is not None
            self.misses += found is None
            return found

    def _get(self, key: str) -> ClipFeatures | None:
        if self.directory is None:
            if key in self._memory:
                self._memory.move_to_end(key)
                return self._memory[key]
            return None
        path = self._path(key)
        if not path.exists():
            return None
        os.utime(path)  # recency for LRU eviction
        return load_file(path)

    def put(self, key: str, features: ClipFeatures) -> None:
        if not self.enabled:
            return
        stored = {m: t.detach().to("cpu", FEATURE_DTYPE).contiguous() for m, t in features.items()}
        with self._lock:
            if self.directory is None:
                self._memory[key] = stored
                self._memory_bytes += clip_bytes(stored)
            else:
                with atomic_path(self._path(key)) as tmp:
                    save_file(stored, tmp)
            self._evict()

    def _evict(self) -> None:
        if not self.max_bytes:
            return
        if self.directory is None:
            while self._memory_bytes > self.max_bytes and len(self._memory) > 1:
                _, dropped = self._memory.popitem(last=False)
                self._memory_bytes -= clip_bytes(dropped)
            return
        files = sorted(self.directory.glob("*/*.safetensors"), key=lambda p: p.stat().st_mtime)
        total = sum(p.stat().st_size for p in files)
        for path in files[:-1]:
            if total <= self.max_bytes:
                break
            total -= path.stat().st_size
            path.unlink(missing_ok=True)

    def size_bytes(self) -> int:
        if self.directory is None:
            return self._memory_bytes
        return sum(p.stat().st_size for p in self.directory.glob("*/*.safetensors"))

    def __len__(self) -> int:
        if self.directory is None:
            return len(self._memory)
        return sum(1 for _ in self.directory.glob("*/*.safetensors"))


def clip_bytes(features: ClipFeatures) -> int:
    return sum(t.numel() * t.element_size() for t in features.values())


@torch.no_grad()
def encode_clip(model, processor, cache: FeatureCache | None, clip: Clip, *, fingerprint: str | None = None):
    """Tower features for one clip: from the cache when present, else decoded and encoded once
    (and stored). Returns (CachedClip, ClipMedia or None when it came from the cache).

    Fresh features are rounded to FEATURE_DTYPE exactly as the cache stores them: one dtype
    policy, so what the model sees (and answers) never depends on whether the clip was cached."""
    key = None
    if cache is not None and cache.enabled:
        key = clip_key(fingerprint or model_fingerprint(model), processor_settings(processor), clip)
        found = cache.get(key)
        if found is not None:
            return CachedClip(found), None
    media = processor.load_media(clip)
    tensors = processor.media_tensors([media])
    tensors.pop("frames_sample_index", None)
    tensors.pop("audio_sample_index", None)
    features = {m: f[0].detach().to("cpu", FEATURE_DTYPE) for m, f in model.encode_towers(**tensors).items()}
    if key is not None:
        cache.put(key, features)
    return CachedClip(features), media
