"""Checkpoints that a killed run can't spoil, and the discovery of the one to resume from.

* A Trainer checkpoint (`checkpoint-N/`) counts only once it holds the completion marker, which
  is written after every process has finished writing its part (weights, optimiser and
  scheduler state, RNG state, trainer state). Resume picks the newest marked checkpoint and
  deletes unmarked ones; older marked ones beyond `keep` are pruned only after a newer one is
  marked, so there is always one complete checkpoint on disk.
* A phase's output directory is written under a temporary name and renamed into place.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import time
from pathlib import Path

from transformers import TrainerCallback

from data_pipeline.atomic import write_atomic
from train.distributed import barrier

logger = logging.getLogger(__name__)

MARKER = "COMPLETE"
CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")


def checkpoints(directory: Path) -> list[tuple[int, Path]]:
    if not directory.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in directory.iterdir() if (m := CHECKPOINT.match(p.name)) and p.is_dir()]
    return sorted(found)


def is_complete(checkpoint: Path) -> bool:
    return (checkpoint / MARKER).is_file()


def latest_complete(directory: Path, clean: bool = False) -> Path | None:
    """The newest complete checkpoint; with `clean`, incomplete ones are deleted (main process)."""
    latest = None
    for _step, path in checkpoints(directory):
        if is_complete(path):
            latest = path
        elif clean:
            logger.warning("removing incomplete checkpoint %s (the run was stopped while writing it)", path)
            shutil.rmtree(path, ignore_errors=True)
    return latest


def prune(directory: Path, keep: int) -> None:
    complete = [p for _, p in checkpoints(directory) if is_complete(p)]
    for path in complete[:-keep]:
        shutil.rmtree(path, ignore_errors=True)


class CompletionMarker(TrainerCallback):
    """Marks `checkpoint-N` complete once every rank has saved, then prunes older ones."""

    def __init__(self, keep: int):
        self.keep = keep

    def on_save(self, args, state, control, **kwargs):
        barrier()
        if state.is_world_process_zero:
            path = Path(args.output_dir) / f"checkpoint-{state.global_step}"
            write_json_atomic(path / MARKER, {"step": state.global_step, "time": time.time()})
            prune(Path(args.output_dir), self.keep)
        barrier()
        return control


def write_json_atomic(path: Path, data: dict) -> None:
    write_atomic(path, json.dumps(data, indent=2, default=str) + "\n", fsync=True)


def staging_dir(final: Path) -> Path:
    """A fresh temporary sibling of `final` to write a phase's output into."""
    staging = final.with_name(f".{final.name}.partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    return staging


def publish(staging: Path, final: Path) -> None:
    """Move a fully written directory into place (replacing an older one)."""
    old = final.with_name(f".{final.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if final.exists():
        os.replace(final, old)
    os.replace(staging, final)
    shutil.rmtree(old, ignore_errors=True)
