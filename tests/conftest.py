"""Fixtures shared by unit and integration tests."""

from __future__ import annotations

from pathlib import Path

import pytest

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
