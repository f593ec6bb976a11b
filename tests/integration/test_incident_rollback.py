"""A real p0-rollback on the sandbox with an incident: the review's timeline holds its events."""

from __future__ import annotations

from runbook.sandbox import fleet


def test_review_timeline_holds_the_rollbacks_real_events(sandbox, runbook_cli) -> None:
    fleet.reset()
    opened = runbook_cli(
        "incident",
        "open",
        "--title",
        "Admin crashes after mase 2.1.0",
        "--priority",
        "auto",
        "--json",
    )
    assert opened.code == 0, opened.err
    incident = opened.json()
    assert incident["priority"] == "P0"
    i = str(incident["id"])
    assert runbook_cli("incident", "ack", i).code == 0
    rollback = runbook_cli(
        "p0-rollback", "--incident", i, "--reason", "P0: admin crashes", "--yes", "--json"
    )
    assert rollback.code == 0, rollback.err
    run_id = rollback.json()["run_id"]
    assert rollback.json()["incident"] == incident["id"]
    assert runbook_cli("incident", "update", i, "--status", "monitoring").code == 0
    assert (
        runbook_cli(
            "incident",
            "resolve",
            i,
            "--root-cause",
            "undefined function",
            "--resolution",
            "rolled back to 2.0.1",
        ).code
        == 0
    )
    timeline = runbook_cli("incident", "timeline", i, "--json").json()
    summaries = [e["summary"] for e in timeline]
    assert f"p0-rollback started (run {run_id})" in summaries
    assert "p0-rollback ended: successful (exit 0)" in summaries
    for host in ("alpha-1", "alpha-2", "beta-1"):
        assert any(
            s.startswith(f"{host}: changed, plugin 2.1.0 -> 2.0.1 from mase-backup-")
            for s in summaries
        ), summaries
    assert any(
        s.startswith("alpha: mase_feature_flags") and '"legacy_fallback": true' in s
        for s in summaries
    )
    times = [e["at"] for e in timeline]
    assert times == sorted(times)
    review = runbook_cli("incident", "review", i)
    assert review.code == 0
    assert f"`p0-rollback` run {run_id}: successful (exit 0)" in review.out
    assert "beta-1: changed, plugin 2.1.0 -> 2.0.1" in review.out
    assert "## Root Cause\nundefined function" in review.out


def test_a_p0_run_without_an_incident_opens_one(sandbox, runbook_cli) -> None:
    fleet.reset()
    result = runbook_cli("p0-rollback", "--reason", "P0: nobody opened one", "--yes", "--json")
    assert result.code == 0, result.err
    assert "opened P0 incident" in result.err
    incident = result.json()["incident"]
    shown = runbook_cli("incident", "show", str(incident), "--json").json()
    assert shown["title"] == "P0: nobody opened one" and shown["priority"] == "P0"
    assert [r["run_id"] for r in shown["runs"]] == [result.json()["run_id"]]
