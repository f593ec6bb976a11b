"""The one clock and the one timestamp format of the run record: UTC, seconds, a trailing Z.

Every time the store holds is written by `stamp`, so that sorting the text sorts the times
(`…Z` and `…+00:00` mixed did not).
"""

from __future__ import annotations

from datetime import UTC, datetime

FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def now() -> datetime:
    """The current time, in UTC."""
    return datetime.now(UTC)


def parse(text: str) -> datetime:
    """An ISO 8601 time (Z, an offset, or none: UTC) as an aware datetime."""
    when = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def stamp(when: datetime | str | None = None) -> str:
    """`when` (default: now) in the record's format: 2026-11-27T14:15:00Z."""
    if when is None:
        when = now()
    elif isinstance(when, str):
        when = parse(when)
    elif when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC).strftime(FORMAT)
