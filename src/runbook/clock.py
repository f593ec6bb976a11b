"""The one clock and the one timestamp format of the run record: UTC, seconds, a trailing Z.

Every time the store holds is written by `stamp`, so that sorting the text sorts the times
(`…Z` and `…+00:00` mixed did not).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

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


#: The furthest back a window may reach: logs are not kept longer, and larger spans overflow.
MAX_WINDOW = timedelta(days=3650)
UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def window_start(text: str, now: datetime | None = None) -> datetime:
    """`5m`, `1h`, `2d` or an ISO 8601 time as a moment, checked: within the last ten years
    and not more than a day ahead. ValueError says what is wrong."""
    now = now or datetime.now(UTC)
    value = text.strip()
    match = re.fullmatch(r"(\d{1,9})([smhd])", value)
    if match:
        span = timedelta(**{UNITS[match.group(2)]: int(match.group(1))})
        if span > MAX_WINDOW:
            raise ValueError(f"{text!r} reaches back more than {MAX_WINDOW.days} days")
        return now - span
    if re.fullmatch(r"\d+[smhd]", value):
        raise ValueError(f"{text!r} reaches back more than {MAX_WINDOW.days} days")
    try:
        when = parse(value)
    except ValueError:
        raise ValueError(
            f"{text!r} is not a duration (5m, 1h, 2d) or an ISO 8601 time such as "
            "2026-11-30T02:00:00Z"
        ) from None
    if when < now - MAX_WINDOW or when > now + timedelta(days=1):
        raise ValueError(f"{text!r} is more than {MAX_WINDOW.days} days back or a day ahead")
    return when
