"""The run record as use cases: recent runs, one run."""

from __future__ import annotations

from typing import Any

from runbook.service.workspace import Workspace


def runs(ws: Workspace, count: int, runbook: str | None) -> tuple[list[dict[str, Any]], str]:
    """The newest runs (and the record's path, for the title)."""
    with ws.store() as store:
        return store.runs(count, runbook), str(store.path)


def run(ws: Workspace, run_id: str) -> dict[str, Any]:
    """One run by id, unique prefix or `last`, with each host's outcome, and what the monitor
    decided on it (a monitor cycle's scan) or did with it (an automatic action)."""
    with ws.store() as store:
        found = store.run(run_id)
        found["monitor"] = [
            {k: e[k] for k in ("at", "site", "kind", "summary", "incident_id")}
            for e in store.monitor_events(run_id=found["run_id"])
        ]
        return found
