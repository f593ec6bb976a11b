"""The fault suite's totals: faults tried, survived, data lost (Linux, root).

Run: .venv/bin/python bench/faults.py [pytest arguments]
Runs tests/faults on the sandbox (its own, as the test suite does), then prints each fault
with whether it was survived and what it lost, and the totals the README quotes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="runbook-faults-") as scratch:
        report = Path(scratch) / "faults.json"
        env = dict(os.environ, RUNBOOK_FAULTS_REPORT=str(report))
        started = time.monotonic()
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                "-q",
                "-p",
                "no:cacheprovider",
                "tests/faults",
                *sys.argv[1:],
            ],
            cwd=ROOT,
            env=env,
            check=False,
        )
        took = time.monotonic() - started
        if not report.exists():
            print("the fault suite wrote no report (did it run on a sandbox?)")
            return proc.returncode or 1
        rows = json.loads(report.read_text())
    width = max(len(r["fault"]) for r in rows)
    print(f"\n{'fault':<{width}}  survived  lost")
    for r in rows:
        mark = "yes" if r["survived"] else "NO"
        print(f"{r['fault']:<{width}}  {mark:<8}  {'; '.join(r['lost']) or '-'}")
    survived = sum(1 for r in rows if r["survived"])
    lost = sum(1 for r in rows if r["lost"])
    print(f"\nfaults tried {len(rows)}, survived {survived}, data lost {lost} ({took:.0f} s)")
    return proc.returncode


if __name__ == "__main__":
    sys.exit(main())
