"""Deadlines, breaches, escalation and reminders: pure arithmetic over an incident record."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from runbook.clock import stamp
from runbook.incidents import priorities
from runbook.incidents.records import parse_time

#: P1 notifications promise "Updates will be provided every 4 hours".
P1_UPDATE_EVERY = timedelta(hours=4)


@dataclass(frozen=True)
class Clock:
    response_due: datetime
    resolution_due: datetime
    response_left: timedelta | None  # None once acknowledged
    resolution_left: timedelta | None  # None once resolved
    response_breached: bool
    resolution_breached: bool


def clock(incident: dict[str, Any], now: datetime) -> Clock:
    opened = parse_time(incident["opened_at"])
    response_due, resolution_due = priorities.deadlines(incident["priority"], opened)
    acked = parse_time(incident["acknowledged_at"]) if incident.get("acknowledged_at") else None
    resolved = parse_time(incident["resolved_at"]) if incident.get("resolved_at") else None
    return Clock(
        response_due=response_due,
        resolution_due=resolution_due,
        response_left=None if acked else response_due - now,
        resolution_left=None if resolved else resolution_due - now,
        response_breached=(acked or now) > response_due,
        resolution_breached=(resolved or now) > resolution_due,
    )


def human(delta: timedelta | None) -> str:
    if delta is None:
        return "-"
    seconds = int(delta.total_seconds())
    sign = "-" if seconds < 0 else ""
    seconds = abs(seconds)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    text = f"{days}d{hours}h" if days else f"{hours}h{minutes:02d}m"
    return sign + text


def duration(delta: timedelta) -> str:
    """A deadline as people say it: "1 h", "24 h", "7 days", "30 min"."""
    seconds = int(delta.total_seconds())
    if seconds % 86400 == 0 and seconds >= 2 * 86400:
        return f"{seconds // 86400} days"
    if seconds % 3600 == 0:
        return f"{seconds // 3600} h"
    return f"{seconds // 60} min"


@dataclass(frozen=True)
class TickAction:
    kind: str  # escalate, remind
    why: str


def due_actions(
    incident: dict[str, Any], events: list[dict[str, Any]], now: datetime
) -> list[TickAction]:
    """What `runbook incident tick` must do now for one open incident."""
    if incident["status"] == "resolved":
        return []
    actions = []
    c = clock(incident, now)
    escalated_for = {e["data"].get("why", "") for e in events if e["kind"] == "escalated"}
    if c.response_breached and not incident.get("acknowledged_at"):
        why = f"no acknowledgement by the response deadline ({stamp(c.response_due)})"
        if not any(w.startswith("no acknowledgement") for w in escalated_for):
            actions.append(TickAction("escalate", why))
    if c.resolution_breached:
        why = f"not resolved by the resolution deadline ({stamp(c.resolution_due)})"
        if not any(w.startswith("not resolved") for w in escalated_for):
            actions.append(TickAction("escalate", why))
    if incident["priority"] == "P1":
        last = incident.get("last_reminder_at") or incident["opened_at"]
        if now - parse_time(last) >= P1_UPDATE_EVERY:
            actions.append(TickAction("remind", "P1 updates are due every 4 hours"))
    return actions


def tick(
    incidents: Any, now: datetime, tell: Callable[[dict[str, Any]], list[str]]
) -> list[dict[str, Any]]:
    """Escalate the open incidents past a deadline and send P1's reminders; what was done.

    `incidents` is an incidents.records.Incidents; `tell` notifies about one incident and
    returns the channels that delivered.
    """
    done: list[dict[str, Any]] = []
    for row in incidents.all():
        for action in due_actions(row, incidents.events(row["id"]), now):
            if action.kind == "escalate":
                if row["level"] >= 3:
                    continue
                level = incidents.escalate(row["id"], action.why)
                done.append(
                    {
                        "incident": row["id"],
                        "action": "escalated",
                        "level": level,
                        "why": action.why,
                        "notified": tell(incidents.get(row["id"])),
                    }
                )
            else:
                incidents.record(row["id"], "reminder", action.why)
                tell(row)
                incidents.reminded(row["id"])
                done.append({"incident": row["id"], "action": "reminded", "why": action.why})
    return done
