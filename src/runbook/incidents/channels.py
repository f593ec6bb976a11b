"""Telling people: Slack, Microsoft Teams, SMTP mail, PagerDuty, a signed webhook, a status page.

Channels and contacts live in the project's `contacts.yml`; secrets (webhook URLs, routing
keys, passwords) only by reference, `env:NAME`, never in the file, the store or any output.
Sending is bounded in time, retried with backoff on 5xx and timeouts (tenacity), every
attempt is recorded, and a failure is a result, never an exception that could stop a rollback.
User text is escaped for each medium (Slack's `<`, `>`, `&`; Teams gets plain TextRuns; HTML
in mail and the status page).
"""

from __future__ import annotations

import hashlib
import hmac
import html
import json
import os
import smtplib
import ssl
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import tenacity
import yaml

from runbook.errors import RunbookError

TYPES = ("slack", "teams", "smtp", "pagerduty", "webhook", "statuspage")
#: Fields that hold secrets: `env:NAME` only.
SECRET_FIELDS = {
    "slack": ("url",),
    "teams": ("url",),
    "webhook": ("url", "secret"),
    "pagerduty": ("routing_key",),
    "smtp": ("password",),
    "statuspage": (),
}
SEVERITY = {"P0": "critical", "P1": "error", "P2": "warning", "P3": "info"}
PAGERDUTY_URL = "https://events.pagerduty.com/v2/enqueue"


class Retryable(Exception):
    """A 5xx answer or a timeout: worth another try."""


@dataclass
class Message:
    subject: str
    body: str
    incident: dict[str, Any]
    template: str
    event_action: str = "trigger"  # PagerDuty: trigger, acknowledge, resolve


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
    name: str
    type: str
    settings: dict[str, Any]

    def secret(self, key: str) -> str:
        """Resolve an `env:NAME` reference; the error names the variable, never a value."""
        ref = self.settings.get(key)
        if not isinstance(ref, str) or not ref.startswith("env:"):
            raise RunbookError(f"channel {self.name}: {key} must be env:NAME")
        value = os.environ.get(ref[4:])
        if not value:
            raise RunbookError(f"channel {self.name}: ${ref[4:]} (its {key}) is not set")
        return value


def load(project: Path | None) -> tuple[dict[str, Any], list[Channel]]:
    """contacts.yml: escalation levels with their contacts, and the channels."""
    if project is None or not (project / "contacts.yml").is_file():
        return {}, []
    path = project / "contacts.yml"
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise RunbookError(f"{path}: {exc}") from None
    channels = []
    for i, raw in enumerate(data.get("channels") or []):
        if not isinstance(raw, dict) or raw.get("type") not in TYPES or not raw.get("name"):
            raise RunbookError(
                f"{path}: channels[{i}] needs a name and a type (one of {', '.join(TYPES)})"
            )
        for key in SECRET_FIELDS[raw["type"]]:
            value = raw.get(key)
            if value is not None and not (isinstance(value, str) and value.startswith("env:")):
                raise RunbookError(
                    f"{path}: channels[{i}] ({raw['name']}): {key} is a secret; write "
                    f"env:NAME and export NAME, never the value itself"
                )
        channels.append(Channel(raw["name"], raw["type"], raw))
    return data.get("levels") or {}, channels


# -- escaping --------------------------------------------------------------------------------


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


# -- channels --------------------------------------------------------------------------------


def _post(client: httpx.Client, url: str, payload: bytes, headers: dict[str, str]) -> str:
    try:
        response = client.post(url, content=payload, headers=headers)
    except httpx.TimeoutException as exc:
        raise Retryable(f"timed out ({exc.__class__.__name__})") from None
    except httpx.HTTPError as exc:
        raise RunbookError(f"cannot connect: {exc.__class__.__name__}") from None
    if response.status_code >= 500:
        raise Retryable(f"HTTP {response.status_code}")
    if response.status_code >= 400:
        raise RunbookError(f"HTTP {response.status_code}: {response.text[:200]}")
    return f"HTTP {response.status_code}"


def slack_payload(message: Message) -> dict[str, Any]:
    return {"text": f"*{slack_escape(message.subject)}*\n{slack_escape(message.body)}"}


