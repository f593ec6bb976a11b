"""Classification against every example of the workflow document, and the deadlines."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from runbook.errors import RunbookError
from runbook.incidents import priorities as pr

EXAMPLES = [
    ("P0", "Plugin crashes WordPress admin", "The plugin crashes WordPress admin after 2.1.0"),
    ("P0", "Data loss or corruption", "Customer settings were lost: data loss on save"),
    ("P0", "Data loss or corruption", "The options table looks corrupted"),
    ("P0", "Security vulnerability", "Security vulnerability: stored XSS in the colour field"),
    ("P0", "Complete feature failure affecting all users", "Preview fails for all users"),
    ("P1", "Settings not saving", "Settings not saving since this morning"),
    ("P1", "Preview not working", "Preview not working in Firefox"),
    ("P1", "Template application fails", "Template application fails with 'ocean'"),
    ("P1", "Affects > 25% of users", "Affects 40% of users on the new engine"),
    ("P2", "Visual glitches", "Visual glitches in the admin menu"),
    ("P2", "Performance degradation < 20%", "Performance degradation of about 10% on load"),
    ("P2", "Non-critical errors in console", "Non-critical errors in console on the settings page"),
    ("P2", "Affects < 25% of users", "Affects 5% of users"),
    ("P3", "UI polish", "UI polish for the template picker"),
    ("P3", "Documentation updates", "Documentation updates for the REST routes"),
    ("P3", "Feature requests", "Feature request: dark mode templates"),
    ("P3", "Minor UX improvements", "Minor UX improvements to the colour picker"),
]


@pytest.mark.parametrize(("priority", "example", "text"), EXAMPLES)
def test_every_example_of_the_document(priority: str, example: str, text: str) -> None:
    result = pr.classify(text)
    assert (result.priority, result.example) == (priority, example), result.explain()
    assert example in result.explain()


def test_every_example_is_covered() -> None:
    covered = {(p, e) for p, e, _ in EXAMPLES}
    assert covered == {(p.name, e) for p in pr.PRIORITIES.values() for e, _ in p.examples}


def test_unmatched_is_p2_until_triaged() -> None:
    result = pr.classify("something odd")
    assert result.priority == "P2" and result.example is None


@pytest.mark.parametrize(
    ("priority", "response", "resolution"),
    [
        ("P0", timedelta(hours=1), timedelta(hours=4)),
        ("P1", timedelta(hours=4), timedelta(hours=24)),
        ("P2", timedelta(hours=24), timedelta(weeks=1)),
        ("P3", timedelta(weeks=1), timedelta(days=30)),
    ],
)
def test_deadlines(priority: str, response: timedelta, resolution: timedelta) -> None:
    opened = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)
    assert pr.deadlines(priority, opened) == (opened + response, opened + resolution)


def test_unknown_priority() -> None:
    with pytest.raises(RunbookError, match="one of P0, P1, P2, P3"):
        pr.get("P9")
