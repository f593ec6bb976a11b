"""Ctrl-C: once lets the current task finish then stops; twice cancels now. Both recorded."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import pytest
from tests.integration.streamed import Streamed

from runbook.errors import ExitCode

SLOW_PLAYBOOK = """\
---
- name: Sleep in steps
  hosts: all
  gather_facts: false
  tasks:
    - name: Step one
      ansible.builtin.command: sleep 4
      changed_when: false
    - name: Step two
      ansible.builtin.command: sleep 4
      changed_when: false
    - name: Step three
      ansible.builtin.command: sleep 4
      changed_when: false
"""

SLOW_RUNBOOK = """\
name: slow
description: Sleep on every host in three steps. Used by the tests.
priority: P3
playbook: slow.yml
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "runbooks").mkdir()
    (tmp_path / "playbooks").mkdir()
    (tmp_path / "runbooks" / "slow.yml").write_text(SLOW_RUNBOOK)
    (tmp_path / "playbooks" / "slow.yml").write_text(SLOW_PLAYBOOK)
    return tmp_path


def start(project: Path) -> Streamed:
    return Streamed("--project", str(project), "slow")


def last_run(runbook_cli) -> dict:  # type: ignore[type-arg]
    runs = runbook_cli("runs", "--json").json()
    return runbook_cli("runs", "show", runs[0]["run_id"], "--json").json()  # type: ignore[no-any-return]


def test_ctrl_c_once_finishes_the_current_task_then_stops(sandbox, runbook_cli, project) -> None:
    proc = start(project)
    proc.wait_for("task: Step one")
    proc.send_signal(signal.SIGINT)
    output = proc.finish()
    assert proc.returncode == ExitCode.INTERRUPTED, output
    assert "stopping after the current task" in output
    step_one = output.split("task: Step one", 1)[1].split("task: Step two", 1)[0]
    assert sorted(h for h in ("alpha-1", "alpha-2", "beta-1") if f"{h}: ok" in step_one) == [
        "alpha-1",
        "alpha-2",
        "beta-1",
    ]  # the current task finished everywhere
    assert "task: Step three" not in output
    run = last_run(runbook_cli)
    assert run["status"] == "interrupted" and run["exit_code"] == ExitCode.INTERRUPTED
    assert {h["last_task"] for h in run["hosts"]} <= {"Step one", "Step two"}


def test_ctrl_c_twice_cancels_now(sandbox, runbook_cli, project) -> None:
    proc = start(project)
    proc.wait_for("task: Step one")
    proc.send_signal(signal.SIGINT)
    time.sleep(0.3)
    proc.send_signal(signal.SIGINT)
    output = proc.finish()
    assert proc.returncode == ExitCode.INTERRUPTED, output
    assert "cancelling now" in output
    assert ": ok" not in output.split("task: Step one", 1)[1]  # step one never completed
    run = last_run(runbook_cli)
    assert run["status"] == "interrupted"
    assert json.dumps(run["hosts"])  # every targeted host has a row
    assert {h["host"] for h in run["hosts"]} == {"alpha-1", "alpha-2", "beta-1"}


def test_sigterm_is_recorded_like_ctrl_c(sandbox, runbook_cli, project) -> None:
    proc = start(project)
    proc.wait_for("task: Step one")
    proc.send_signal(signal.SIGTERM)
    proc.send_signal(signal.SIGTERM)
    output = proc.finish()
    assert proc.returncode == ExitCode.INTERRUPTED, output
    assert last_run(runbook_cli)["status"] == "interrupted"
