from __future__ import annotations

from runbook.errors import ExitCode
from runbook.events import RunModel
from runbook.execution import exit_code_for


def ev(kind: str, host: str | None = None, **data: object) -> dict[str, object]:
    event_data: dict[str, object] = dict(data)
    if host:
        event_data["host"] = host
    return {"event": kind, "event_data": event_data}


def model_with(*events: dict[str, object]) -> RunModel:
    model = RunModel.for_hosts({"a-1": "a", "a-2": "a", "b-1": "b"})
    for e in events:
        model.handle(e)
    return model


def test_outcomes_from_results() -> None:
    model = model_with(
        ev("playbook_on_task_start", name="Do it"),
        ev("runner_on_start", "a-1", task="Do it"),
        ev("runner_on_ok", "a-1", task="Do it", res={"changed": True}),
        ev("runner_on_failed", "a-2", task="Do it", res={"msg": "boom"}),
        ev("runner_on_unreachable", "b-1", task="Do it", res={"msg": "no route"}),
    )
    assert model.hosts["a-1"].outcome == "changed"
    assert model.hosts["a-2"].outcome == "failed"
    assert model.hosts["a-2"].message == "boom"
    assert model.hosts["a-2"].failed_task == "Do it"
    assert model.hosts["b-1"].outcome == "unreachable"
    assert model.counts()["failed"] == 1


def test_ignored_failure_is_not_a_failure() -> None:
    model = model_with(ev("runner_on_failed", "a-1", task="t", ignore_errors=True, res={}))
    assert model.hosts["a-1"].outcome == "ok"


def test_hosts_never_reached_are_not_run() -> None:
    model = model_with(ev("runner_on_ok", "a-1", task="t", res={}))
    assert model.hosts["a-2"].outcome == "not-run"


def test_stats_are_authoritative() -> None:
    model = model_with(
        ev("runner_on_ok", "a-1", task="t", res={}),
        ev(
            "playbook_on_stats",
            ok={"a-1": 4, "a-2": 2},
            changed={"a-2": 1},
            failures={},
            dark={"b-1": 1},
            skipped={},
        ),
    )
    assert model.hosts["a-1"].ok == 4
    assert model.hosts["a-2"].outcome == "changed"
    assert model.hosts["b-1"].outcome == "unreachable"


def test_reports_fold_into_node_and_site() -> None:
    model = model_with(
        ev("runner_on_ok", "a-1", task="t", res={"runbook_report": {"node": {"v": "1"}}}),
        ev(
            "runner_on_ok",
            "a-1",
            task="t",
            res={"runbook_report": {"site": {"options": {"f": True}}}},
        ),
        ev(
            "runner_on_failed",
            "b-1",
            task="t",
            res={"msg": "db down", "runbook_report": {"site": {"errors": ["db down"]}}},
        ),
    )
    assert model.hosts["a-1"].report == {"v": "1"}
    assert model.site_reports["a"] == {"options": {"f": True}}
    assert model.site_reports["b"] == {"errors": ["db down"]}


def test_a_looped_tasks_items_report_and_two_options_changed_are_both_kept() -> None:
    """feature_flags writes the flags and the percentages in one looped task: its reports
    come in `results`, and the second option's change replaced the first's in the record."""

    def changed(option: str) -> dict[str, object]:
        return {"runbook_report": {"site": {"options_changed": {option: {"after": {}}}}}}

    model = model_with(
        ev("runner_on_ok", "a-1", task="t", res={"results": [changed("flags"), changed("pct")]}),
    )
    assert set(model.site_reports["a"]["options_changed"]) == {"flags", "pct"}


def test_exit_codes_follow_hosts_not_rc() -> None:
    ok = model_with(*(ev("runner_on_ok", h, task="t", res={}) for h in ("a-1", "a-2", "b-1")))
    assert exit_code_for(ok, "successful", False) == ("successful", ExitCode.OK)
    failed = model_with(ev("runner_on_failed", "a-1", task="t", res={}))
    assert exit_code_for(failed, "failed", False)[1] == ExitCode.HOSTS_FAILED
    dark = model_with(
        ev("runner_on_unreachable", "a-1", task="t", res={}),
        ev("runner_on_failed", "a-2", task="t", res={}),
    )
    assert exit_code_for(dark, "failed", False)[1] == ExitCode.HOSTS_UNREACHABLE
    verify = model_with(ev("runner_on_failed", "a-1", task="Verify the plugin", res={}))
    assert exit_code_for(verify, "failed", False)[1] == ExitCode.VERIFICATION_FAILED
    locked = model_with(ev("runner_on_failed", "a-1", task="t", res={"lock_held": True}))
    assert exit_code_for(locked, "failed", False)[1] == ExitCode.LOCK_HELD
    assert exit_code_for(ok, "canceled", True) == ("interrupted", ExitCode.INTERRUPTED)
    # ansible-playbook failed before any host did: a playbook or inventory error.
    nothing = model_with()
    assert exit_code_for(nothing, "failed", False) == ("error", ExitCode.USAGE)
    assert exit_code_for(nothing, "successful", False) == ("error", ExitCode.USAGE)


def test_a_play_over_an_empty_group_is_no_error_when_hosts_ran() -> None:
    """lock.yml's plays over its own groups match no host on a healthy fleet: the run came out
    an error ("no hosts matched") though every host rolled back."""
    ran = model_with(
        ev("runner_on_ok", "a-1", task="t", res={}),
        {"event": "playbook_on_no_hosts_matched", "event_data": {}},
    )
    assert exit_code_for(ran, "successful", False) == ("successful", ExitCode.OK)
    nothing = model_with({"event": "playbook_on_no_hosts_matched", "event_data": {}})
    assert exit_code_for(nothing, "successful", False) == ("error", ExitCode.USAGE)


def test_a_restore_failing_in_the_smoke_tests_call_is_no_verification_failure() -> None:
    """p0-rollback restores in the smoke test's call (a task named Verify): a backup that
    cannot be restored there is a failed host (3), not a failed check (5)."""

    def failed_in_verify(res: dict[str, object]) -> RunModel:
        task = "Verify the node (login page, REST index, plugin version, no new fatal)"
        return model_with(ev("runner_on_failed", "a-1", task=task, res=res))

    restore = failed_in_verify(
        {"msg": "restore of mase from /b failed: no backup", "verification_failed": False}
    )
    assert not restore.hosts["a-1"].verification_failed
    assert exit_code_for(restore, "failed", False)[1] == ExitCode.HOSTS_FAILED
    check = failed_in_verify(
        {"msg": "verification failed: GET /wp-login.php", "verification_failed": True}
    )
    assert exit_code_for(check, "failed", False)[1] == ExitCode.VERIFICATION_FAILED
