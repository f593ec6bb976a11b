"""The workflow document's Manual Checks: daily (first week), weekly (first month), monthly."""

from __future__ import annotations

from datetime import datetime

CHECKLISTS: dict[str, tuple[str, ...]] = {
    "daily": (
        "Review error logs",
        "Check performance metrics",
        "Monitor user feedback",
        "Verify feature adoption",
    ),
    "weekly": (
        "Analyze error trends",
        "Review performance data",
        "Assess feature usage",
        "Plan next rollout phase",
    ),
    "monthly": (
        "Comprehensive audit",
        "User satisfaction survey",
        "Technical debt review",
        "Plan improvements",
    ),
}
WHEN = {"daily": "first week", "weekly": "first month", "monthly": "ongoing"}


def period(schedule: str, when: datetime) -> str:
    """The day, ISO week or month a tick counts for."""
    if schedule == "daily":
        return when.strftime("%Y-%m-%d")
    if schedule == "weekly":
        year, week, _ = when.isocalendar()
        return f"{year}-W{week:02d}"
    return when.strftime("%Y-%m")
