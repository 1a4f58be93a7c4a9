"""`emollm data prepare`: run a converter, check every media file in worker processes, and write
records.jsonl and rejects.jsonl under the output folder.

* Work is done per media unit (the files a group of records shares: a clip's six task records
  are checked once). Each finished unit is appended to a journal (`.prepare/journal.jsonl`),
  keyed by the files' paths, sizes and mtimes and the steps run, so an interrupted run resumes
  and a complete rerun finds nothing new and rewrites nothing.
* A unit runs named steps from STEPS in order ("media" fills duration/fps/size/has_video/has_audio
  from `check_media`; face tracking and ASR register further steps). A step raising MediaError
  rejects the unit: its records go to rejects.jsonl with the path and reason; the rest go on.
* Outputs are written atomically (temp file + rename), in the converter's order.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import logging
import os
from collections.abc import Callable
from concurrent.futures import as_completed
from dataclasses import dataclass
from pathlib import Path

from tqdm.auto import tqdm

from data_pipeline.atomic import write_atomic
from data_pipeline.converters.base import Reject, get_converter
from data_pipeline.errors import MediaError, UserFacingError
from data_pipeline.media import check_media
from data_pipeline.schema import Media, Record, record_to_json
from data_pipeline.tasks import user_prompt
from data_pipeline.workers import process_pool, worker_count

logger = logging.getLogger(__name__)

JOURNAL = Path(".prepare") / "journal.jsonl"

# A step gets the unit's Media (as updated by earlier steps) and returns Record field updates
# as JSON-able data: {"media": {...}} replaces media fields, "face_track" / "subtitle" set those
# fields (a subtitle only where the record has none), "provenance" merges into provenance.
PrepareStep = Callable[[Media], dict]
STEPS: dict[str, PrepareStep] = {}
# Modules that register a step when imported (looked up lazily, so prepare works without them).
STEP_PROVIDERS: dict[str, str] = {"faces": "data_pipeline.faces", "asr": "data_pipeline.asr"}
DEFAULT_STEPS: tuple[str, ...] = ("media",)


def register_step(name: str) -> Callable[[PrepareStep], PrepareStep]:
    def decorator(step: PrepareStep) -> PrepareStep:
        STEPS[name] = step
        return step
    return decorator


def get_step(name: str) -> PrepareStep:
    if name not in STEPS and name in STEP_PROVIDERS:
        importlib.import_module(STEP_PROVIDERS[name])
    if name not in STEPS:
        raise UserFacingError(f"unknown prepare step {name!r}; known: {', '.join(sorted(STEPS))}")
    return STEPS[name]


@register_step("media")
def media_step(media: Media) -> dict:
    """Probe and test-decode each file; fill the metadata and the modality flags."""
    update: dict = {}
    if media.video or media.image:
        info = check_media(media.video or media.image)
        update = {"duration": info.duration, "fps": info.fps, "width": info.width, "height": info.height,
                  "has_video": info.has_video, "has_audio": info.has_audio}
        if media.video and not info.has_video and not media.audio:
            # An audio-only file given as a video: it is the audio (no visual placeholder).
            update.update(video=None, audio=media.video)
    if media.audio:
        info = check_media(media.audio)
        update["has_audio"] = info.has_audio
        update.setdefault("duration", info.duration)
        update.setdefault("has_video", False)
    return {"media": update}


@dataclass
class PrepareResult:
    out_dir: Path
    records: int
    rejects: int
    processed: int  # units checked in this run
    cached: int  # units found in the journal
    nothing_new: bool

    @property
    def records_path(self) -> Path:
        return self.out_dir / "records.jsonl"

    @property
    def rejects_path(self) -> Path:
        return self.out_dir / "rejects.jsonl"


def prepare(dataset: str, root: str | os.PathLike, out: str | os.PathLike, workers: int | None = None,
            options: dict | None = None, steps: tuple[str, ...] = DEFAULT_STEPS,
            progress: bool = True) -> PrepareResult:
    for name in steps:
        get_step(name)  # fail before any work on an unknown step
    converter = get_converter(dataset)(Path(root), **(options or {}))
    out_dir = Path(out).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    records, early_rejects = _collect(converter.iter_records())
    units = _units(records, steps)
    journal = _read_journal(out_dir / JOURNAL)
    pending = {key: media for key, (media, _) in units.items() if key not in journal}
    if pending:
        _run_units(pending, steps, out_dir / JOURNAL, journal, workers, progress)
    records_text, rejects_text, counts = _render_outputs(records, early_rejects, units, journal, out_dir)
    changed = _write_if_changed(out_dir / "records.jsonl", records_text)
    changed |= _write_if_changed(out_dir / "rejects.jsonl", rejects_text)
    result = PrepareResult(out_dir, counts[0], counts[1], len(pending), len(units) - len(pending),
                           nothing_new=not pending and not changed)
    return result


def _collect(items) -> tuple[list[Record], list[dict]]:
    """Records in converter order; converter rejects and duplicate ids as reject entries."""
    records, rejects, seen = [], [], set()
    for item in items:
        if isinstance(item, Reject):
            rejects.append({"path": item.path, "reason": item.reason, "ids": [item.id] if item.id else []})
        elif item.id in seen:
            rejects.append({"path": item.media.visual_path or item.media.audio or "", "ids": [item.id],
                            "reason": f"duplicate record id {item.id!r}"})
        else:
            seen.add(item.id)
            records.append(item)
    return records, rejects


def _media_files(media: Media) -> list[str]:
    return [p for p in (media.video, media.audio, media.image) if p]


def unit_key(media: Media, steps: tuple[str, ...]) -> str:
    """Changes when a file changes (size, mtime) or the steps differ: then the unit is redone."""
    parts: list = [list(steps)]
    for path in _media_files(media):
        try:
            stat = os.stat(path)
            parts.append([path, stat.st_size, stat.st_mtime_ns])
        except OSError:
            parts.append([path, "missing"])
    return hashlib.sha1(json.dumps(parts).encode()).hexdigest()


def _units(records: list[Record], steps: tuple[str, ...]) -> dict[str, tuple[Media, list[Record]]]:
    units: dict[str, tuple[Media, list[Record]]] = {}
    for record in records:
        key = unit_key(record.media, steps)
        units.setdefault(key, (record.media, []))[1].append(record)
    return units


def _read_journal(path: Path) -> dict[str, dict]:
    """Finished units; a line cut off by a killed run is ignored (that unit is redone)."""
    done: dict[str, dict] = {}
    if not path.exists():
        return done
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            try:
                entry = json.loads(line)
                done[entry["key"]] = entry
            except (ValueError, KeyError, TypeError):
                continue
    return done


def process_unit(key: str, media_json: str, steps: tuple[str, ...]) -> dict:
    """Run the steps on one unit (in a worker process); never raises for bad media."""
    import av.logging

    media = Media.model_validate_json(media_json)
    updates: dict = {"media": {}, "provenance": {}}
    try:
        with av.logging.Capture():  # keep FFmpeg's complaints about broken files off the terminal
            for name in steps:
                update = get_step(name)(media)
                media = media.model_copy(update=update.get("media", {}))
                updates["media"].update(update.get("media", {}))
                updates["provenance"].update(update.get("provenance", {}))
                updates.update({k: v for k, v in update.items() if k not in ("media", "provenance")})
    except MediaError as error:
        return {"key": key, "ok": False, "path": error.path, "reason": error.reason}
    return {"key": key, "ok": True, "updates": updates}


def _run_units(pending: dict[str, Media], steps, journal_path: Path, journal: dict, workers, progress) -> None:
    journal_path.parent.mkdir(parents=True, exist_ok=True)
    workers = worker_count(workers, len(pending))
    bar = tqdm(total=len(pending), desc="prepare", unit="file", disable=not progress)
    with journal_path.open("a", encoding="utf-8") as handle:
        def finish(entry: dict) -> None:
            handle.write(json.dumps(entry, ensure_ascii=False) + "\n")
            handle.flush()  # each finished unit survives an interrupt
            journal[entry["key"]] = entry
            bar.update()

        if workers == 1:
            for key, media in pending.items():
                finish(process_unit(key, media.model_dump_json(), steps))
        else:
            with process_pool(workers) as pool:
                futures = [pool.submit(process_unit, key, media.model_dump_json(), steps)
                           for key, media in pending.items()]
                try:
                    for future in as_completed(futures):
                        finish(future.result())
                except BaseException:
                    pool.shutdown(wait=False, cancel_futures=True)
                    raise
    bar.close()


def apply_updates(record: Record, updates: dict) -> Record:
    """The record with a unit's step results applied (see PrepareStep)."""
    data = record.model_dump()
    data["media"].update(updates.get("media", {}))
    data["provenance"].update(updates.get("provenance", {}))  # keys of Provenance (validated below)
    if updates.get("face_track") is not None:
        data["face_track"] = updates["face_track"]
    if updates.get("subtitle") and not record.subtitle:
        # ASR filled in the words: the user turn must quote them, as for a given subtitle.
        data["subtitle"] = updates["subtitle"]
        data["subtitle_language"] = updates.get("subtitle_language")
        for turn in data["conversation"]:
            if turn["role"] == "user":
                turn["content"] = user_prompt(record.task, updates["subtitle"])
                break
    return Record.model_validate(data)


def _render_outputs(records, early_rejects, units, journal, out_dir: Path) -> tuple[str, str, tuple[int, int]]:
    lines, rejects = [], list(early_rejects)
    key_of = {id(r): key for key, (_, members) in units.items() for r in members}
    rejected_units: dict[str, dict] = {}
    for record in records:
        entry = journal[key_of[id(record)]]
        if entry["ok"]:
            lines.append(record_to_json(apply_updates(record, entry["updates"]), out_dir))
        elif entry["key"] in rejected_units:
            rejected_units[entry["key"]]["ids"].append(record.id)
        else:
            reject = {"path": entry["path"], "reason": entry["reason"], "ids": [record.id]}
            rejected_units[entry["key"]] = reject
            rejects.append(reject)
    reject_lines = [json.dumps(r, ensure_ascii=False) for r in rejects]
    return _text(lines), _text(reject_lines), (len(lines), len(rejects))


def _text(lines: list[str]) -> str:
    return "".join(line + "\n" for line in lines)


def _write_if_changed(path: Path, text: str) -> bool:
    """Atomic write; an identical file is left alone (so a rerun changes nothing)."""
    if path.exists() and path.read_text(encoding="utf-8") == text:
        return False
    write_atomic(path, text)
    return True
