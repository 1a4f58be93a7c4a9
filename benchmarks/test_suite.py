"""How long the test suites take, and which tests dominate: runs pytest on one marker selection
(`make test` is "not slow", `make test-slow` is "slow") with --durations and prints Markdown
tables: the suite's wall time and outcome, then the slowest tests (setup + call + teardown).
Tests over about a minute belong under @pytest.mark.slow.

    python benchmarks/test_suite.py                    # the fast suite (what `make test` runs)
    python benchmarks/test_suite.py --marker slow      # the slow suite
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

from tabulate import tabulate

REPO = Path(__file__).resolve().parents[1]
DURATION = re.compile(r"^(\d+\.\d+)s (setup|call|teardown)\s+(\S+)")
SUMMARY = re.compile(r"=+ (.*) in ([\d.]+)s")


def run_suite(marker: str, top: int) -> tuple[float, str, dict[str, float], float]:
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "pytest", "-m", marker, "-q", "-p", "no:cacheprovider",
                             f"--durations={top * 3}", "--durations-min=0"], cwd=REPO, capture_output=True,
                            text=True, env=os.environ | {"HF_HUB_OFFLINE": "1"})
    wall = time.perf_counter() - started
    per_test: dict[str, float] = defaultdict(float)
    outcome = f"exit code {result.returncode}"
    for line in result.stdout.splitlines():
        if match := DURATION.match(line):
            per_test[match.group(3)] += float(match.group(1))
        elif match := SUMMARY.match(line):
            outcome = match.group(1)
    return wall, outcome, per_test, max(load_before, os.getloadavg()[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--marker", default="not slow", help='pytest -m selection (default "not slow")')
    parser.add_argument("--top", type=int, default=30, help="how many of the slowest tests to list")
    args = parser.parse_args()
    wall, outcome, per_test, load = run_suite(args.marker, args.top)
    print(tabulate([[args.marker, f"{wall / 60:.1f} min", outcome, os.cpu_count(), f"{load:.1f}"]],
                   headers=["selection", "wall time", "outcome", "cores", "peak 1-min load"], tablefmt="github"))
    print()
    slowest = sorted(per_test.items(), key=lambda item: -item[1])[:args.top]
    print(tabulate([[f"{seconds:.1f}", test] for test, seconds in slowest], headers=["seconds", "test"],
                   tablefmt="github"))


if __name__ == "__main__":
    main()
