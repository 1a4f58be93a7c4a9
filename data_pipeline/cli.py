"""`emollm data ...`: synth, prepare, list, check. Registered through the `emollm.commands`
entry-point group (pyproject.toml)."""

from __future__ import annotations

import importlib
import json
import logging
from pathlib import Path

from data_pipeline.errors import MediaError, UserFacingError
from data_pipeline.tables import markdown_table

logger = logging.getLogger(__name__)

# Commands that other modules of this package add under `emollm data` (module, function taking
# the sub-parsers); a module that can't be imported just leaves its command out.
EXTRA_COMMANDS: tuple[tuple[str, str], ...] = (("data_pipeline.cli_faces", "add_faces_command"),)


def register(subparsers) -> None:
    data = subparsers.add_parser("data", help="synthetic set, dataset preparation, media checks")
    commands = data.add_subparsers(dest="data_command", metavar="DATA_COMMAND")
    data.set_defaults(func=lambda args: (data.print_help(), 2)[1])

    synth = commands.add_parser("synth", help="generate the procedural synthetic set (mp4 + records.jsonl)")
    synth.add_argument("--out", required=True, type=Path, help="output folder")
    synth.add_argument("--n", type=int, default=200, help="number of clips (6 records each; default 200)")
    synth.add_argument("--seed", type=int, default=0)
    synth.add_argument("--workers", type=int, default=None, help="processes (default: all cores)")
    synth.set_defaults(func=run_synth)

    prepare = commands.add_parser("prepare", help="convert a dataset, check its media, write records/rejects")
    prepare.add_argument("--dataset", required=True, help="a registered converter (see `emollm data list`)")
    prepare.add_argument("--root", required=True, type=Path, help="the dataset's folder")
    prepare.add_argument("--out", required=True, type=Path, help="where records.jsonl and rejects.jsonl go")
    prepare.add_argument("--workers", type=int, default=None, help="processes (default: all cores)")
    prepare.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                         help="converter option (repeatable), e.g. --option labels=annotations.csv")
    prepare.add_argument("--steps", default="media", help="comma-separated prepare steps (default: media)")
    prepare.set_defaults(func=run_prepare)

    listing = commands.add_parser("list", help="registered dataset converters, their tasks and label sets")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(func=run_list)

    check = commands.add_parser("check", help="probe and test-decode media files")
    check.add_argument("paths", nargs="+", type=Path)
    check.add_argument("--json", action="store_true")
    check.set_defaults(func=run_check)

    for module, function in EXTRA_COMMANDS:
        try:
            getattr(importlib.import_module(module), function)(commands)
        except ImportError as error:
            logger.debug("`emollm data` command from %s unavailable: %s", module, error)


def run_synth(args) -> int:
    from data_pipeline.synthetic import generate_synthetic

    if args.n < 1:
        raise UserFacingError(f"--n must be at least 1, got {args.n}")
    path = generate_synthetic(args.out, n=args.n, seed=args.seed, workers=args.workers)
    print(f"{args.n} clips, {6 * args.n} records: {path}")
    return 0


def parse_options(pairs: list[str]) -> dict[str, str]:
    options = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UserFacingError(f"--option expects KEY=VALUE, got {pair!r}")
        options[key.strip()] = value
    return options


def run_prepare(args) -> int:
    from data_pipeline.prepare import prepare

    steps = tuple(s.strip() for s in args.steps.split(",") if s.strip())
    result = prepare(args.dataset, args.root, args.out, workers=args.workers,
                     options=parse_options(args.option), steps=steps)
    if result.nothing_new:
        print(f"nothing new: {result.records} records, {result.rejects} rejects already in {result.out_dir}")
    else:
        print(f"{result.records} records -> {result.records_path}\n"
              f"{result.rejects} rejects -> {result.rejects_path}\n"
              f"checked {result.processed} files now, {result.cached} from an earlier run")
    return 0


def run_list(args) -> int:
    from data_pipeline.converters import discover_converters

    rows = [cls.describe() for _, cls in sorted(discover_converters().items())]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print(markdown_table(["name", "tasks", "label set", "modalities", "source"], [
        [r["name"], ", ".join(r["tasks"]), r["label_set"],
         "+".join(m for m, on in (("video", r["has_video"]), ("audio", r["has_audio"])) if on) or "text",
         r["source"]]
        for r in rows], ["left"] * 5))
    return 0


def run_check(args) -> int:
    from data_pipeline.media import check_media

    rows, bad = [], 0
    for path in args.paths:
        try:
            info = check_media(path)
            rows.append({"path": str(path), "ok": True, "has_video": info.has_video, "has_audio": info.has_audio,
                         "duration": round(info.duration, 3), "fps": info.fps,
                         "size": f"{info.width}x{info.height}" if info.width else None})
        except MediaError as error:
            bad += 1
            rows.append({"path": str(path), "ok": False, "reason": error.reason})
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        print(markdown_table(["path", "ok", "video", "audio", "duration", "fps", "size / reason"], [
            [r["path"], "yes" if r["ok"] else "no", r.get("has_video", ""), r.get("has_audio", ""),
             r.get("duration", ""), r.get("fps") or "", r.get("size") or r.get("reason", "")] for r in rows],
            ["left", "left", "left", "left", "right", "right", "left"]))
    return 1 if bad else 0

