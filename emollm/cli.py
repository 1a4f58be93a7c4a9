"""The `emollm` console script.

Each package registers its own subcommands through the ``emollm.commands`` entry-point group
(see pyproject.toml), so this dispatcher imports no package above it and a plugin package can
add a command by declaring an entry point of its own.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from importlib.metadata import entry_points

from data_pipeline.errors import UserFacingError

ENTRY_POINT_GROUP = "emollm.commands"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="emollm",
        description="EmoLLM: a compact multimodal emotion LLM (train, evaluate, serve, chat).",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    # the `deepspeed` launcher puts --local_rank=N right after the script (deepspeed.launcher.launch,
    # unless --no_local_rank); it exports LOCAL_RANK too, which is what `emollm train` reads
    parser.add_argument("--local_rank", "--local-rank", type=int, help=argparse.SUPPRESS)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for entry_point in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda ep: ep.name):
        try:
            register = entry_point.load()
        except ImportError as error:  # a broken plugin must not take the other commands down
            logging.getLogger(__name__).warning("commands from %s unavailable: %s", entry_point.value, error)
            continue
        register(subparsers)
    return parser


def run(argv: Sequence[str]) -> int:
    """Run one subcommand in this process; `emollm demo` chains commands through this."""
    parser = build_parser()
    args = parser.parse_args(list(argv))
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    result = args.func(args)
    return int(result or 0)


def main(argv: Sequence[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(
        level=logging.DEBUG if ("-v" in argv or "--verbose" in argv) else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    try:
        sys.exit(run(argv))
    except UserFacingError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)

if __name__ == "__main__":
    main()
