from __future__ import annotations

import os

import pytest
import yaml

from runbook import execution


def test_strings_are_marked_unsafe_everywhere() -> None:
    marked = execution.mark_unsafe({"reason": "{{ x }}", "nested": {"l": ["{{ y }}", 3, True]}})
    text = yaml.dump(marked, Dumper=execution._VarsDumper)
    assert text.count("!unsafe") == 2  # both templates; keys are never templated
    assert "'{{ x }}'" in text
    assert "3" in text and "true" in text


def test_ansible_env_is_an_allow_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "canary")
    monkeypatch.setenv("HOME", "/home/ops")
    env = execution.ansible_env()
    assert "AWS_SECRET_ACCESS_KEY" not in env
    assert env["HOME"] == "/home/ops"
    assert env["ANSIBLE_HOST_KEY_CHECKING"] == "True"
    assert "canary" not in repr(env)


def test_only_environment_restores_the_operators(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SECRET_X", "1")
    with execution.only_environment({"PATH": "/bin"}):
        assert dict(os.environ) == {"PATH": "/bin"}
    assert os.environ["SECRET_X"] == "1"


def test_run_ids_sort_by_time_and_are_unique() -> None:
    ids = {execution.new_run_id() for _ in range(50)}
    assert len(ids) == 50
    assert all(len(i) == len("20261127T141500Z-3f9a1c") for i in ids)


def test_interrupts_first_waits_for_task_boundary() -> None:
    warnings: list[str] = []
    interrupts = execution.Interrupts(warnings.append)
    from runbook.events import RunModel

    interrupts.model = RunModel(tasks_started=3)
    assert not interrupts.cancel()
    interrupts._handler(2, None)
    assert "stopping after the current task" in warnings[0]
    assert not interrupts.cancel()  # the current task is still running
    interrupts.model.tasks_started = 4  # the next task began: stop now
    assert interrupts.cancel()


def test_interrupts_twice_cancels_at_once() -> None:
    interrupts = execution.Interrupts(lambda m: None)
    from runbook.events import RunModel

    interrupts.model = RunModel(tasks_started=1)
    interrupts._handler(2, None)
    interrupts._handler(2, None)
    assert interrupts.cancel()


def test_plain_strings_stay_strings_for_ansible() -> None:
    text = yaml.dump(
        execution.mark_unsafe({"since": "2026-11-27T12:00:00Z", "reason": "yes"}),
        Dumper=execution._VarsDumper,
    )
    assert "since: '2026-11-27T12:00:00Z'" in text  # quoted: not a timestamp
    assert "reason: 'yes'" in text  # quoted: not a boolean
    assert yaml.safe_load(text) == {"since": "2026-11-27T12:00:00Z", "reason": "yes"}


def test_a_record_that_cannot_be_written_is_said_not_raised(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Mid-run, a full disk made the run crash with exit 1 and no summary."""
    from runbook.errors import ExitCode
    from runbook.events import RunModel
    from runbook.store import Store

    store = Store(tmp_path / "db.sqlite3")
    store.close()  # as good as a disk that refuses every write
    said = execution._finish(store, "r1", RunModel(), "successful", ExitCode.OK, {})
    assert said is not None and "could not be written" in said
