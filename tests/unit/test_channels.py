"""Every channel against real local receivers: payload shapes, signatures, retries, escaping,
and no secret anywhere it should not be."""

from __future__ import annotations

import hashlib
import hmac
import json
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest
from aiosmtpd.controller import Controller
from click.testing import CliRunner

from runbook.cli import cli
from runbook.errors import RunbookError
from runbook.incidents import channels
from runbook.incidents.records import Incidents
from runbook.store import Store

HOSTILE = "<!channel> <script>alert(1)</script> & {{ 7*7 }}"
SECRET_URL_TOKEN = "T000/B000/canarysecret42"


class Receiver(BaseHTTPRequestHandler):
    requests: ClassVar[list[dict[str, Any]]] = []
    fail_first: ClassVar[int] = 0
    delay: ClassVar[float] = 0

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Receiver.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
        if Receiver.delay:
            time.sleep(Receiver.delay)
        if Receiver.fail_first > 0:
            Receiver.fail_first -= 1
            self.send_response(503)
            self.end_headers()
            return
        self.send_response(202 if "pagerduty" in self.path else 200)
        self.end_headers()
        self.wfile.write(b'{"status":"success"}')

    def log_message(self, *args: object) -> None:
        pass


class QuietServer(ThreadingHTTPServer):
    """A test receiver whose late writes to a sender that gave up (a timeout test) say
    nothing: a BrokenPipeError printed from its thread landed in the next test's output."""

    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[str]:
    Receiver.requests, Receiver.fail_first, Receiver.delay = [], 0, 0
    httpd = QuietServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(envelope)
        return "250 OK"


