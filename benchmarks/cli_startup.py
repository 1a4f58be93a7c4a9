"""Start-up time of the `emollm` command for commands that load no model, and what loading the
model classes costs on top. Prints a Markdown table.

    python benchmarks/cli_startup.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

from tabulate import tabulate

EMOLLM = str(Path(sys.executable).with_name("emollm"))
COMMANDS = {
    "emollm --help": [EMOLLM, "--help"],
    "emollm train --help": [EMOLLM, "train", "--help"],
    "emollm serve --help": [EMOLLM, "serve", "--help"],
    "python -c 'import emollm'": [sys.executable, "-c", "import emollm"],
    "python -c 'from emollm import EmoLLMForConditionalGeneration'":
        [sys.executable, "-c", "from emollm import EmoLLMForConditionalGeneration"],
}


def seconds(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    rows = []
    for name, command in COMMANDS.items():
        seconds(command)  # warm the file cache
        times = [seconds(command) for _ in range(args.repeats)]
        rows.append([name, statistics.median(times), min(times), max(times)])
    print(tabulate(rows, headers=["command", "median (s)", "min (s)", "max (s)"], tablefmt="github",
                   floatfmt=".2f"))


if __name__ == "__main__":
    main()
