"""`emollm data faces PATH`: the face boxes and the main-face track of an image or a video.

The data CLI (`data_pipeline/cli.py`) calls `add_faces_command(subparsers)` with its own
sub-parsers, so this command sits under `emollm data`.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from data_pipeline.tables import markdown_table


def add_faces_command(subparsers) -> argparse.ArgumentParser:
    from data_pipeline.faces import DETECTORS

    parser = subparsers.add_parser("faces", help="detect and track the main face in an image or video",
                                   description=__doc__.splitlines()[0])
    parser.add_argument("path", type=Path, help="an image or a video file")
    parser.add_argument("--detector", default="haar", choices=sorted(DETECTORS),
                        help="face detector (default: haar, works offline)")
    parser.add_argument("--frames", type=int, default=8, help="frames sampled from a video (default 8)")
    parser.add_argument("--max-side", type=int, default=320, help="detect on frames downscaled to this")
    parser.add_argument("--all-frames", action="store_true",
                        help="search every frame in full (lists every face; default: the middle frame in "
                             "full, the others around the faces found there)")
    parser.add_argument("--crops", type=Path, default=None,
                        help="also write the aligned face crops as PNG files into this folder")
    parser.add_argument("--size", type=int, default=224, help="crop size in pixels (with --crops)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.set_defaults(func=run_faces)
    return parser


def run_faces(args: argparse.Namespace) -> int:
    from data_pipeline.faces import crop_faces_detailed, track_faces
    from data_pipeline.media import read_frames

    clip = read_frames(args.path, num_frames=args.frames)
    result = track_faces(clip.frames, detector=args.detector, max_side=args.max_side, exhaustive=args.all_frames)
    report = {"path": str(args.path), "frame_indices": clip.indices,
              "size": [int(clip.frames.shape[2]), int(clip.frames.shape[1])], **result.to_json()}
    if args.crops is not None:
        report["crops"] = _write_crops(args.crops, args.path.stem, clip, result.boxes, args.size,
                                       crop_faces_detailed)
    if args.json:
        print(json.dumps(report, ensure_ascii=False))
    else:
        print(_table(report))
    return 0


def _write_crops(folder: Path, stem: str, clip, boxes, size: int, crop) -> list[dict]:
    import cv2

    folder.mkdir(parents=True, exist_ok=True)
    result = crop(clip.frames, boxes, size)
    written = []
    for index, image, how in zip(clip.indices, result.crops, result.alignment, strict=True):
        path = folder / f"{stem}_{index:06d}.png"
        cv2.imwrite(str(path), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
        written.append({"path": str(path), "alignment": how})
    return written


def _fmt(box) -> str:
    return "-" if box is None else "(" + ", ".join(f"{v:.0f}" for v in box) + ")"


def _table(report: dict) -> str:
    lines = [f"{report['path']}: {report['size'][0]}x{report['size'][1]}, detector {report['detector']}, "
             f"face {'found' if report['found'] else 'NOT found (crops fall back to a centre crop)'}, "
             f"presence {report['presence']:.2f}"]
    rows = [[index, " ".join(_fmt(d["box"]) for d in found) or "-", _fmt(box)]
            for index, found, box in zip(report["frame_indices"], report["detections"], report["boxes"], strict=True)]
    lines.append(markdown_table(["frame", "detections (x0, y0, x1, y1)", "main-face track"], rows, ["left"] * 3))
    for crop in report.get("crops", []):
        lines.append(f"crop {crop['path']} (aligned by {crop['alignment']})")
    return "\n".join(lines)
