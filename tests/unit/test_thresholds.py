"""Every boundary of every row of the workflow document's three tables."""

from __future__ import annotations

import pytest

from runbook.errors import RunbookError
from runbook.health import thresholds as th

# (metric, value, verdict): each row's boundaries as the tables word them.
BOUNDARIES = [
    # Error rates (%): "< 0.5%" green, "0.5-2%" yellow, "> 2%" red, and alike.
    ("javascript_errors", 0.49, "green"),
    ("javascript_errors", 0.5, "yellow"),
    ("javascript_errors", 2.0, "yellow"),
    ("javascript_errors", 2.01, "red"),
    ("php_errors", 0.09, "green"),
    ("php_errors", 0.1, "yellow"),
    ("php_errors", 1.0, "yellow"),
    ("php_errors", 1.01, "red"),
    ("api_errors", 0.99, "green"),
    ("api_errors", 1.0, "yellow"),
    ("api_errors", 5.0, "yellow"),
    ("api_errors", 5.01, "red"),
    ("state_errors", 0.09, "green"),
    ("state_errors", 0.1, "yellow"),
    ("state_errors", 0.5, "yellow"),
    ("state_errors", 0.51, "red"),
    # Performance (ms, MB): "< 200ms" green, "200-300ms" yellow, "> 300ms" red, and alike.
    ("initial_load", 199, "green"),
    ("initial_load", 200, "yellow"),
    ("initial_load", 300, "yellow"),
    ("initial_load", 301, "red"),
    ("preview_update", 49, "green"),
    ("preview_update", 50, "yellow"),
    ("preview_update", 100, "yellow"),
    ("preview_update", 101, "red"),
    ("api_response", 499, "green"),
    ("api_response", 500, "yellow"),
    ("api_response", 1000, "yellow"),
    ("api_response", 1001, "red"),
    ("memory_usage", 49, "green"),
    ("memory_usage", 50, "yellow"),
    ("memory_usage", 100, "yellow"),
    ("memory_usage", 101, "red"),
    # User impact: tickets Baseline / +10% / +25%; complaints 0-1 / 2-5 / > 5;
    # adoption > 80% / 50-80% / < 50%.
    ("support_tickets", 0, "green"),
    ("support_tickets", 9.9, "green"),
    ("support_tickets", 10, "yellow"),
    ("support_tickets", 24.9, "yellow"),
    ("support_tickets", 25, "red"),
    ("user_complaints", 0, "green"),
    ("user_complaints", 1, "green"),
    ("user_complaints", 2, "yellow"),
    ("user_complaints", 5, "yellow"),
    ("user_complaints", 6, "red"),
    ("feature_adoption", 81, "green"),
    ("feature_adoption", 80, "yellow"),
    ("feature_adoption", 50, "yellow"),
    ("feature_adoption", 49, "red"),
]


@pytest.mark.parametrize(("metric", "value", "verdict"), BOUNDARIES)
def test_every_boundary(metric: str, value: float, verdict: str) -> None:
    assert th.classify(metric, value, samples=10_000) == verdict


def test_every_row_of_the_document_is_pinned() -> None:
    assert {m for m, _, _ in BOUNDARIES} == set(th.merged())
    assert {r.table for r in th.merged().values()} == {"error_rates", "performance", "user_impact"}


def test_too_little_data_is_inconclusive() -> None:
    assert th.classify("php_errors", 5.0, samples=3) == "inconclusive"
    assert th.classify("php_errors", None, samples=10_000) == "inconclusive"


def test_overrides_key_by_key() -> None:
    rows = th.merged({"error_rates": {"php_errors": {"red": "> 3"}}})
    assert rows["php_errors"].classify(2.0, 10_000) == "yellow"
    assert rows["php_errors"].green == ("<", 0.1)  # the rest of the row stays


@pytest.mark.parametrize("bad", ["less than 2", "=< 2", "> two", ""])
def test_bad_condition_names_the_row(bad: str) -> None:
    with pytest.raises(RunbookError, match=r"php_errors\.red"):
        th.merged({"error_rates": {"php_errors": {"red": bad}}})


def test_unknown_metric_lists_the_rows() -> None:
    with pytest.raises(RunbookError, match=r"no row for .cpu.*api_errors"):
        th.classify("cpu", 1)
