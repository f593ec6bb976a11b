"""What every channel shares: the message, the attempt and delivery records, the base class
with its field checks and secret references, escaping, and one bounded HTTP POST."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from runbook.errors import RunbookError


class Retryable(Exception):
    """A 5xx answer or a timeout: worth another try."""


@dataclass
class Message:
    subject: str
    body: str
    incident: dict[str, Any]
    template: str
    event_action: str = "trigger"  # PagerDuty: trigger, acknowledge, resolve
    #: The target plugin's slug: what is affected (PagerDuty's component).
    component: str = "runbook"


@dataclass
class Sending:
    """How a message is being sent: the time each attempt may take, and (for the status
    page) every incident."""

    timeout: float = 10
    all_incidents: Callable[[], list[dict[str, Any]]] | None = None


@dataclass
class Attempt:
    channel: str
    number: int
    ok: bool
    detail: str


@dataclass
class Delivery:
    channel: str
    ok: bool
    attempts: list[Attempt] = field(default_factory=list)
    error: str | None = None


@dataclass
class Channel:
    """One configured channel. Subclasses declare their type, fields and how they deliver."""

    name: str
    settings: dict[str, Any]

    kind: ClassVar[str] = ""
    #: Fields contacts.yml must give (a secret among them as env:NAME).
    required: ClassVar[tuple[str, ...]] = ()
    #: Fields that hold secrets: `env:NAME` only.
    secrets: ClassVar[tuple[str, ...]] = ()

    @property
    def type(self) -> str:
        return self.kind

    @classmethod
    def configured(cls, name: str, raw: dict[str, Any], where: str) -> Channel:
        """Check one contacts.yml entry: errors name the channel and the field."""
        for key in cls.required:
            if raw.get(key) in (None, "", []):
                raise RunbookError(f"{where} ({name}, {cls.kind}): {key} is required")
        for key in cls.secrets:
            value = raw.get(key)
            if value is not None and not (isinstance(value, str) and value.startswith("env:")):
                raise RunbookError(
                    f"{where} ({name}): {key} is a secret; write "
                    f"env:NAME and export NAME, never the value itself"
                )
        timeout = raw.get("timeout")
        if timeout is not None and (
            isinstance(timeout, bool)
            or not isinstance(timeout, int | float)
            or not 0 < timeout <= 60
        ):
            raise RunbookError(f"{where} ({name}): timeout is seconds per attempt, 0 to 60")
        cls.check(raw, f"{where} ({name}, {cls.kind})")
        return cls(name, raw)

    @classmethod
    def check(cls, raw: dict[str, Any], where: str) -> None:
        """Type-specific checks beyond presence (override)."""

    def secret(self, key: str) -> str:
        """Resolve an `env:NAME` reference; the error names the variable, never a value."""
        ref = self.settings.get(key)
        if not isinstance(ref, str) or not ref.startswith("env:"):
            raise RunbookError(f"channel {self.name}: {key} must be env:NAME")
        value = os.environ.get(ref[4:])
        if not value:
            raise RunbookError(f"channel {self.name}: ${ref[4:]} (its {key}) is not set")
        return value

    def deliver(self, message: Message, sending: Sending) -> str:
        """Send once; a short description of what happened. Raise Retryable or RunbookError."""
        raise NotImplementedError


def slack_escape(text: str) -> str:
    """Slack's three control characters: `<!channel>` and links become plain text."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def teams_text(text: str) -> str:
    """Plain text for an Adaptive Card TextRun: no Markdown there, but `{{DATE(...)}}` and
    `{{TIME(...)}}` are still functions; a zero-width space keeps user braces literal."""
    return text.replace("{{", "{\u200b{")


def split(text: str) -> tuple[str, str]:
    """A rendered template's `Subject:` line and its body."""
    first, _, rest = text.partition("\n")
    if first.startswith("Subject: "):
        return first[len("Subject: ") :].strip(), rest.strip("\n")
    return "", text


HEADERS = {"Content-Type": "application/json", "User-Agent": "runbook"}


def post(url: str, payload: bytes, timeout: float, headers: dict[str, str] | None = None) -> str:
    """One POST, bounded in time, no redirects: 5xx and timeouts are worth a retry."""
    import httpx  # here: every run loads the channels, few of them post (~0.08 s a run)

    with httpx.Client(timeout=timeout, follow_redirects=False) as client:
        try:
            response = client.post(url, content=payload, headers={**HEADERS, **(headers or {})})
        except httpx.TimeoutException as exc:
            raise Retryable(f"timed out ({exc.__class__.__name__})") from None
        except httpx.HTTPError as exc:
            raise RunbookError(f"cannot connect: {exc.__class__.__name__}") from None
    if response.status_code >= 500:
        raise Retryable(f"HTTP {response.status_code}")
    if response.status_code >= 300:
        # Redirects are not followed (a webhook URL that moved must be fixed, not guessed).
        raise RunbookError(f"HTTP {response.status_code}: a redirect, not a delivery")
    if response.status_code >= 400:
        raise RunbookError(f"HTTP {response.status_code}: {response.text[:200]}")
    return f"HTTP {response.status_code}"
