"""`runbook monitor` on the sandbox: real scans, a real automatic rollback of one site, the
loop protection, the lease. Short intervals; `sandbox reset` before each test."""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pytest
from tests.integration.streamed import Streamed
from tests.integration.test_rollback import digest, flags, plugin_tree, version
from tests.unit.test_status_page import CHROMIUM, chromium

from runbook.errors import ExitCode
from runbook.sandbox import fleet
from runbook.store import Store


class Hook(BaseHTTPRequestHandler):
    received: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Hook.received.append(json.loads(body))
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Path]:
    """A project whose notices go to a webhook receiver this test runs."""
    Hook.received = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    (tmp_path / "contacts.yml").write_text(
        "channels:\n  - {name: hook, type: slack, url: 'env:MONITOR_TEST_HOOK'}\n"
    )
    os.environ["MONITOR_TEST_HOOK"] = f"http://127.0.0.1:{httpd.server_address[1]}/"
    yield tmp_path
    os.environ.pop("MONITOR_TEST_HOOK", None)
    httpd.shutdown()


@pytest.fixture
def green(sandbox, runbook_cli):
    fleet.reset()
    for node in ("alpha-1", "alpha-2", "beta-1"):
        sandbox.fault("traffic-green", node)
    baseline = runbook_cli("health", "baseline", "--since", "5m")
    assert baseline.code == 0, baseline.err
    return sandbox


