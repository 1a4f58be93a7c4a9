"""Media decoding speed: sampling 8 frames (decord, PyAV, PyAV skipping non-reference frames) vs
decoding every frame, audio at 16 kHz + Whisper log-mel, on generated 10 s 1280x720 x264 clips
(default GOP of 250, B-frames). Prints a Markdown table.

    python benchmarks/decode_speed.py [--clips 2] [--seconds 10] [--workdir DIR]

"x real time" is clip seconds per second of work (higher is faster). The feature-cache row is
measured on the tiny preset's towers (`emollm.feature_cache`).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from data_pipeline.media import read_audio, read_frames  # noqa: E402
from data_pipeline.writer import write_video  # noqa: E402

FPS = 25
SIZE = (1280, 720)


def make_clip(path: Path, seconds: float, seed: int) -> None:
    """Moving shapes over a textured background: enough motion that P/B-frames carry data."""
    rng = np.random.default_rng(seed)
    width, height = SIZE
    count = int(seconds * FPS)
    texture = rng.integers(0, 60, (height // 8, width // 8, 3), dtype=np.uint8).repeat(8, 0).repeat(8, 1)
    ys, xs = np.mgrid[0:height, 0:width]
    frames = np.empty((count, height, width, 3), dtype=np.uint8)
    for i in range(count):
        cx, cy = width / 2 + 400 * np.sin(i / 20), height / 2 + 200 * np.cos(i / 15)
        blob = ((xs - cx) ** 2 + (ys - cy) ** 2 < 120 ** 2)[..., None]
        frames[i] = np.where(blob, (220, 170, 140), texture + (i % 50))
    t = np.arange(int(seconds * 16_000)) / 16_000
    audio = (0.3 * np.sin(2 * np.pi * (180 + 40 * np.sin(3 * t)) * t)).astype(np.float32)
    write_video(path, frames, FPS, audio, preset="veryfast")  # veryfast keeps x264's B-frames


def clips_in(workdir: Path, count: int, seconds: float) -> list[Path]:
    workdir.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        path = workdir / f"bench_{SIZE[0]}x{SIZE[1]}_{seconds:g}s_{i}.mp4"
        if not path.exists():
            print(f"writing {path.name} ...", file=sys.stderr)
            make_clip(path, seconds, i)
        paths.append(path)
    return paths


def decode_all(path: Path) -> int:
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        return sum(1 for _ in container.decode(stream))


def log_mel(extractor, path: Path) -> np.ndarray:
    return extractor(read_audio(path), sampling_rate=16_000, return_tensors="np")["input_features"]


def cases(extractor) -> dict[str, tuple[str, callable]]:
    """name -> (note, function of a path)."""
    return {
        "decord: 8 sampled frames": ("seeks by index; decodes from the keyframe", lambda p: read_frames(p, 8, backend="decord")),
        "PyAV: every frame": ("full decode, frame threads", decode_all),
        "PyAV: 8 sampled frames": ("sequential decode up to the last sample", lambda p: read_frames(p, 8, backend="pyav")),
        "PyAV fast (skip NONREF): 8 frames": ("`backend=\"pyav-fast\"`; nearest decoded frame", lambda p: read_frames(p, 8, backend="pyav-fast")),
        "PyAV skip B-frames: 8 frames": ("`backend=\"pyav-skip-bframes\"`", lambda p: read_frames(p, 8, backend="pyav-skip-bframes")),
        "audio 16 kHz mono": ("decord AudioReader", read_audio),
        "audio + Whisper log-mel (80)": ("WhisperFeatureExtractor, 30 s window", lambda p: log_mel(extractor, p)),
        "decode 8 frames + log-mel": ("the processor's per-clip media work (auto backend)",
                                      lambda p: (read_frames(p, 8), log_mel(extractor, p))),
    }


def time_case(function, paths: list[Path], repeats: int) -> float:
    function(paths[0])  # warm-up: imports, codec init
    timings = []
    for _ in range(repeats):
        for path in paths:
            start = time.perf_counter()
            function(path)
            timings.append(time.perf_counter() - start)
    return statistics.median(timings)


def feature_cache_rows(paths: list[Path], seconds: float, repeats: int) -> list[list[str]]:
    """Tower encoding of the tiny preset with no cache, on a cache miss (encode + write) and on
    a hit (read only: no decoding, no face step, no towers)."""
    from data_pipeline.clip import Clip
    from emollm.feature_cache import FeatureCache, encode_clip, model_fingerprint
    from emollm.presets import create

    model, processor = create("tiny")
    model.eval()
    fingerprint = model_fingerprint(model)
    rows = []
    with tempfile.TemporaryDirectory() as directory:
        cache = FeatureCache(directory)
        timed = {
            "tiny towers: decode + faces + encode, no cache": lambda p: encode_clip(model, processor, None, Clip(video=p)),
            "tiny towers: cache miss (encode + write)": lambda p: encode_clip(
                model, processor, cache, Clip(video=p), fingerprint=fingerprint),
            "tiny towers: cache hit (read only)": lambda p: encode_clip(
                model, processor, cache, Clip(video=p), fingerprint=fingerprint),
        }
        for name, function in timed.items():
            took = time_case(function, paths, 1 if "miss" in name else repeats)
            rows.append([name, f"{took:.3f}", f"{1 / took:.1f}", f"{seconds / took:.1f}", ""])
        rows[-1][-1] = f"{cache.size_bytes() / len(paths) / 1024:.1f} KiB per clip (bf16 safetensors)"
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=2, help="number of clips (default 2)")
    parser.add_argument("--seconds", type=float, default=10.0, help="clip length (default 10)")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "emollm_bench_media",
                        help="generated clips are kept here and reused")
    args = parser.parse_args(argv)
    from transformers import WhisperFeatureExtractor

    extractor = WhisperFeatureExtractor(feature_size=80)  # built locally: nothing downloaded
    paths = clips_in(args.workdir, args.clips, args.seconds)
    rows = []
    for name, (note, function) in cases(extractor).items():
        seconds = time_case(function, paths, args.repeats)
        rows.append([name, f"{seconds:.3f}", f"{1 / seconds:.1f}", f"{args.seconds / seconds:.1f}", note])
    rows += feature_cache_rows(paths, args.seconds, args.repeats)
    print(f"\n{args.clips} clips of {args.seconds:g} s, {SIZE[0]}x{SIZE[1]} @ {FPS} fps, x264 veryfast "
          f"(GOP 250, B-frames), AAC 16 kHz; median over clips\n")
    from data_pipeline.tables import markdown_table

    print(markdown_table(["step", "s / clip", "clips / s", "x real time", "note"], rows, ["left"] * 5))
    return 0


if __name__ == "__main__":
    sys.exit(main())
