"""The document's templates from one baseline fixture, undefined variables as errors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from runbook import clock
from runbook.errors import RunbookError
from runbook.incidents import templates
from runbook.incidents.records import Incidents
from runbook.store import Store

T0 = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)


@pytest.fixture
def baseline(tmp_path: Path) -> dict:  # type: ignore[type-arg]
    """One incident, acknowledged, mitigated by a rollback, resolved, with its timeline."""
    incidents = Incidents(Store(tmp_path / "db.sqlite3"))

    def at(minutes: int) -> str:
        return clock.stamp(T0 + timedelta(minutes=minutes))  # the record's one format

    i = incidents.open("Admin crashes after 2.1.0", "P0", impact="every admin of 2 sites", at=at(0))
    incidents.record(
        i, "decision", "health: critical_errors_last_5m fired", {"first_seen": at(-7)}, at=at(1)
    )
    incidents.acknowledge(i, "alice", at=at(5))
    incidents.update(i, status="mitigating", action_taken="p0-rollback to 2.0.1", at=at(6))
    incidents.update(i, status="monitoring", at=at(15))
    incidents.update(
        i,
        status="resolved",
        root_cause="an undefined function in 2.1.0",
        resolution="rolled back; 2.1.1 fixes it",
        prevention="a test for the modern API client\nalert on new fatals",
        at=at(120),
    )
    return templates.context(
        incidents.get(i),
        incidents.events(i),
        incidents.runs(i),
        now=T0 + timedelta(hours=3),
        product="MASE",  # the target profile's name
    )


def test_p0_notice(baseline: dict) -> None:  # type: ignore[type-arg]
    text = templates.render("p0", baseline)
    assert text.startswith("Subject: [CRITICAL] MASE Production Issue - Immediate Action Required")
    for line in (
        "Priority: P0 - Critical",
        "Status: Fixed",
        "Issue: Admin crashes after 2.1.0",
        "Impact: every admin of 2 sites",
        "Action Taken: p0-rollback to 2.0.1",
        "1. p0-rollback to 2.0.1",
        "Contact: alice",
    ):
        assert line in text


def test_p1_and_user_notices(baseline: dict) -> None:  # type: ignore[type-arg]
    p1 = templates.render(
        "p1", {**baseline, "incident": {**baseline["incident"], "status": "mitigating"}}
    )
    assert "Status: Fix in Progress" in p1 and "Updates will be provided every 4 hours." in p1
    user = templates.render("user", {**baseline, "timeframe": "2 hours"})
    assert "within 2 hours." in user and "Your settings are preserved" in user


def test_review_from_the_record(baseline: dict) -> None:  # type: ignore[type-arg]
    review = templates.render("review", baseline)
    assert review.startswith("# Post-Incident Review: Admin crashes after 2.1.0")
    assert (
        "Time to detect: 0h07m; to acknowledge: 0h05m; to mitigate: 0h15m; "
        "to resolve: 2h00m" in review
    )
    assert "- 2026-11-27T03:01:00Z: health: critical_errors_last_5m fired" in review
    assert "## Root Cause\nan undefined function in 2.1.0" in review
    assert "1. a test for the modern API client\n2. alert on new fatals" in review
    assert "- [ ] Share learnings" in review


def test_undefined_variable_is_an_error(baseline: dict, tmp_path: Path) -> None:  # type: ignore[type-arg]
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "p0.txt.j2").write_text("Hi {{ incident.title }} {{ nope }}")
    with pytest.raises(RunbookError, match=r"p0\.txt\.j2: .nope. is undefined"):
        templates.render("p0", baseline, project=tmp_path)


def test_project_template_overrides_the_shipped_one(baseline: dict, tmp_path: Path) -> None:  # type: ignore[type-arg]
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "user.txt.j2").write_text("Dear users: {{ timeframe }}\n")
    assert templates.render("user", baseline, project=tmp_path).startswith("Dear users:")
