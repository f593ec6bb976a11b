"""The workflow document's Issue Classification: P0-P3, deadlines, actions, and examples.

Pure data and functions: `runbook incident classify`, the SLA arithmetic and the escalation
tick all read these.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from runbook.errors import RunbookError


@dataclass(frozen=True)
class Priority:
    name: str
    label: str
    response: timedelta
    resolution: timedelta
    action: str
    #: (the document's example, the patterns that recognise it in a description)
    examples: tuple[tuple[str, tuple[str, ...]], ...]


PRIORITIES: dict[str, Priority] = {
    "P0": Priority(
        "P0",
        "Critical (Production Down)",
        timedelta(hours=1),
        timedelta(hours=4),
        "Immediate rollback, emergency fix, redeploy",
        (
            (
                "Plugin crashes WordPress admin",
                (
                    r"\bcrash",
                    r"white screen",
                    r"admin (is )?down",
                    r"fatal error",
                    r"\b500\b",
                    r"production (is )?down",
                    r"site (is )?down",
                ),
            ),
            ("Data loss or corruption", (r"data loss", r"\blost\b.*\bdata", r"corrupt")),
            (
                "Security vulnerability",
                (r"securit", r"vulnerab", r"\bxss\b", r"injection", r"\bcve\b", r"exploit"),
            ),
            (
                "Complete feature failure affecting all users",
                (r"all users", r"every(one| user)", r"complete(ly)? (feature )?fail"),
            ),
        ),
    ),
    "P1": Priority(
        "P1",
        "High (Major Functionality Broken)",
        timedelta(hours=4),
        timedelta(hours=24),
        "Disable affected feature, fix, gradual re-rollout",
        (
            (
                "Settings not saving",
                (r"settings? (are |is )?not sav", r"not persist", r"can.?t save", r"won.?t save"),
            ),
            ("Preview not working", (r"preview (is )?(not|broken|fail)", r"preview.*broken")),
            ("Template application fails", (r"template.*(fail|broken|not appl)",)),
            (
                "Affects > 25% of users",
                (r"(2[6-9]|[3-9]\d|100)\s*%\s*of (the )?users", r"more than (a )?quarter"),
            ),
        ),
    ),
    "P2": Priority(
        "P2",
        "Medium (Minor Functionality Issues)",
        timedelta(hours=24),
        timedelta(weeks=1),
        "Fix in next release, monitor",
        (
            ("Visual glitches", (r"visual", r"glitch", r"misalign", r"flicker", r"layout")),
            ("Performance degradation < 20%", (r"slow", r"performance", r"degrad", r"latency")),
            (
                "Non-critical errors in console",
                (r"console", r"javascript (error|warning)", r"\bjs (error|warning)"),
            ),
            (
                "Affects < 25% of users",
                (r"(\b[0-9]|1\d|2[0-4])\s*%\s*of (the )?users", r"some users", r"few users"),
            ),
        ),
    ),
    "P3": Priority(
        "P3",
        "Low (Cosmetic or Enhancement)",
        timedelta(weeks=1),
        timedelta(days=30),
        "Add to backlog",
        (
            ("UI polish", (r"polish", r"cosmetic", r"typo", r"spacing", r"colou?r tweak")),
            ("Documentation updates", (r"doc(s|umentation)", r"readme")),
            (
                "Feature requests",
                (r"feature request", r"would be nice", r"\bsuggest", r"please add"),
            ),
            ("Minor UX improvements", (r"\bux\b", r"usability", r"minor improvement")),
        ),
    ),
}


def get(name: str) -> Priority:
    try:
        return PRIORITIES[name.upper()]
    except KeyError:
        raise RunbookError(f"priority {name!r}: one of {', '.join(PRIORITIES)}") from None


@dataclass(frozen=True)
class Classification:
    priority: str
    example: str | None
    matched: str | None

    def explain(self) -> str:
        if self.example is None:
            return f"{self.priority}: no classification example matched; P2 until triaged"
        return (
            f"{self.priority}: matches the classification example {self.example!r} "
            f"({self.matched!r})"
        )


def classify(description: str) -> Classification:
    """The highest priority whose example the description matches (the document's examples)."""
    text = description.lower()
    for name in ("P0", "P1", "P2", "P3"):
        for example, patterns in PRIORITIES[name].examples:
            for pattern in patterns:
                match = re.search(pattern, text)
                if match:
                    return Classification(name, example, match.group(0))
    return Classification("P2", None, None)


def deadlines(priority: str, opened_at: datetime) -> tuple[datetime, datetime]:
    p = get(priority)
    return opened_at + p.response, opened_at + p.resolution
