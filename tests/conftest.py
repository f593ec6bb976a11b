"""Fixtures shared by unit and integration tests, and the fault suite's table (printed here,
by the process that prints the summary: with pytest-xdist the controller, which loads this
conftest but not tests/faults/'s)."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import pytest

from tests.faults.record import ROWS_ENV, shared_rows

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private state directory (run record, run directories) for one test."""
    path = tmp_path / "state"
    monkeypatch.setenv("RUNBOOK_STATE_DIR", str(path))
    monkeypatch.delenv("RUNBOOK_DB", raising=False)
    monkeypatch.delenv("RUNBOOK_INVENTORY", raising=False)
    monkeypatch.setenv("RUNBOOK_NO_PROJECT", "1")
    return path


def pytest_configure(config: pytest.Config) -> None:
    """In the process that prints the summary (not a worker): where the rows are shared."""
    if not hasattr(config, "workerinput") and ROWS_ENV not in os.environ:
        os.environ[ROWS_ENV] = tempfile.mkdtemp(prefix="runbook-fault-rows-")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    results = shared_rows()
    if not results:
        return
    write = terminalreporter.write_line
    width = max(len(str(r["fault"])) for r in results)
    write("")
    write(f"{'fault':<{width}}  survived  lost")
    for r in results:
        lost_text = "; ".join(map(str, r["lost"])) or "-"  # type: ignore[call-overload]
        write(f"{r['fault']!s:<{width}}  {'yes' if r['survived'] else 'NO':<8}  {lost_text}")
    survived = sum(1 for r in results if r["survived"])
    data_lost = sum(1 for r in results if r["lost"])
    write(f"faults tried {len(results)}, survived {survived}, data lost {data_lost}")
    out = os.environ.get("RUNBOOK_FAULTS_REPORT")
    if out:
        Path(out).write_text(json.dumps(results, indent=2, default=str))
