"""Telling people: one class per channel type, in a registry.

Channels and contacts live in the project's `contacts.yml`; secrets (webhook URLs, routing
keys, passwords) only by reference, `env:NAME`, never in the file, the store or any output.
Each type declares its required and secret fields, checked when contacts.yml loads. Sending is
bounded in time, retried with backoff on 5xx and timeouts (tenacity), every attempt is
recorded, and a failure is a result, never an exception that could stop a rollback. User text
is escaped for each medium (Slack's `<`, `>`, `&`; Teams gets plain TextRuns; HTML in mail and
the status page).

A new channel type is one module here with a `Channel` subclass, and one line in `REGISTRY`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import tenacity

from runbook import yamlfile
from runbook.errors import RunbookError
from runbook.incidents import contacts_file
from runbook.incidents.channels.base import (
    Attempt,
    Channel,
    Delivery,
    Message,
    Retryable,
    Sending,
    slack_escape,
    split,
    teams_text,
)
from runbook.incidents.channels.pagerduty import PagerDuty
from runbook.incidents.channels.slack import Slack
from runbook.incidents.channels.smtp import Smtp
from runbook.incidents.channels.statuspage import StatusPage, write_status_page
from runbook.incidents.channels.teams import Teams
from runbook.incidents.channels.webhook import Webhook, sign

#: Every channel type by its `type:` name in contacts.yml.
REGISTRY: dict[str, type[Channel]] = {
    cls.kind: cls for cls in (Slack, Teams, Smtp, PagerDuty, Webhook, StatusPage)
}
TYPES = tuple(REGISTRY)

__all__ = [
    "REGISTRY",
    "TYPES",
    "Attempt",
    "Channel",
    "Delivery",
    "Message",
    "Sending",
    "load",
    "send",
    "sign",
    "slack_escape",
    "split",
    "teams_text",
    "write_status_page",
]


def load(project: Path | None) -> tuple[dict[str, Any], list[Channel]]:
    """contacts.yml: escalation levels with their contacts, and the channels, checked."""
    path = contacts_file(project)
    if path is None:
        return {}, []
    data = yamlfile.load(path) or {}
    if not isinstance(data, dict):
        raise RunbookError(f"{path}: must be a mapping (levels, channels)")
    raw_channels = data.get("channels") or []
    if not isinstance(raw_channels, list):
        raise RunbookError(f"{path}: channels must be a list")
    channels = []
    for i, raw in enumerate(raw_channels):
        if not isinstance(raw, dict) or raw.get("type") not in REGISTRY or not raw.get("name"):
            raise RunbookError(
                f"{path}: channels[{i}] needs a name and a type (one of {', '.join(TYPES)})"
            )
        channels.append(
            REGISTRY[raw["type"]].configured(str(raw["name"]), raw, f"{path}: channels[{i}]")
        )
    levels = data.get("levels") or {}
    if not isinstance(levels, dict):
        raise RunbookError(f"{path}: levels must map a level (1-3) to its contacts")
    return levels, channels


def bounded(call: Callable[[], str], limit: float) -> str:
    """`call()`, or Retryable once `limit` seconds have passed without its answer.

    The call runs in a daemon thread: one that never returns is left behind and cannot keep
    the process alive, while the caller goes on.
    """
    outcome: list[Any] = []

    def target() -> None:
        try:
            outcome.append(("ok", call()))
        except BaseException as exc:  # handed to the caller
            outcome.append(("error", exc))

    worker = threading.Thread(target=target, name="runbook-notify", daemon=True)
    worker.start()
    worker.join(limit)
    if not outcome:
        raise Retryable(f"timed out: no answer within {limit:.1f} s")
    kind, value = outcome[0]
    if kind == "error":
        raise value
    return str(value)


def send(
    channel: Channel,
    message: Message,
    *,
    timeout: float = 10,
    attempts: int = 3,
    wait: float = 0.2,
    all_incidents: Callable[[], list[dict[str, Any]]] | None = None,
    on_attempt: Callable[[Attempt], None] | None = None,
    deadline: float | None = None,
) -> Delivery:
    """One message over one channel: retried on 5xx and timeouts, never raising.

    Each attempt, connect, send and read together, ends within `timeout` seconds, and every
    attempt by `deadline` (time.monotonic()) when one is given: a receiver that answers a byte
    at a time cannot hold a rollback.
    """
    delivery = Delivery(channel.name, False)
    ends = deadline if deadline is not None else float("inf")
    # Read here, in the caller's thread (the store's connection belongs to it).
    snapshot = all_incidents() if all_incidents else None
    listed = (lambda: snapshot) if snapshot is not None else None

    def record(number: int, ok: bool, detail: str) -> None:
        attempt = Attempt(channel.name, number, ok, detail)
        delivery.attempts.append(attempt)
        if on_attempt:
            on_attempt(attempt)

    def once() -> str:
        number = len(delivery.attempts) + 1
        limit = min(timeout, ends - time.monotonic())
        try:
            if limit <= 0:
                raise RunbookError("no time left for another attempt")
            detail = bounded(lambda: channel.deliver(message, Sending(limit, listed)), limit)
        except (Retryable, RunbookError) as exc:
            record(number, False, str(exc))
            raise
        except Exception as exc:
            # A bug in a channel: said by its type only, since its text may hold a secret.
            error = RunbookError(
                f"internal error in the {channel.kind} channel: {exc.__class__.__name__}"
            )
            record(number, False, str(error))
            raise error from None
        record(number, True, detail)
        return detail

    retrying = tenacity.Retrying(
        retry=tenacity.retry_if_exception_type(Retryable),
        stop=tenacity.stop_after_attempt(attempts)
        | tenacity.stop_before_delay(max(0.0, min(ends - time.monotonic(), 3600.0))),
        wait=tenacity.wait_exponential(multiplier=wait, max=wait * 8),
        reraise=True,
    )
    try:
        retrying(once)
        delivery.ok = True
    except (Retryable, RunbookError) as exc:
        delivery.error = str(exc)
    return delivery
