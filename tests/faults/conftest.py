"""The fault suite: an operator's worst night, on the sandbox. Each case is a fault; after it,
`lost()` checks that nothing was lost (every node's plugin tree whole and one known version,
no lock held, no run left "running" in the record) and the table printed at the end says, per
fault, whether it was survived and what was lost. bench/faults.py prints the totals."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from tests.faults.record import RESULTS
from tests.integration.conftest import runbook_cli, sandbox

__all__ = ["runbook_cli", "sandbox"]


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not RESULTS:
        return
    write = terminalreporter.write_line
    width = max(len(str(r["fault"])) for r in RESULTS)
    write("")
    write(f"{'fault':<{width}}  survived  lost")
    for r in RESULTS:
        lost_text = "; ".join(map(str, r["lost"])) or "-"  # type: ignore[call-overload]
        write(f"{r['fault']!s:<{width}}  {'yes' if r['survived'] else 'NO':<8}  {lost_text}")
    survived = sum(1 for r in RESULTS if r["survived"])
    data_lost = sum(1 for r in RESULTS if r["lost"])
    write(f"faults tried {len(RESULTS)}, survived {survived}, data lost {data_lost}")
    out = os.environ.get("RUNBOOK_FAULTS_REPORT")
    if out:
        Path(out).write_text(json.dumps(RESULTS, indent=2, default=str))
