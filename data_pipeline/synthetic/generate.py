"""Generate the synthetic set: clips/<clip>.mp4 (224x224, 8 fps, 2 s, 16 kHz AAC) rendered in a
process pool, then records.jsonl (6 records per clip) and synth.json (what was generated).
A rerun with the same seed and n finds synth.json and does nothing."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from data_pipeline.atomic import atomic_path
from data_pipeline.media import check_media
from data_pipeline.schema import write_records
from data_pipeline.synthetic.face import FaceStyle, render_frames
from data_pipeline.synthetic.plan import ClipPlan, make_plans
from data_pipeline.synthetic.records import clip_records
from data_pipeline.synthetic.voice import SAMPLE_RATE, synthesize_voice
from data_pipeline.workers import process_pool, worker_count
from data_pipeline.writer import write_video

logger = logging.getLogger(__name__)

SYNTH_VERSION = 1  # bump when the drawing, voice or wording changes
FPS = 8
SECONDS = 2.0
FRAME_SIZE = 224
MANIFEST = "synth.json"


def render_clip(plan: ClipPlan, clips_dir: str) -> dict:
    """Draw, voice, encode and check one clip; return what its records need."""
    import cv2

    cv2.setNumThreads(1)
    face_seed, voice_seed = plan.render_seed().spawn(2)
    audio, envelope = synthesize_voice(plan.emotion, np.random.default_rng(voice_seed), SECONDS, SAMPLE_RATE)
    num_frames = int(SECONDS * FPS)
    hop = SAMPLE_RATE // FPS
    speech = np.array([envelope[i * hop:(i + 1) * hop].mean() for i in range(num_frames)])
    style = FaceStyle.draw(np.random.default_rng(face_seed))
    frames, boxes = render_frames(plan.emotion, style, speech, FPS, num_frames, FRAME_SIZE)
    path = Path(clips_dir) / f"{plan.clip_id}.mp4"
    with atomic_path(path, suffix=".mp4") as partial:  # a killed run never leaves a half clip
        write_video(partial, frames, FPS, audio, SAMPLE_RATE)
    info = check_media(path)
    return {"clip_id": plan.clip_id, "path": str(path), "info": info, "boxes": boxes}


def _manifest(n: int, seed: int) -> dict:
    return {"version": SYNTH_VERSION, "n": n, "seed": seed, "fps": FPS, "seconds": SECONDS,
            "frame_size": FRAME_SIZE, "sample_rate": SAMPLE_RATE, "records": "records.jsonl"}


def _is_complete(out_dir: Path, manifest: dict, plans: list[ClipPlan]) -> bool:
    try:
        done = json.loads((out_dir / MANIFEST).read_text())
    except (OSError, ValueError):
        return False
    return (done == manifest and (out_dir / "records.jsonl").exists()
            and all((out_dir / "clips" / f"{p.clip_id}.mp4").exists() for p in plans))


def generate_synthetic(out_dir: str | os.PathLike, n: int = 200, seed: int = 0, workers: int | None = None,
                       progress: bool = True) -> Path:
    """Write the synthetic set under `out_dir`; return the path of its records.jsonl.
    Same (n, seed) -> identical records, frames and audio, whatever `workers` is."""
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    out_dir = Path(out_dir)
    records_path = out_dir / "records.jsonl"
    plans = make_plans(n, seed)
    manifest = _manifest(n, seed)
    if _is_complete(out_dir, manifest, plans):
        logger.info("synthetic set in %s is complete (n=%d, seed=%d): nothing new", out_dir, n, seed)
        return records_path
    clips_dir = out_dir / "clips"
    clips_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / MANIFEST).unlink(missing_ok=True)  # incomplete until the records are written
    workers = worker_count(workers, n)
    results = _render_all(plans, str(clips_dir), workers, progress)
    records = [record for plan, result in zip(plans, results, strict=True)
               for record in clip_records(plan, result["path"], result["info"], result["boxes"])]
    write_records(records_path, records)
    (out_dir / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    return records_path


def _render_all(plans: list[ClipPlan], clips_dir: str, workers: int, progress: bool) -> list[dict]:
    bar = tqdm(total=len(plans), desc="synth clips", unit="clip", disable=not progress)
    if workers == 1:
        results = []
        for plan in plans:
            results.append(render_clip(plan, clips_dir))
            bar.update()
        bar.close()
        return results
    with process_pool(workers) as pool:
        results = []
        for result in pool.map(render_clip, plans, [clips_dir] * len(plans), chunksize=4):
            results.append(result)
            bar.update()
    bar.close()
    return results
