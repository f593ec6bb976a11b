"""How long `runbook --help` and `runbook list` take to start, against `python -c pass`.

Run: .venv/bin/python bench/cli_startup.py [--runs N]
Prints the median wall time of each command over N runs and its ratio to the baseline
(a bare interpreter start measured in the same run, so machine load cancels out).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time


def median_seconds(argv: list[str], runs: int) -> float:
    times = []
    env = dict(os.environ, RUNBOOK_NO_PROJECT="1")
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(
            argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True, env=env
        )
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    py = sys.executable
    baseline = median_seconds([py, "-c", "pass"], args.runs)
    print(f"{'command':<24} {'median ms':>10} {'ratio':>7}")
    print(f"{'python -c pass':<24} {baseline * 1000:>10.1f} {1.0:>7.2f}")
    for label, argv in (
        ("runbook --help", [py, "-m", "runbook", "--help"]),
        ("runbook list", [py, "-m", "runbook", "list"]),
        ("runbook --version", [py, "-m", "runbook", "--version"]),
    ):
        seconds = median_seconds(argv, args.runs)
        print(f"{label:<24} {seconds * 1000:>10.1f} {seconds / baseline:>7.2f}")


if __name__ == "__main__":
    main()
