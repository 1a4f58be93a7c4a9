"""vLLM video loader "emollm": decodes a `video_url` with `data_pipeline`'s readers, so vLLM sees
the same frames EmoLLM trained on (uniform sampling, with the model's `frame_backend`) and the clip's own sound
track (16 kHz mono), which it hands on in the metadata (`audio`).

vLLM's default loader (OpenCV, `num_frames` spread with `np.linspace(..., dtype=int)`) picks
other frames and drops the audio; `python -m serve.vllm_plugin.launch` selects this loader and
passes the model's frame count (`--media-io-kwargs`), docs/serving.md measures the difference.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from serve.vllm_plugin._project import MediaError, readers

LOADER_NAME = "emollm"


class EmoLLMVideoLoader:
    @classmethod
    def load_bytes(cls, data: bytes, num_frames: int = 8, sample_fps: float | None = None,
                   max_side: int | None = None, max_audio_seconds: float = 120.0, backend: str = "auto",
                   **_: Any) -> tuple[np.ndarray, dict[str, Any]]:
        # the readers take a path (decord opens files); the container format is sniffed, not named
        with tempfile.TemporaryDirectory(prefix="emollm-vllm-") as folder:
            path = Path(folder) / "clip"
            path.write_bytes(data)
            try:
                clip = readers.read_frames(path, num_frames if num_frames > 0 else 8, sample_fps=sample_fps,
                                           max_side=max_side, backend=backend)
                waveform = _audio_track(path, max_audio_seconds)
            except MediaError as error:  # vLLM turns a ValueError from media loading into a 4xx
                raise ValueError(f"the video can't be decoded: {error.reason}") from None
        metadata = {"total_num_frames": len(clip.indices), "fps": clip.fps, "frames_indices": list(clip.indices),
                    "video_backend": LOADER_NAME, "do_sample_frames": False, "audio": waveform}
        return clip.frames, metadata


def _audio_track(path: Path, max_seconds: float) -> np.ndarray | None:
    try:
        return readers.read_audio(path, max_seconds=max_seconds)
    except MediaError as error:
        if "no audio track" in error.reason:
            return None
        raise


def register_video_loader() -> None:
    from vllm.multimodal.video import VIDEO_LOADER_REGISTRY

    if LOADER_NAME not in VIDEO_LOADER_REGISTRY.name2class:
        VIDEO_LOADER_REGISTRY.register(LOADER_NAME)(EmoLLMVideoLoader)
