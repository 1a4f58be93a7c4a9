"""`emollm --help` (and every subcommand's --help) must not pay for torch or transformers: they
take seconds to import and none of the help text needs them. The time itself is a benchmark
figure (benchmarks/cli_startup.py), not asserted here."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("torch", "transformers", "gradio", "deepspeed", "fastapi", "scipy")
PROBE = f"""
import contextlib, io, json, sys
from emollm.cli import build_parser
parser = build_parser()
with contextlib.redirect_stdout(io.StringIO()):
    try:
        parser.parse_args(sys.argv[1:] + ["--help"])
    except SystemExit:
        pass
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in {HEAVY!r})))
"""


def heavy_modules_after_help(*command: str) -> list[str]:
    out = subprocess.run([sys.executable, "-c", PROBE, *command], capture_output=True, text=True, check=True)
    return sorted({name.split(".")[0] for name in json.loads(out.stdout.strip().splitlines()[-1])})


@pytest.mark.parametrize("command", [(), ("train",), ("serve",), ("eval",), ("data",), ("init",)])
def test_help_imports_no_heavy_library(command):
    assert heavy_modules_after_help(*command) == []


def test_the_classes_still_register_with_the_auto_classes_when_imported():
    script = ("import emollm, sys\n"
              "assert 'transformers' not in sys.modules\n"
              "from transformers import AutoConfig\n"
              "from emollm import EmoLLMConfig\n"
              "assert AutoConfig.for_model('emollm').__class__ is EmoLLMConfig\n")
    subprocess.run([sys.executable, "-c", script], check=True)
