"""Incident records, deadlines, breaches and escalation under a frozen clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from runbook import clock
from runbook.errors import RunbookError
from runbook.incidents import sla
from runbook.incidents.records import Incidents
from runbook.store import Store

T0 = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)


@pytest.fixture
def incidents(tmp_path: Path) -> Incidents:
    return Incidents(Store(tmp_path / "db.sqlite3"))


def at(minutes: int) -> str:
    return clock.stamp(T0 + timedelta(minutes=minutes))  # the record's one format


def test_lifecycle_and_timeline(incidents: Incidents) -> None:
    i = incidents.open("Admin crashes", "P0", impact="all admins", at=at(0))
    incidents.acknowledge(i, "alice", at=at(10))
    incidents.update(i, status="mitigating", action_taken="rollback", at=at(12))
    incidents.update(i, status="monitoring", at=at(20))
    incidents.update(i, status="resolved", root_cause="missing function", at=at(90))
    record = incidents.get(i)
    assert record["status"] == "resolved" and record["owner"] == "alice"
    assert (record["mitigated_at"], record["resolved_at"]) == (at(20), at(90))
    kinds = [e["kind"] for e in incidents.events(i)]
    assert kinds == ["opened", "acknowledged", "update", "status", "status", "update", "status"]
    with pytest.raises(RunbookError, match="is resolved"):
        incidents.update(i, status="investigating")


def test_bad_input_is_refused(incidents: Incidents) -> None:
    with pytest.raises(RunbookError, match="one of P0"):
        incidents.open("x", "P7")
    i = incidents.open("x", "P2")
    with pytest.raises(RunbookError, match="status 'done'"):
        incidents.update(i, status="done")
    with pytest.raises(RunbookError, match="no incident 999"):
        incidents.get(999)


def test_deadlines_and_breaches_under_a_frozen_clock(incidents: Incidents) -> None:
    i = incidents.open("Preview broken", "P1", at=at(0))
    record = incidents.get(i)
    c = sla.clock(record, T0 + timedelta(hours=3))
    assert c.response_left == timedelta(hours=1) and not c.response_breached
    c = sla.clock(record, T0 + timedelta(hours=5))
    assert c.response_breached and not c.resolution_breached
    assert sla.human(c.response_left) == "-1h00m"
    incidents.acknowledge(i, "bob", at=at(30))
    c = sla.clock(incidents.get(i), T0 + timedelta(hours=25))
    assert c.response_left is None and not c.response_breached and c.resolution_breached


def test_tick_escalates_once_per_breach_and_reminds_p1(incidents: Incidents) -> None:
    i = incidents.open("Preview broken", "P1", at=at(0))
    later = T0 + timedelta(hours=4, minutes=1)
    actions = sla.due_actions(incidents.get(i), incidents.events(i), later)
    assert [a.kind for a in actions] == ["escalate", "remind"]
    incidents.escalate(i, actions[0].why, at=later.isoformat())
    again = sla.due_actions(incidents.get(i), incidents.events(i), later)
    assert [a.kind for a in again] == ["remind"]  # the same breach escalates once
    assert incidents.get(i)["level"] == 2


def test_p0_escalates_through_the_levels(incidents: Incidents) -> None:
    i = incidents.open("Down", "P0", at=at(0))
    assert incidents.escalate(i, "a") == 2
    assert incidents.escalate(i, "b") == 3
    with pytest.raises(RunbookError, match="at L3 already"):
        incidents.escalate(i, "c")


def test_incident_texts_have_limits(incidents: Incidents) -> None:
    with pytest.raises(RunbookError, match="title is 201 characters; at most 200"):
        incidents.open("x" * 201, "P1")
    with pytest.raises(RunbookError, match="title is one line"):
        incidents.open("one\ntwo", "P1")
    i = incidents.open("fine", "P1")
    with pytest.raises(RunbookError, match="root_cause is 2001 characters"):
        incidents.update(i, root_cause="y" * 2001)