def teams_payload(message: Message) -> dict[str, Any]:
    # A Power Automate "workflow" webhook takes a message with an Adaptive Card attachment.
    return {
        "type": "message",
        "attachments": [
            {
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": None,
                "content": {
                    "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                    "type": "AdaptiveCard",
                    "version": "1.4",
                    # RichTextBlock, not TextBlock: a TextBlock renders Markdown, so a title
                    # such as "[click](https://...)" would arrive as a link.
                    "body": [
                        {
                            "type": "RichTextBlock",
                            "inlines": [
                                {
                                    "type": "TextRun",
                                    "text": teams_text(message.subject),
                                    "weight": "Bolder",
                                    "size": "Medium",
                                }
                            ],
                        },
                        {
                            "type": "RichTextBlock",
                            "inlines": [{"type": "TextRun", "text": teams_text(message.body)}],
                        },
                    ],
                },
            }
        ],
    }


def pagerduty_payload(message: Message, routing_key: str) -> dict[str, Any]:
    incident = message.incident
    payload: dict[str, Any] = {
        "routing_key": routing_key,
        "event_action": message.event_action,
        "dedup_key": f"runbook-incident-{incident['id']}",
    }
    if message.event_action == "trigger":
        payload["payload"] = {
            "summary": (message.subject or incident["title"])[:1024],
            "source": "runbook",
            "severity": SEVERITY.get(incident["priority"], "error"),
            "component": "mase",
            "custom_details": {
                "incident": incident["id"],
                "status": incident["status"],
                "priority": incident["priority"],
                "body": message.body[:4000],
            },
        }
    return payload


def webhook_body(message: Message) -> bytes:
    return json.dumps(
        {
            "incident": {
                k: message.incident.get(k)
                for k in ("id", "title", "priority", "status", "impact", "eta", "level")
            },
            "template": message.template,
            "subject": message.subject,
            "body": message.body,
        },
        sort_keys=True,
    ).encode()


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """HMAC-SHA256 over `timestamp.body`, hex: the X-Runbook-Signature header's value."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def send_smtp(channel: Channel, message: Message, timeout: float) -> str:
    s = channel.settings
    mail = EmailMessage()
    mail["Subject"] = message.subject or message.incident["title"]
    mail["From"] = s["from"]
    mail["To"] = ", ".join(s["to"])
    mail.set_content(message.body)
    mail.add_alternative(
        '<html><body><pre style="font-family:sans-serif">'
        + html.escape(message.body)
        + "</pre></body></html>",
        subtype="html",
    )
    try:
        with smtplib.SMTP(s["host"], int(s.get("port", 587)), timeout=timeout) as smtp:
            if s.get("starttls", True):
                context = ssl.create_default_context()
                if s.get("insecure_tls"):  # a test server's self-signed certificate
                    context.check_hostname = False
                    context.verify_mode = ssl.CERT_NONE
                smtp.starttls(context=context)
            if s.get("username"):
                user = s["username"]
                if isinstance(user, str) and user.startswith("env:"):
                    user = os.environ.get(user[4:], "")
                smtp.login(user, channel.secret("password"))
            smtp.send_message(mail)
    except (TimeoutError, smtplib.SMTPServerDisconnected, ConnectionError) as exc:
        raise Retryable(f"SMTP {exc.__class__.__name__}") from None
    except smtplib.SMTPResponseException as exc:
        if exc.smtp_code >= 500:
            raise RunbookError(f"SMTP {exc.smtp_code}") from None
        raise Retryable(f"SMTP {exc.smtp_code}") from None
    except (smtplib.SMTPException, OSError) as exc:
        raise RunbookError(f"SMTP {exc.__class__.__name__}") from None
    return f"sent to {len(s['to'])} recipient(s)"


def write_status_page(directory: Path, incidents: list[dict[str, Any]], updated_at: str) -> Path:
    """Static HTML any web server can serve: open incidents with status and ETA, recent
    resolved ones. Every text from users is escaped; the file is replaced atomically."""
    open_rows = [i for i in incidents if i["status"] != "resolved"]
    resolved = sorted(
        (i for i in incidents if i["status"] == "resolved"),
        key=lambda i: i.get("resolved_at") or "",
        reverse=True,
    )[:10]
    state = "Some systems are affected" if open_rows else "All systems operational"

    def row(i: dict[str, Any]) -> str:
        cells = [
            f"P{i['priority'][1:]}",
            i["title"],
            i["status"],
            i.get("eta") or "-",
            i.get("resolved_at") or i["opened_at"],
        ]
        return "<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in cells) + "</tr>"

    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Status</title>
<style>body{{font-family:sans-serif;max-width:60em;margin:2em auto}}
.banner{{padding:1em;font-size:1.4em;background:{"#f4a259" if open_rows else "#8fd694"}}}
table{{border-collapse:collapse;width:100%}}td,th{{border-bottom:1px solid #ccc;padding:.4em}}
</style></head><body>
<div class="banner" id="state">{state}</div>
<h2>Open incidents</h2>
<table id="open">
<tr><th>Priority</th><th>Issue</th><th>Status</th><th>ETA</th><th>Since</th></tr>
{"".join(row(i) for i in open_rows) or '<tr><td colspan="5">None</td></tr>'}
</table>
<h2>Recently resolved</h2>
<table id="resolved">
<tr><th>Priority</th><th>Issue</th><th>Status</th><th>ETA</th><th>Resolved</th></tr>
{"".join(row(i) for i in resolved) or '<tr><td colspan="5">None</td></tr>'}
</table>
<p>Updated {html.escape(updated_at)}</p>
</body></html>
"""
    directory.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".index-", suffix=".html")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(page)
    os.chmod(tmp, 0o644)
    target = directory / "index.html"
    os.replace(tmp, target)
    return target


