"""Shared session fixtures: one tiny model directory, one set of generated media, one synthetic
set, built once per test session. Nothing is downloaded (HF_HUB_OFFLINE=1)."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np  # noqa: E402
import pytest  # noqa: E402


def pytest_collection_finish(session):
    """pytest's default (prepend) import mode puts tests/serve on sys.path, where the folder
    tests/serve/vllm is then importable as a namespace package `vllm`. TRL's `is_vllm_available`
    (trl/import_utils.py) takes any importable `vllm` for vLLM and fails parsing its version
    ("Invalid version: 'N/A'") when train/reinforce.py imports GRPOTrainer. A `vllm` without a file
    is not vLLM, so it is marked absent (find_spec then returns None)."""
    import importlib.util
    import sys

    try:
        spec = importlib.util.find_spec("vllm")
    except (ImportError, ValueError):
        return
    if spec is not None and spec.origin is None:
        sys.modules.setdefault("vllm", None)


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    """A randomly initialised tiny EmoLLM written by the same code as `emollm init --preset tiny`."""
    from emollm.presets import init_model_dir

    return init_model_dir("tiny", tmp_path_factory.mktemp("tiny_model"))


@pytest.fixture(scope="session")
def tiny_model(tiny_model_dir):
    from emollm import EmoLLMForConditionalGeneration, EmoLLMProcessor

    model = EmoLLMForConditionalGeneration.from_pretrained(tiny_model_dir)
    processor = EmoLLMProcessor.from_pretrained(tiny_model_dir)
    return model, processor


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory):
    """Real media made here: an mp4 with audio, a silent mp4, a wav, a png, and corrupt files."""
    from data_pipeline.writer import write_audio, write_video

    root = tmp_path_factory.mktemp("media")
    rng = np.random.default_rng(0)
    frames = np.zeros((16, 96, 128, 3), dtype=np.uint8)
    for t in range(16):
        frames[t, 20 + t:60 + t, 40:90] = (200, 160, 120)
    tone = (0.4 * np.sin(2 * np.pi * 220 * np.arange(32000) / 16000)).astype(np.float32)
    write_video(root / "clip.mp4", frames, fps=8, audio=tone)
    write_video(root / "silent.mp4", frames, fps=8, audio=None)
    write_audio(root / "voice.wav", tone)
    import av

    with av.open(str(root / "still.png"), "w") as image:
        stream = image.add_stream("png")
        stream.width, stream.height, stream.pix_fmt = 128, 96, "rgb24"
        image.mux(stream.encode(av.VideoFrame.from_ndarray(frames[0], format="rgb24")))
        image.mux(stream.encode())
    (root / "empty.mp4").write_bytes(b"")
    (root / "text.mp4").write_text("this is not a video")
    (root / "random.mp4").write_bytes(rng.integers(0, 256, 4096, dtype=np.uint8).tobytes())
    data = (root / "clip.mp4").read_bytes()
    (root / "truncated.mp4").write_bytes(data[: len(data) // 3])
    return root


@pytest.fixture(scope="session")
def synthetic_set(tmp_path_factory):
    """A small synthetic six-task set (the embedded default, at test size)."""
    from data_pipeline.synthetic import generate_synthetic

    return generate_synthetic(tmp_path_factory.mktemp("synthetic"), n=28, seed=0)
