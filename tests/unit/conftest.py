"""Unit tests never touch the user's state directory: each test gets one of its own that does
not exist (so nothing is cached there) unless it asks for the `state_dir` fixture."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _no_user_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RUNBOOK_STATE_DIR", str(tmp_path / "no-state"))
