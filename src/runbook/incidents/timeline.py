"""A runbook run's evidence on an incident's timeline: its start, each host, flags, its end."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from runbook.incidents.records import Incidents

if TYPE_CHECKING:
    from runbook.execution import RunResult


def record_run(incidents: Incidents, incident_id: int, result: RunResult) -> None:
    """Attach the run to the incident and put what it did on the timeline."""
    incidents.attach_run(incident_id, result.run_id)
    book = result.request.runbook.name
    incidents.record(
        incident_id,
        "run",
        f"{book} started (run {result.run_id})",
        {"run_id": result.run_id, "reason": result.request.reason},
        at=result.started_at,
    )
    for host, state in result.model.hosts.items():
        restore = state.report.get("restore") or {}
        summary = f"{host}: {state.outcome}"
        if restore.get("version_after"):
            summary += (
                f", plugin {restore.get('version_before')} -> "
                f"{restore['version_after']} from {restore.get('backup')}"
            )
        if state.message and state.outcome in ("failed", "unreachable"):
            summary += f" ({state.message[:200]})"
        incidents.record(
            incident_id,
            "host",
            summary,
            {"host": host, "site": state.site, "outcome": state.outcome, "restore": restore},
            at=state.observed_at or result.ended_at,
        )
    for site, report in result.model.site_reports.items():
        taken = report.get("lock_taken_over")
        if taken:
            incidents.record(
                incident_id,
                "lock",
                f"{site}: lock of run {taken['from'].get('run_id')} taken over, {taken['why']}",
                {"site": site, **taken},
                at=result.ended_at,
            )
        for option, change in (report.get("options_changed") or {}).items():
            incidents.record(
                incident_id,
                "flags",
                f"{site}: {option} {json.dumps(change['before'])} -> {json.dumps(change['after'])}",
                {"site": site, **change},
                at=result.ended_at,
            )
    incidents.record(
        incident_id,
        "run",
        f"{book} ended: {result.status} (exit {int(result.exit_code)})",
        {"run_id": result.run_id, "counts": result.model.counts()},
        at=result.ended_at,
    )
