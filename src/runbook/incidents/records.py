"""Incidents in the run record: open, change, escalate, resolve; the timeline of evidence.

Every change is an event with a UTC timestamp: the timeline is recorded, never typed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from runbook import clock
from runbook.errors import RunbookError
from runbook.incidents import priorities
from runbook.store import Store

STATUSES = ("investigating", "mitigating", "monitoring", "resolved")
#: Longest title, and longest other text (impact, root cause, ...), as --reason's limit.
MAX_TITLE = 200
MAX_TEXT = 2000
LEVELS = {1: "L1 on-call developer", 2: "L2 lead developer", 3: "L3 CTO / technical director"}
EDITABLE = (
    "title",
    "impact",
    "action_taken",
    "eta",
    "owner",
    "root_cause",
    "resolution",
    "prevention",
    "lessons",
)


def now() -> str:
    return clock.stamp()


parse_time = clock.parse


def check_text(field: str, value: str | None) -> None:
    """Titles up to MAX_TITLE characters on one line, other texts up to MAX_TEXT."""
    if value is None:
        return
    limit = MAX_TITLE if field == "title" else MAX_TEXT
    if len(value) > limit:
        raise RunbookError(f"the incident's {field} is {len(value)} characters; at most {limit}")
    if field == "title" and ("\n" in value or "\r" in value):
        raise RunbookError("an incident's title is one line")


@dataclass
class Incidents:
    store: Store

    @property
    def db(self) -> Any:
        return self.store.db

    def open(
        self,
        title: str,
        priority: str,
        *,
        impact: str | None = None,
        owner: str | None = None,
        classification: str | None = None,
        at: str | None = None,
    ) -> int:
        priorities.get(priority)
        if not title.strip():
            raise RunbookError("an incident needs a title")
        check_text("title", title)
        for name, value in (("impact", impact), ("owner", owner)):
            check_text(name, value)
        at = clock.stamp(at)
        with self.store.transaction():
            cursor = self.db.execute(
                "INSERT INTO incidents (title, priority, status, impact, owner, classification, "
                "opened_at) VALUES (?, ?, 'investigating', ?, ?, ?, ?)",
                (title, priority.upper(), impact, owner, classification, at),
            )
            incident_id = int(cursor.lastrowid or 0)
            self._event(
                incident_id,
                "opened",
                f"{priority.upper()} incident opened: {title}",
                {"priority": priority.upper(), "classification": classification},
                at,
            )
        return incident_id

    def get(self, incident_id: int) -> dict[str, Any]:
        row = self.db.execute("SELECT * FROM incidents WHERE id = ?", (incident_id,)).fetchone()
        if row is None:
            raise RunbookError(f"no incident {incident_id} in the run record {self.store.path}")
        return dict(row)

    def all(self, include_resolved: bool = False) -> list[dict[str, Any]]:
        query = "SELECT * FROM incidents"
        if not include_resolved:
            query += " WHERE status != 'resolved'"
        return [dict(r) for r in self.db.execute(query + " ORDER BY priority, opened_at")]

    def _event(
        self,
        incident_id: int,
        kind: str,
        summary: str,
        data: dict[str, Any] | None = None,
        at: str | None = None,
    ) -> None:
        self.db.execute(
            "INSERT INTO incident_events (incident_id, at, kind, summary, data) "
            "VALUES (?, ?, ?, ?, ?)",
            (incident_id, clock.stamp(at), kind, summary, json.dumps(data or {}, default=str)),
        )

    def record(
        self,
        incident_id: int,
        kind: str,
        summary: str,
        data: dict[str, Any] | None = None,
        at: str | None = None,
    ) -> None:
        """Add evidence to the timeline (a run, a host's outcome, a decision, a message)."""
        self.get(incident_id)
        with self.store.transaction():
            self._event(incident_id, kind, summary, data, at)

    def events(self, incident_id: int) -> list[dict[str, Any]]:
        rows = self.db.execute(
            "SELECT at, kind, summary, data FROM incident_events WHERE incident_id = ? "
            "ORDER BY at, id",
            (incident_id,),
        )
        return [{**dict(r), "data": json.loads(r["data"] or "{}")} for r in rows]

    def update(self, incident_id: int, at: str | None = None, **fields: str | None) -> None:
        current = self.get(incident_id)
        changes = {k: v for k, v in fields.items() if v is not None and k in EDITABLE}
        for key, value in changes.items():
            check_text(key, value)
        unknown = set(fields) - set(EDITABLE) - {"status", "priority"}
        if unknown:
            raise RunbookError(f"incident fields: {', '.join(sorted(unknown))} cannot be set")
        at = clock.stamp(at)
        with self.store.transaction():
            for key, value in changes.items():
                self.db.execute(
                    f"UPDATE incidents SET {key} = ? WHERE id = ?",  # noqa: S608
                    (value, incident_id),
                )
                self._event(
                    incident_id,
                    "update",
                    f"{key.replace('_', ' ')}: {value}",
                    {key: value, "was": current[key]},
                    at,
                )
            priority = fields.get("priority")
            if priority and priority.upper() != current["priority"]:
                priorities.get(priority)
                self.db.execute(
                    "UPDATE incidents SET priority = ? WHERE id = ?",
                    (priority.upper(), incident_id),
                )
                self._event(
                    incident_id,
                    "priority",
                    f"priority {current['priority']} -> {priority.upper()}",
                    {"from": current["priority"], "to": priority.upper()},
                    at,
                )
            status = fields.get("status")
            if status and status != current["status"]:
                self._set_status(incident_id, current, status, at)

    def _set_status(self, incident_id: int, current: dict[str, Any], status: str, at: str) -> None:
        if status not in STATUSES:
            raise RunbookError(f"status {status!r}: one of {', '.join(STATUSES)}")
        if current["status"] == "resolved":
            raise RunbookError(f"incident {incident_id} is resolved; open a new one")
        stamps = {"mitigating": None, "monitoring": "mitigated_at", "resolved": "resolved_at"}
        column = stamps.get(status)
        self.db.execute("UPDATE incidents SET status = ? WHERE id = ?", (status, incident_id))
        if column:
            self.db.execute(
                f"UPDATE incidents SET {column} = COALESCE({column}, ?) "  # noqa: S608
                "WHERE id = ?",
                (at, incident_id),
            )
        if status == "resolved":
            self.db.execute(
                "UPDATE incidents SET mitigated_at = COALESCE(mitigated_at, ?) WHERE id = ?",
                (at, incident_id),
            )
        self._event(
            incident_id,
            "status",
            f"status {current['status']} -> {status}",
            {"from": current["status"], "to": status},
            at,
        )

    def acknowledge(self, incident_id: int, owner: str, at: str | None = None) -> None:
        current = self.get(incident_id)
        at = clock.stamp(at)
        with self.store.transaction():
            self.db.execute(
                "UPDATE incidents SET acknowledged_at = COALESCE(acknowledged_at, ?), "
                "owner = ? WHERE id = ?",
                (at, owner, incident_id),
            )
            self._event(
                incident_id,
                "acknowledged",
                f"acknowledged by {owner}",
                {"owner": owner, "was_owner": current["owner"]},
                at,
            )

    def escalate(self, incident_id: int, why: str, at: str | None = None) -> int:
        current = self.get(incident_id)
        if current["level"] >= 3:
            raise RunbookError(f"incident {incident_id} is at L3 already")
        level = int(current["level"]) + 1
        with self.store.transaction():
            self.db.execute("UPDATE incidents SET level = ? WHERE id = ?", (level, incident_id))
            self._event(
                incident_id,
                "escalated",
                f"escalated to {LEVELS[level]}: {why}",
                {"from": current["level"], "to": level, "why": why},
                at,
            )
        return level

    def open_for_sites(self, priority: str, sites: list[str]) -> int | None:
        """The newest unresolved incident of this priority with a run on any of these sites."""
        if not sites:
            return None
        row = self.db.execute(
            "SELECT i.id FROM incidents i JOIN runs r ON r.incident_id = i.id "
            "JOIN run_hosts h ON h.run_id = r.id "
            "WHERE i.status != 'resolved' AND i.priority = ? "
            "AND h.site IN (SELECT value FROM json_each(?)) "
            "ORDER BY i.opened_at DESC, i.id DESC LIMIT 1",
            (priority, json.dumps(sites)),
        ).fetchone()
        return int(row[0]) if row else None

    def reminded(self, incident_id: int, at: str | None = None) -> None:
        """A P1 reminder went out: the next one is due a period from now."""
        with self.store.transaction():
            self.db.execute(
                "UPDATE incidents SET last_reminder_at = ? WHERE id = ?",
                (clock.stamp(at), incident_id),
            )

    def attach_run(self, incident_id: int, run_id: str) -> None:
        self.get(incident_id)
        with self.store.transaction():
            self.db.execute("UPDATE runs SET incident_id = ? WHERE id = ?", (incident_id, run_id))

    def runs(self, incident_id: int) -> list[dict[str, Any]]:
        return [
            dict(r)
            for r in self.db.execute(
                "SELECT id AS run_id, runbook, status, exit_code, started_at, ended_at, reason "
                "FROM runs WHERE incident_id = ? ORDER BY started_at",
                (incident_id,),
            )
        ]

    def record_decision(self, incident_id: int, outcome: dict[str, Any], decision_id: int) -> None:
        """A health decision on the timeline; the earliest new fatal error's first sighting
        lets the review compute the time to detect."""
        decision = outcome["decision"]
        first_seen = None
        for rule in decision["rules"]:
            if rule["rule"] == "critical_errors_last_5m" and rule["result"] == "fired":
                first_seen = outcome["inputs"].get("first_critical_seen")
        fired = ", ".join(decision["fired"]) or "no trigger fired"
        self.record(
            incident_id,
            "decision",
            f"health {outcome['verdict']}: {fired} (decision {decision_id})",
            {
                "decision_id": decision_id,
                "verdict": outcome["verdict"],
                "fired": decision["fired"],
                "rules": decision["rules"],
                "first_seen": first_seen,
            },
        )