@pytest.fixture
def project(tmp_path: Path, receiver: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SLACK_URL", f"{receiver}/slack/{SECRET_URL_TOKEN}")
    monkeypatch.setenv("TEAMS_URL", f"{receiver}/teams/{SECRET_URL_TOKEN}")
    monkeypatch.setenv("HOOK_URL", f"{receiver}/hook")
    monkeypatch.setenv("HOOK_SECRET", "s3cret-hmac-key")
    monkeypatch.setenv("PD_KEY", "routing-key-canary-77")
    (tmp_path / "contacts.yml").write_text(f"""
levels:
  1: {{name: On-call developer, contacts: [{{name: Alice, email: alice@example.com}}]}}
  2: {{name: Lead developer, contacts: [{{name: Bob}}]}}
  3: {{name: CTO, contacts: [{{name: Carol}}]}}
channels:
  - {{name: chat, type: slack, url: "env:SLACK_URL"}}
  - {{name: teams, type: teams, url: "env:TEAMS_URL"}}
  - {{name: hook, type: webhook, url: "env:HOOK_URL", secret: "env:HOOK_SECRET"}}
  - {{name: pager, type: pagerduty, routing_key: "env:PD_KEY", url: "{receiver}/pagerduty"}}
  - {{name: status, type: statuspage, directory: "{tmp_path / "status"}"}}
""")
    return tmp_path


@pytest.fixture
def incident(state_dir: Path) -> int:
    store = Store(state_dir / "runbook.sqlite3")
    i = Incidents(store).open(f"Admin down {HOSTILE}", "P0", impact="all admins")
    store.close()
    return i


def notify(project: Path, incident: int, *extra: str) -> Any:
    return CliRunner().invoke(
        cli,
        [
            "--project",
            str(project),
            "notify",
            "--incident",
            str(incident),
            "--template",
            "p0",
            "--json",
            *extra,
        ],
    )


def by_path(prefix: str) -> list[dict[str, Any]]:
    return [r for r in Receiver.requests if r["path"].startswith(prefix)]


def test_every_channel_delivers_in_its_vendors_shape(
    project: Path, incident: int, state_dir: Path
) -> None:
    result = notify(project, incident)
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert {d["channel"]: d["ok"] for d in out["deliveries"]} == {
        "chat": True,
        "teams": True,
        "hook": True,
        "pager": True,
        "status": True,
    }

    slack = json.loads(by_path("/slack")[0]["body"])
    assert set(slack) == {"text"}
    assert "&lt;!channel&gt;" in slack["text"] and "<!channel>" not in slack["text"]
    assert "&amp;" in slack["text"] and "<script>" not in slack["text"]

    teams = json.loads(by_path("/teams")[0]["body"])
    card = teams["attachments"][0]
    assert teams["type"] == "message"
    assert card["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert card["content"]["type"] == "AdaptiveCard" and card["content"]["version"] == "1.4"
    title, body = (block["inlines"][0]["text"] for block in card["content"]["body"])
    assert title.startswith("[CRITICAL] MASE Production Issue")
    # Plain TextRuns (no Markdown); user braces cannot call the card's DATE()/TIME().
    assert {block["type"] for block in card["content"]["body"]} == {"RichTextBlock"}
    assert "{{" not in title + body and "{\u200b{ 7*7 }}" in title + body

    pager = json.loads(by_path("/pagerduty")[0]["body"])
    assert pager["routing_key"] == "routing-key-canary-77"
    assert pager["event_action"] == "trigger"
    assert pager["dedup_key"] == f"runbook-incident-{incident}"
    assert pager["payload"]["severity"] == "critical"
    assert pager["payload"]["source"] == "runbook" and len(pager["payload"]["summary"]) <= 1024

    hook = by_path("/hook")[0]
    stamp = hook["headers"]["X-Runbook-Timestamp"]
    expected = (
        "sha256="
        + hmac.new(
            b"s3cret-hmac-key", stamp.encode() + b"." + hook["body"], hashlib.sha256
        ).hexdigest()
    )
    assert hmac.compare_digest(hook["headers"]["X-Runbook-Signature"], expected)
    assert json.loads(hook["body"])["incident"]["id"] == incident

    page = (project / "status" / "index.html").read_text()
    # The hostile title is shown, not run: the one script is the page's own (local times).
    assert "&lt;script&gt;" in page and page.count("<script>") == 1
    assert page.split("<script>")[1].startswith("\nfor (const t of document.querySelectorAll")
    assert "Some systems are affected" in page

    # No secret in the output, the run record or the timeline.
    dump = "\n".join(Store(state_dir / "runbook.sqlite3").db.iterdump())
    for secret in (SECRET_URL_TOKEN, "s3cret-hmac-key", "routing-key-canary-77"):
        assert secret not in result.output and secret not in dump


def test_pagerduty_acknowledge_and_resolve(project: Path, incident: int) -> None:
    for action in ("acknowledge", "resolve"):
        assert notify(project, incident, "--channel", "pager", "--action", action).exit_code == 0
    sent = [json.loads(r["body"]) for r in by_path("/pagerduty")]
    assert [s["event_action"] for s in sent] == ["acknowledge", "resolve"]
    assert all(
        "payload" not in s and s["dedup_key"] == f"runbook-incident-{incident}" for s in sent
    )


def test_retries_on_5xx_and_records_each_attempt(
    project: Path, incident: int, state_dir: Path
) -> None:
    Receiver.fail_first = 2
    result = notify(project, incident, "--channel", "chat")
    assert result.exit_code == 0, result.output
    delivery = json.loads(result.output)["deliveries"][0]
    assert [a["ok"] for a in delivery["attempts"]] == [False, False, True]
    assert delivery["attempts"][0]["detail"] == "HTTP 503"
    events = Incidents(Store(state_dir / "runbook.sqlite3")).events(incident)
    notes = [e["summary"] for e in events if e["kind"] == "notification"]
    assert notes == [
        "p0 via chat: attempt 1 failed (HTTP 503)",
        "p0 via chat: attempt 2 failed (HTTP 503)",
        "p0 via chat: attempt 3 delivered (HTTP 200)",
    ]


def test_a_receiver_that_keeps_failing_is_reported_not_raised(project: Path, incident: int) -> None:
    Receiver.fail_first = 99
    result = notify(project, incident, "--channel", "chat")
    assert result.exit_code == 3
    delivery = json.loads(result.output)["deliveries"][0]
    assert not delivery["ok"] and len(delivery["attempts"]) == 3


def test_timeouts_are_bounded_and_retried(project: Path, incident: int, state_dir: Path) -> None:
    Receiver.delay = 1.5
    store = Store(state_dir / "runbook.sqlite3")
    from runbook.incidents.notify import notify as send

    out = send(store, project, incident, "p0", ("hook",), timeout=0.5)
    delivery = out["deliveries"][0]
    assert not delivery["ok"]
    assert delivery["attempts"][0]["detail"].startswith("timed out")
    assert len(delivery["attempts"]) == 3


def test_dry_run_sends_nothing(project: Path, incident: int) -> None:
    result = notify(project, incident, "--dry-run")
    assert result.exit_code == 0
    assert json.loads(result.output)["deliveries"] == [] and Receiver.requests == []


def test_secrets_only_by_reference(tmp_path: Path) -> None:
    (tmp_path / "contacts.yml").write_text(
        "channels:\n  - {name: chat, type: slack, url: 'https://hooks.slack.com/x/y'}\n"
    )
    with pytest.raises(RunbookError, match="url is a secret; write env:NAME"):
        channels.load(tmp_path)
    (tmp_path / "contacts.yml").write_text(
        "channels:\n  - {name: chat, type: slack, url: 'env:NOT_SET_ANYWHERE'}\n"
    )
    _, [chat] = channels.load(tmp_path)
    with pytest.raises(RunbookError, match=r"\$NOT_SET_ANYWHERE \(its url\) is not set"):
        chat.secret("url")


@pytest.fixture
def smtp_server(tmp_path: Path) -> Iterator[tuple[Mailbox, int]]:
    import ssl

    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(cert), str(key))
    mailbox = Mailbox()

    def authenticator(
        server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> Any:
        from aiosmtpd.smtp import AuthResult

        ok = auth_data.login == b"runbook" and auth_data.password == b"mail-pass-canary"
        return AuthResult(success=ok)

    import socket

    with socket.socket() as probe:  # a free port: aiosmtpd checks readiness by connecting
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(
        mailbox,
        hostname="127.0.0.1",
        port=port,
        tls_context=context,
        require_starttls=True,
        authenticator=authenticator,
        auth_require_tls=True,
    )
    controller.start()
    yield mailbox, port
    controller.stop()


def test_smtp_with_starttls_and_auth(
    smtp_server: tuple[Mailbox, int],
    tmp_path: Path,
    incident: int,
    state_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    mailbox, port = smtp_server
    monkeypatch.setenv("MAIL_PASS", "mail-pass-canary")
    (tmp_path / "contacts.yml").write_text(f"""
channels:
  - name: mail
    type: smtp
    host: 127.0.0.1
    port: {port}
    starttls: true
    insecure_tls: true
    username: runbook
    password: "env:MAIL_PASS"
    from: runbook@example.com
    to: [oncall@example.com]
""")
    result = notify(tmp_path, incident)
    assert result.exit_code == 0, result.output
    [envelope] = mailbox.messages
    assert envelope.rcpt_tos == ["oncall@example.com"]
    text = envelope.content.decode()
    assert "Subject: [CRITICAL] MASE Production Issue" in text
    assert "&lt;script&gt;" in text  # the HTML part escapes user text
    assert "mail-pass-canary" not in result.output


def test_a_channel_missing_a_field_is_a_configuration_error(tmp_path: Path) -> None:
    """Checked when contacts.yml loads, naming the channel and the field (send() used to
    raise KeyError('from') and the timeline said only "KeyError")."""
    (tmp_path / "contacts.yml").write_text(
        "channels:\n  - {name: mail, type: smtp, host: 127.0.0.1, to: [a@example.com]}\n"
    )
    with pytest.raises(RunbookError, match=r"channels\[0\] \(mail, smtp\): from is required"):
        channels.load(tmp_path)
    (tmp_path / "contacts.yml").write_text(
        "channels:\n  - {name: hook, type: webhook, url: 'env:HOOK_URL'}\n"
    )
    with pytest.raises(RunbookError, match=r"\(hook, webhook\): secret is required"):
        channels.load(tmp_path)


def test_send_never_raises_and_never_leaks(monkeypatch: pytest.MonkeyPatch) -> None:
    class Broken(channels.Channel):
        kind = "broken"

        def deliver(self, message: Any, sending: Any) -> str:
            raise ValueError("token=canary-secret-99")

    incident = {"id": 1, "title": "t", "priority": "P0", "status": "investigating"}
    delivery = channels.send(
        Broken("b", {}), channels.Message("s", "b", incident, "p0"), attempts=1
    )
    assert not delivery.ok
    assert delivery.error == "internal error in the broken channel: ValueError"
    assert "canary" not in str(delivery)


def test_a_new_channel_is_one_registry_line() -> None:
    assert set(channels.REGISTRY) == {
        "slack",
        "teams",
        "smtp",
        "pagerduty",
        "webhook",
        "statuspage",
    }
    for kind, cls in channels.REGISTRY.items():
        assert cls.kind == kind and issubclass(cls, channels.Channel)


class Trickle(BaseHTTPRequestHandler):
    """A receiver that answers one header line every 0.3 s, for a minute: never a timeout
    between two reads, never an answer."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        self.wfile.write(b"HTTP/1.1 200 OK\r\n")
        for n in range(200):
            try:
                self.wfile.write(f"X-Slow-{n}: 1\r\n".encode())
                self.wfile.flush()
            except OSError:
                return
            time.sleep(0.3)

    def log_message(self, *args: object) -> None:
        pass


class Moved(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(302)
        self.send_header("Location", "http://127.0.0.1:9/elsewhere")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def serve(handler: type[BaseHTTPRequestHandler]) -> tuple[ThreadingHTTPServer, str]:
    httpd = QuietServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd, f"http://127.0.0.1:{httpd.server_address[1]}/hook"


INCIDENT = {"id": 1, "title": "t", "priority": "P0", "status": "investigating"}


@pytest.mark.timeout(60)
def test_a_slow_receiver_cannot_hold_the_sender(monkeypatch: pytest.MonkeyPatch) -> None:
    """One header line every 2 s kept notify (and a p0-rollback that notified) running past
    150 s with no exit code: each attempt is now bounded as a whole, and all by a deadline."""
    httpd, url = serve(Trickle)
    monkeypatch.setenv("SLOW_URL", url)
    chat = channels.REGISTRY["slack"]("chat", {"url": "env:SLOW_URL"})
    delivery = channels.send(
        chat, channels.Message("s", "b", INCIDENT, "p0"), timeout=0.5, attempts=2, wait=0.05
    )
    assert not delivery.ok
    assert [a.detail for a in delivery.attempts] == ["timed out: no answer within 0.5 s"] * 2
    delivery = channels.send(
        chat,
        channels.Message("s", "b", INCIDENT, "p0"),
        timeout=5,
        attempts=3,
        deadline=time.monotonic() + 0.5,
    )
    assert not delivery.ok and delivery.attempts[0].detail.startswith("timed out")
    httpd.shutdown()


def test_a_redirect_is_not_a_delivery(monkeypatch: pytest.MonkeyPatch) -> None:
    httpd, url = serve(Moved)
    monkeypatch.setenv("MOVED_URL", url)
    hook = channels.REGISTRY["slack"]("chat", {"url": "env:MOVED_URL"})
    delivery = channels.send(hook, channels.Message("s", "b", INCIDENT, "p0"), attempts=1)
    assert not delivery.ok
    assert delivery.error == "HTTP 302: a redirect, not a delivery"
    httpd.shutdown()