def send(
    channel: Channel,
    message: Message,
    *,
    timeout: float = 10,
    attempts: int = 3,
    wait: float = 0.2,
    all_incidents: Callable[[], list[dict[str, Any]]] | None = None,
    on_attempt: Callable[[Attempt], None] | None = None,
) -> Delivery:
    """One message over one channel: retried on 5xx and timeouts, never raising."""
    delivery = Delivery(channel.name, False)

    def record(number: int, ok: bool, detail: str) -> None:
        attempt = Attempt(channel.name, number, ok, detail)
        delivery.attempts.append(attempt)
        if on_attempt:
            on_attempt(attempt)

    def once() -> str:
        number = len(delivery.attempts) + 1
        try:
            detail = _dispatch(channel, message, timeout, all_incidents)
        except Retryable as exc:
            record(number, False, str(exc))
            raise
        except RunbookError as exc:
            record(number, False, str(exc))
            raise
        record(number, True, detail)
        return detail

    retrying = tenacity.Retrying(
        retry=tenacity.retry_if_exception_type(Retryable),
        stop=tenacity.stop_after_attempt(attempts) | tenacity.stop_after_delay(timeout * attempts),
        wait=tenacity.wait_exponential(multiplier=wait, max=wait * 8),
        reraise=True,
    )
    try:
        retrying(once)
        delivery.ok = True
    except (Retryable, RunbookError) as exc:
        delivery.error = str(exc)
    return delivery


def _dispatch(
    channel: Channel,
    message: Message,
    timeout: float,
    all_incidents: Callable[[], list[dict[str, Any]]] | None,
) -> str:
    if channel.type == "smtp":
        return send_smtp(channel, message, timeout)
    if channel.type == "statuspage":
        incidents = all_incidents() if all_incidents else [message.incident]
        path = write_status_page(
            Path(channel.settings["directory"]),
            incidents,
            time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        )
        return f"wrote {path.name}"
    headers = {"Content-Type": "application/json", "User-Agent": "runbook"}
    with httpx.Client(timeout=timeout, follow_redirects=False) as client:
        if channel.type == "slack":
            body = json.dumps(slack_payload(message)).encode()
            return _post(client, channel.secret("url"), body, headers)
        if channel.type == "teams":
            body = json.dumps(teams_payload(message)).encode()
            return _post(client, channel.secret("url"), body, headers)
        if channel.type == "pagerduty":
            body = json.dumps(pagerduty_payload(message, channel.secret("routing_key"))).encode()
            url = channel.settings.get("url") or PAGERDUTY_URL
            return _post(client, url, body, headers)
        body = webhook_body(message)
        stamp = str(int(time.time()))
        headers["X-Runbook-Timestamp"] = stamp
        headers["X-Runbook-Signature"] = sign(channel.secret("secret"), stamp, body)
        return _post(client, channel.secret("url"), body, headers)
