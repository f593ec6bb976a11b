"""`runbook rollout` on the sandbox, judged on real requests (`sandbox traffic`): a healthy
feature to 100%, a broken one aborted at its first step, a killed driver resumed, and the
hands-on commands. Short windows."""

from __future__ import annotations

import json
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from tests.integration.streamed import Streamed

from runbook.errors import ExitCode
from runbook.sandbox import fleet, load
from runbook.store import Store

FEATURE = "modern_api_client"


def percentages(sandbox, site: str) -> dict[str, Any]:
    node = f"{site}-1"
    out = sandbox.on(
        node,
        "wp",
        "option",
        "get",
        "mase_feature_rollout_percentages",
        "--format=json",
        f"--path=/var/www/{site}/htdocs",
        "--skip-plugins=mase",
        "--allow-root",
    )
    return json.loads(out.stdout) if out.returncode == 0 and out.stdout.strip() else {}


@contextmanager
def traffic(sites: list[str], rate: float = 25) -> Iterator[load.Load]:
    """Real requests in the background for the block's duration."""
    stop = threading.Event()
    sent = load.Load(rate=rate, seconds=600, users=1000)
    thread = threading.Thread(target=load.send, args=(sites, sent), kwargs={"stop": stop})
    thread.start()
    try:
        yield sent
    finally:
        stop.set()
        thread.join(timeout=60)


@pytest.fixture
def off(sandbox, runbook_cli):
    """The sandbox with the feature at 0% and off: where a deploy leaves it."""
    fleet.reset()
    done = runbook_cli(
        "set-rollout", "--feature", FEATURE, "--percent", "0", "--reason", "setup", "--yes"
    )
    assert done.code == 0, done.err
    return sandbox


def events(state_dir, rollout_id: int) -> list[dict[str, Any]]:
    with Store(state_dir / "runbook.sqlite3") as store:
        return store.rollout_events(rollout_id)


def start(*extra: str) -> list[str]:
    return [
        "rollout",
        "start",
        FEATURE,
        "--reason",
        "re-enable after the fix",
        "--analysis",
        "4s",
        "--min-samples",
        "10",
        *extra,
    ]


def test_a_healthy_feature_goes_to_100_percent(off, runbook_cli, state_dir) -> None:
    # --check: the plan and its first write in check mode; nothing written, nothing started.
    checked = runbook_cli(
        *start("--steps", "50,100", "--canary-sites", "beta", "--check", "--json")
    )
    assert checked.code == 0, checked.err
    assert checked.json()["plan"]["waves"] == [["beta"], ["alpha"]]
    assert percentages(off, "beta")[FEATURE] == 0
    assert runbook_cli("rollout", "list", "--json").json() == []
    with traffic(["alpha", "beta"]) as sent:
        result = runbook_cli(*start("--steps", "50,100", "--canary-sites", "beta", "--json"))
    assert result.code == 0, result.err + json.dumps(events(state_dir, 1), default=str)[-3000:]
    assert result.json()["status"] == "completed"
    assert sent.statuses[200] > 100
    assert percentages(off, "alpha")[FEATURE] == 100 == percentages(off, "beta")[FEATURE]
    found = events(state_dir, 1)
    gates = [e for e in found if e["kind"] == "gate"]
    # Canary first at each step: beta 50, alpha 50, beta 100, alpha 100.
    assert [(g["data"]["percent"], list(g["data"]["verdicts"])) for g in gates] == [
        (50, ["beta"]),
        (50, ["alpha"]),
        (100, ["beta"]),
        (100, ["alpha"]),
    ]
    assert all(g["data"]["outcome"] == "pass" for g in gates)
    assert all(g["data"]["evidence"] for g in gates) and all(g["run_id"] for g in gates)
    wrote = [(e["data"]["percent"], e["data"]["sites"]) for e in found if e["kind"] == "wrote"]
    assert len(wrote) == 4 and len(set(map(json.dumps, wrote))) == 4  # each write once
    status = runbook_cli("rollout", "status", "1", "--json").json()
    assert status["status"] == "completed" and status["where"]["phase"] == "done"


def test_a_broken_feature_is_aborted_at_its_first_step(off, runbook_cli, state_dir) -> None:
    off.fault("plugin-rest", "alpha")
    off.fault("plugin-rest", "beta")
    with traffic(["alpha", "beta"], rate=30):
        result = runbook_cli(*start("--steps", "10,100"))
    assert result.code == ExitCode.HEALTH_RED, result.err
    gate = next(e for e in events(state_dir, 1) if e["kind"] == "gate")
    assert gate["data"]["percent"] == 10 and gate["data"]["outcome"] == "abort"
    assert "red" in gate["summary"]
    for site in ("alpha", "beta"):
        assert percentages(off, site)[FEATURE] == 0
    kinds = [e["kind"] for e in events(state_dir, 1)]
    assert "reverted" in kinds and kinds[-1] == "aborted"
    listing = runbook_cli("incident", "list", "--json").json()
    assert len(listing) == 1 and listing[0]["priority"] == "P1"
    flags = runbook_cli("status", "--json").json()["report"]["sites"]["alpha"]["feature_flags"]
    assert flags[FEATURE] is False


def test_killed_mid_window_and_resumed(off, runbook_cli, state_dir) -> None:
    with traffic(["alpha", "beta"]):
        proc = Streamed(*start("--steps", "10,100"))
        proc.wait_for("at 10% on alpha, beta")
        proc.proc.send_signal(signal.SIGKILL)
        proc.finish()
        resumed = runbook_cli("rollout", "resume", "1")
    assert resumed.code == 0, resumed.err
    found = events(state_dir, 1)
    assert [e["data"]["percent"] for e in found if e["kind"] == "wrote"] == [10, 100]
    assert [e["data"]["percent"] for e in found if e["kind"] == "gate"] == [10, 100]
    assert percentages(off, "beta")[FEATURE] == 100


def test_by_hand_pause_promote_abort_and_one_at_a_time(off, runbook_cli, state_dir) -> None:
    proc = Streamed(
        "rollout", "start", FEATURE, "--reason", "slow", "--analysis", "10m", "--steps", "10,100"
    )
    proc.wait_for("at 10% on alpha, beta")
    second = runbook_cli("rollout", "start", FEATURE, "--reason", "again", "--steps", "50,100")
    assert second.code == ExitCode.LOCK_HELD and "rollout 1 of modern_api_client" in second.err
    assert runbook_cli("rollout", "pause", "1", "--reason", "lunch").code == 0
    proc.finish(timeout=60)
    assert proc.returncode == ExitCode.HEALTH_YELLOW
    assert runbook_cli("rollout", "promote", "1", "--reason", "looks fine").code == 0
    proc = Streamed("rollout", "resume", "1")
    proc.wait_for("at 100% on alpha, beta")
    aborted = runbook_cli("rollout", "abort", "1", "--reason", "changed our minds")
    assert aborted.code == ExitCode.HEALTH_RED, aborted.err
    proc.finish(timeout=120)
    assert percentages(off, "alpha")[FEATURE] == 0
    kinds = [e["kind"] for e in events(state_dir, 1)]
    for kind in ("pause", "promote", "promoted", "abort", "reverted", "aborted"):
        assert kind in kinds, kinds
    shown = runbook_cli("rollout", "status", "1", "--json").json()
    assert shown["status"] == "aborted"
    assert any("lunch" in e["summary"] for e in shown["events"])
