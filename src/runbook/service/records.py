"""The run record as use cases: recent runs, one run."""

from __future__ import annotations

from typing import Any

from runbook.service.workspace import Workspace


def runs(ws: Workspace, count: int, runbook: str | None) -> tuple[list[dict[str, Any]], str]:
    """The newest runs (and the record's path, for the title)."""
    with ws.store() as store:
        return store.runs(count, runbook), str(store.path)


def run(ws: Workspace, run_id: str) -> dict[str, Any]:
    """One run by id, unique prefix or `last`, with each host's outcome."""
    with ws.store() as store:
        return store.run(run_id)
