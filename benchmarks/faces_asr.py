"""Speed of the face step against decoding, and of ASR per minute of audio. Prints Markdown.

    .venv/bin/python benchmarks/faces_asr.py [--runs 5] [--seconds 10]

* Face step: a 10 s 1280x720 H.264 clip made from skimage's astronaut (pan and zoom); per clip
  we time decoding 8 uniformly sampled frames (media.read_frames), then face detection on
  frames downscaled to max_side 320 + tracking (track_faces) and the aligned 224 px crops
  (crop_faces).
* ASR: a tiny random-init Whisper (d_model 64, 1+1 layers) saved to a tmp folder, timed on one
  minute of speech-like audio (two 30 s windows, up to 100 tokens each, about what a minute of
  speech holds). Real checkpoints are 100-1000x larger: the
  figure measures our chunking/feature/decoding overhead, not a real model's speed.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import torch
from skimage import data as skdata

from data_pipeline.asr import transcribe
from data_pipeline.asr.tiny import save_tiny_whisper
from data_pipeline.faces import crop_faces, track_faces
from data_pipeline.media import read_frames
from data_pipeline.tables import markdown_table
from data_pipeline.writer import write_video

SR = 16_000


def astronaut_video(path: Path, seconds: float, fps: int = 25, face_fraction: float = 0.26) -> None:
    """1280x720 frames panning over the photograph, scaled so the face is `face_fraction` of the
    frame height (a close-up, as in MER-style clips)."""
    photo = skdata.astronaut()
    scale = face_fraction * 720 / 98  # the face is about 98 px tall in the 512 px photograph
    side = int(512 * scale)
    canvas = np.full((max(side + 200, 900), max(side + 600, 1500), 3), 90, np.uint8)
    canvas[100:100 + side, 300:300 + side] = cv2.resize(photo, (side, side), interpolation=cv2.INTER_AREA)
    face_x, face_y = 300 + int(223 * scale), 100 + int(114 * scale)  # face centre on the canvas
    frames = []
    for t in range(int(seconds * fps)):
        x0 = min(max(face_x - 640 + int(80 * np.sin(t / 40)), 0), canvas.shape[1] - 1280)
        y0 = min(max(face_y - 360 + int(30 * np.cos(t / 50)), 0), canvas.shape[0] - 720)
        frames.append(canvas[y0:y0 + 720, x0:x0 + 1280])
    write_video(path, np.stack(frames), fps=fps)


def timed(function, runs: int) -> tuple[float, object, float]:
    """Median wall time, the last result, median CPU time of this process (all its threads):
    CPU time is what the step costs on an idle machine; wall time includes waiting for a
    busy one."""
    walls, cpus, result = [], [], None
    for _ in range(runs):
        wall, cpu = time.perf_counter(), time.process_time()
        result = function()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return statistics.median(walls), result, statistics.median(cpus)


def bench_faces(folder: Path, runs: int, seconds: float) -> list[str]:
    video = folder / "astronaut_720p.mp4"
    astronaut_video(video, seconds)
    decode, clip, decode_cpu = timed(lambda: read_frames(video, num_frames=8), runs)
    track, result, track_cpu = timed(lambda: track_faces(clip.frames, max_side=320), runs)
    full, _, full_cpu = timed(lambda: track_faces(clip.frames, max_side=320, exhaustive=True), runs)
    crop, _, crop_cpu = timed(lambda: crop_faces(clip.frames, result.boxes, size=224), runs)
    rows = [("decode 8 frames (read_frames)", decode, decode_cpu),
            ("detect + track, guided (default)", track, track_cpu),
            ("detect + track, every frame in full (exhaustive=True)", full, full_cpu),
            ("align + crop to 224", crop, crop_cpu),
            ("face step total (guided + crop)", track + crop, track_cpu + crop_cpu)]
    lines = [f"Face step on a {seconds:.0f} s 1280x720 clip, 8 frames, max_side 320, median of {runs} runs "
             f"(face found: {result.found}, presence {result.presence:.2f}):", ""]
    lines.append(markdown_table(["step", "wall ms", "CPU ms", "CPU vs decode"],
                                [[name, f"{1000 * t:.0f}", f"{1000 * c:.0f}", f"{c / decode_cpu:.0%}"]
                                 for name, t, c in rows]))
    return lines


def bench_asr(folder: Path, runs: int) -> list[str]:
    model = str(save_tiny_whisper(folder / "tiny-whisper", max_length=100))  # ~100 tokens per 30 s of speech
    t = np.arange(60 * SR) / SR
    audio = (0.3 * (0.5 + 0.5 * np.sin(2 * np.pi * 3 * t)) * np.sin(2 * np.pi * 180 * t)).astype(np.float32)
    transcribe(audio[:SR], model, language="en")  # load + warm up
    fixed, _, _ = timed(lambda: transcribe(audio, model, language="en"), runs)
    detect, _, _ = timed(lambda: transcribe(audio, model), runs)
    return [f"ASR with a tiny random Whisper (torch threads: {torch.get_num_threads()}); real models differ "
            "by orders of magnitude:", "",
            markdown_table(["ASR", "s per minute of audio"],
                           [["language given", f"{fixed:.2f}"], ["language detected", f"{detect:.2f}"]])]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=10.0, help="length of the 720p test clip")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        lines = bench_faces(Path(tmp), args.runs, args.seconds) + [""] + bench_asr(Path(tmp), args.runs)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