def lines(out: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def events(state_dir: Path, kind: str | None = None) -> list[dict[str, Any]]:
    with Store(state_dir / "runbook.sqlite3") as store:
        found = store.monitor_events()
    return [e for e in found if kind is None or e["kind"] == kind]


def rollbacks(state_dir: Path) -> list[dict[str, Any]]:
    with Store(state_dir / "runbook.sqlite3") as store:
        return store.runs(100, "p0-rollback")


def snapshot(sandbox) -> tuple[dict, str, str]:
    """alpha as a user would check it: its flags, plugin version and files."""
    return (
        flags(sandbox, "alpha"),
        version(sandbox, "alpha-1"),
        digest(plugin_tree(sandbox, "alpha-1")),
    )


def test_a_healthy_fleet_is_watched_and_nothing_is_done(green, runbook_cli, state_dir) -> None:
    before = snapshot(green)
    result = runbook_cli("monitor", "--interval", "1s", "--cycles", "3", "--json")
    assert result.code == 0, result.err
    cycles = lines(result.out)
    assert len(cycles) == 3
    first = cycles[0]
    assert first["verdict"] == "green"
    # The first cycle read the window: samples are counted, per host.
    api = [r for r in first["sites"]["beta"]["table"] if r["metric"] == "api_errors"]
    assert api[0]["samples"] > 0
    # Later cycles read only what is new: nothing, so too little to judge.
    assert {c["sites"]["alpha"]["verdict"] for c in cycles[1:]} <= {"inconclusive", "green"}
    assert not any(c["actions"] for c in cycles)
    assert rollbacks(state_dir) == [] and snapshot(green) == before
    with Store(state_dir / "runbook.sqlite3") as store:
        stored = store.cycles()
    assert len(stored) == 3 and "metrics" in stored[0]["sites"]["alpha"]
    plain = runbook_cli("monitor", "--once")
    assert plain.code in (ExitCode.OK, ExitCode.HEALTH_INCONCLUSIVE), plain.err
    assert "cycle 4" in plain.out and "alpha" in plain.out


def test_a_sick_site_is_rolled_back_once_and_verified(
    green, runbook_cli, state_dir, project
) -> None:
    alpha = snapshot(green)
    green.fault("plugin-rest", "beta")
    green.fault("traffic-red", "beta-1")
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "runbook",
            "--project",
            str(project),
            "monitor",
            "--interval",
            "2s",
            "--json",
            "--metrics-port",
            str(port),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    try:
        seen = []
        for line in proc.stdout:
            doc = json.loads(line)
            seen.append(doc)
            if doc["actions"]:
                # The site is well again: new traffic is clean.
                for node in ("beta-1", "alpha-1", "alpha-2"):
                    green.fault("traffic-green", node)
            if any(d["sites"]["beta"]["plan"]["verified"] for d in seen) or len(seen) > 8:
                break
            if len(seen) > 2 and seen[-1]["sites"]["beta"]["verdict"] != "green":
                green.fault("traffic-green", "beta-1")
        exported = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    acted = [a for d in seen for a in d["actions"]]
    assert len(acted) == 1, err
    assert acted[0]["site"] == "beta" and acted[0]["status"] == "successful"
    assert any(d["sites"]["beta"]["plan"]["verified"] for d in seen), err
    # beta rolled back; alpha untouched: flags, version, files.
    assert version(green, "beta-1") == "2.0.1"
    assert flags(green, "beta")["legacy_fallback"] is True
    assert snapshot(green) == alpha
    # One incident, the decision on its timeline, the notices received.
    runs = rollbacks(state_dir)
    assert len(runs) == 1 and runs[0]["host_limit"] == "beta-1"
    assert runs[0]["reason"].startswith("auto: ") and "critical_errors_last_5m" in runs[0]["reason"]
    incident = acted[0]["incident_id"]
    timeline = runbook_cli("incident", "timeline", str(incident), "--json").json()
    assert any(e["kind"] == "monitor" and "p0-rollback beta" in e["summary"] for e in timeline)
    assert any(e["summary"].startswith("p0-rollback ended: successful") for e in timeline)
    listing = runbook_cli("incident", "list", "--json").json()
    assert len(listing) == 1
    assert Hook.received, err
    # Its own metrics: the automatic action by trigger, the verdicts, the cycles.
    actions = [x for x in exported.splitlines() if x.startswith("runbook_monitor_automatic_")]
    assert any(
        'site="beta"' in x and 'trigger="critical_errors_last_5m"' in x and x.endswith(" 1.0")
        for x in actions
    ), exported
    assert 'runbook_monitor_site_verdict{site="alpha",verdict="red"} 0.0' in exported
    assert "runbook_monitor_cycles_total" in exported
    status = runbook_cli("monitor", "status", "--json").json()
    assert status["monitors"][0]["running"] is False
    assert status["monitors"][0]["sites"]["beta"]["incident_id"] == incident
    # The report of it, in a real browser: the figures in the DOM, and a screenshot.
    page = project / "report.html"
    made = runbook_cli("report", "--since", "1h", "--format", "html", "-o", str(page))
    assert made.code == 0, made.err
    if CHROMIUM:
        dom = chromium(project, "--dump-dom", page.as_uri())
        assert dom.count("<figure") == 2 and dom.count("<svg") >= 2
        beta = dom.split('id="site-beta"')[1].split("</section>")[0]
        assert '<td class="bad">not met</td>' in beta and "error rate (%)" in beta
        assert "p0-rollback on beta: successful" in dom.split('id="events"')[1]
        shot = project / "report.png"
        chromium(project, f"--screenshot={shot}", "--window-size=1000,1600", page.as_uri())
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_dry_run_records_would_and_changes_nothing(green, runbook_cli, state_dir) -> None:
    alpha = snapshot(green)
    beta = digest(plugin_tree(green, "beta-1"))
    green.fault("plugin-rest", "beta")
    green.fault("traffic-red", "beta-1")
    result = runbook_cli("monitor", "--dry-run", "--once", "--json")
    assert result.code == ExitCode.HEALTH_RED, result.err
    doc = lines(result.out)[0]
    assert doc["sites"]["beta"]["plan"]["would"] is True and doc["actions"] == []
    assert "would p0-rollback beta" in result.err
    assert [e["kind"] for e in events(state_dir, "would")] == ["would"]
    assert rollbacks(state_dir) == []
    assert digest(plugin_tree(green, "beta-1")) == beta and snapshot(green) == alpha


def test_the_breaker_trips_when_the_site_stays_red(green, runbook_cli, state_dir, tmp_path) -> None:
    policy = tmp_path / "policy.yml"
    policy.write_text("cooldown: 1s\nverification: 1h\nbreaker: {actions: 1, within: 1h}\n")
    green.fault("plugin-rest", "beta")
    green.fault("traffic-red", "beta-1")
    first = runbook_cli("monitor", "--policy", str(policy), "--once")
    assert first.code == ExitCode.HEALTH_RED, first.err
    assert len(rollbacks(state_dir)) == 1
    # The fault holds: the site is red again after the rollback.
    green.fault("traffic-red", "beta-1")
    time.sleep(1.5)
    second = runbook_cli("monitor", "--policy", str(policy), "--once")
    assert "circuit breaker tripped" in second.err, second.err
    assert len(rollbacks(state_dir)) == 1
    incident = events(state_dir, "escalated")[0]["incident_id"]
    shown = runbook_cli("incident", "show", str(incident), "--json").json()
    assert shown["level"] == 2
    green.fault("traffic-red", "beta-1")
    third = runbook_cli("monitor", "--policy", str(policy), "--once")
    assert "circuit breaker open" in third.err and len(rollbacks(state_dir)) == 1
    reset = runbook_cli("monitor", "reset-breaker", "beta", "--reason", "fixed upstream")
    assert reset.code == 0, reset.err
    assert events(state_dir, "breaker-reset")


def test_one_monitor_per_fleet_and_a_stale_lease_is_taken_over(
    green, runbook_cli, state_dir
) -> None:
    green.fault("plugin-rest", "beta")
    green.fault("traffic-red", "beta-1")
    proc = subprocess.Popen(
        [sys.executable, "-m", "runbook", "monitor", "--interval", "2s", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdout is not None
    try:
        first = json.loads(proc.stdout.readline())  # its first cycle, and its action, done
        assert [a["site"] for a in first["actions"]] == ["beta"]
        second = runbook_cli("monitor", "--once")
        assert second.code == ExitCode.LOCK_HELD, second.err
        assert "a monitor already watches" in second.err and f"pid {proc.pid}" in second.err
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    green.fault("traffic-red", "beta-1")  # still red: the new monitor must not act again
    took = runbook_cli("monitor", "--once", "--stale-after", "3s")
    assert took.code != ExitCode.LOCK_HELD, took.err
    assert "took over the monitor lease" in took.err
    assert events(state_dir, "takeover")
    assert len(rollbacks(state_dir)) == 1, took.err
    assert "held back: cooldown" in took.err


def test_sigterm_during_an_automatic_rollback_never_doubles(green, runbook_cli, state_dir) -> None:
    green.fault("plugin-rest", "beta")
    green.fault("traffic-red", "beta-1")
    proc = Streamed("monitor", "--interval", "2s")
    proc.wait_for("running p0-rollback on beta")
    time.sleep(1.0)
    proc.send_signal(signal.SIGTERM)
    out = proc.finish()
    assert proc.returncode == 0, out
    runs = rollbacks(state_dir)
    assert len(runs) == 1 and runs[0]["status"] in ("interrupted", "successful"), out
    # The rollback's own interrupt handling: the plugin tree is one whole version.
    tree = plugin_tree(green, "beta-1")
    assert version(green, "beta-1") in ("2.0.1", "2.1.0")
    assert sorted(p.name for p in tree.parent.iterdir()) == ["mase"]
    # Restarted: it carries on from the stored state and does not act twice.
    green.fault("traffic-red", "beta-1")
    again = runbook_cli("monitor", "--once")
    assert again.code != ExitCode.LOCK_HELD, again.err
    assert len(rollbacks(state_dir)) == 1, again.err
    assert "held back" in again.err or "circuit breaker" in again.err, again.err


def test_the_systemd_unit_runs_and_reports_to_systemd(green, state_dir, tmp_path) -> None:
    """The unit's own command line, with a NOTIFY_SOCKET as systemd gives it: READY, the
    watchdog's pings while the loop lives, STOPPING on SIGTERM, exit 0."""
    unit = (Path(__file__).parents[2] / "contrib/systemd/runbook-monitor.service").read_text()
    for line in ("Type=notify", "WatchdogSec=", "Restart=on-failure", "KillSignal=SIGTERM"):
        assert line in unit
    exec_start = next(x.split("=", 1)[1] for x in unit.splitlines() if x.startswith("ExecStart="))
    argv = [a for a in shlex.split(exec_start) if not a.startswith("$")]
    assert argv[0] == "/usr/local/bin/runbook" and argv[1] == "monitor"
    address = tmp_path / "notify"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(str(address))
        sock.settimeout(60)
        proc = subprocess.Popen(
            [sys.executable, "-m", "runbook", *argv[1:]],
            env={**os.environ, "NOTIFY_SOCKET": str(address)},
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            said = [sock.recv(4096).decode()]
            while not any(m.startswith("WATCHDOG=1") for m in said):
                said.append(sock.recv(4096).decode())
        finally:
            proc.send_signal(signal.SIGTERM)
            out, err = proc.communicate(timeout=120)
        sock.settimeout(2)
        with contextlib.suppress(TimeoutError):
            while True:
                said.append(sock.recv(4096).decode())
    assert proc.returncode == 0, err
    assert said[0].startswith("READY=1"), said
    assert any(m.startswith("STATUS=cycle") for m in said), said
    assert said[-1] == "STOPPING=1", said
    assert "cycle" in out


def test_flag_first_then_the_whole_rollback(green, runbook_cli, state_dir, tmp_path) -> None:
    """A feature's error rate over 5% turns that flag off on that site only; still red after
    the verification window, the site gets the p0-rollback."""
    metrics = tmp_path / "metrics.json"
    metrics.write_text(
        json.dumps(
            {"beta": {"features": {"modern_preview_engine": {"error_rate": 12.0, "samples": 400}}}}
        )
    )
    policy = tmp_path / "policy.yml"
    policy.write_text(
        "verification: 1s\ntriggers:\n  error_rate_over_5_percent: {action: p1-disable-feature}\n"
    )
    alpha, beta_flags = snapshot(green), flags(green, "beta")
    args = ("monitor", "--once", "--metrics", str(metrics), "--policy", str(policy))
    first = runbook_cli(*args)
    assert "running p1-disable-feature on beta" in first.err, first.err
    after = flags(green, "beta")
    assert after["modern_preview_engine"] is False
    assert {k: v for k, v in after.items() if k != "modern_preview_engine"} == {
        k: v for k, v in beta_flags.items() if k != "modern_preview_engine"
    }
    assert snapshot(green) == alpha and rollbacks(state_dir) == []
    time.sleep(1.5)
    second = runbook_cli(*args)
    assert "did not bring beta back to green" in second.err, second.err
    assert "running p0-rollback on beta" in second.err
    assert len(rollbacks(state_dir)) == 1 and version(green, "beta-1") == "2.0.1"
    assert snapshot(green) == alpha
    shown = runbook_cli("runs", "show", "last").out
    assert "p0-rollback" in shown


def test_the_fleet_wide_brake_pages_instead_of_rolling_back(green, runbook_cli, state_dir) -> None:
    for site, node in (("alpha", "alpha-1"), ("beta", "beta-1")):
        green.fault("plugin-rest", site)
        green.fault("traffic-red", node)
    result = runbook_cli("monitor", "--once", "--json")
    assert result.code == ExitCode.HEALTH_RED, result.err
    doc = lines(result.out)[0]
    assert doc["brake"] and "2 of 2 sites red" in doc["brake"]
    assert doc["actions"] == [] and rollbacks(state_dir) == []
    assert {e["site"] for e in events(state_dir, "held")} == {"alpha", "beta"}
    assert events(state_dir, "paged")
    # The cycle's run shows what the monitor decided on it.
    shown = runbook_cli("runs", "show", doc["scan_run_id"], "--json").json()
    assert {(e["site"], e["kind"], e["summary"]) for e in shown["monitor"]} == {
        ("alpha", "held", "p0-rollback on alpha held back: fleet-wide brake"),
        ("beta", "held", "p0-rollback on beta held back: fleet-wide brake"),
    }


def test_a_manual_trigger_pages_and_acts_on_nothing(green, runbook_cli, state_dir) -> None:
    declared = runbook_cli("health", "declare", "security", "--reason", "a token leaked")
    assert declared.code == 0, declared.err
    result = runbook_cli("monitor", "--once", "--json")
    doc = lines(result.out)[0]
    assert [r["rule"] for r in doc["manual"]] == ["manual:security"]
    assert doc["actions"] == [] and rollbacks(state_dir) == []
    notified = events(state_dir, "notify")
    assert len(notified) == 1 and "a token leaked" in notified[0]["summary"]
    listing = runbook_cli("incident", "list", "--json").json()
    assert [i["title"] for i in listing] == ["monitor: manual:security declared"]
    # Seen once: the next cycle does not page again.
    runbook_cli("monitor", "--once")
    assert len(events(state_dir, "notify")) == 1


def test_sigterm_during_a_cycles_scan_stops_the_monitor(green, runbook_cli) -> None:
    """Back to back cycles: the signal lands while Ansible scans, and the run's own handler
    takes it. The monitor must stop all the same (it went on cycling forever)."""
    proc = Streamed("monitor", "--interval", "0s")
    proc.wait_for("cycle")
    time.sleep(0.5)
    proc.send_signal(signal.SIGTERM)
    out = proc.finish(timeout=90)
    assert proc.returncode in (0, ExitCode.INTERRUPTED), out
    assert "stopping" in out
    status = runbook_cli("monitor", "status", "--json").json()
    assert status["monitors"][0]["running"] is False
