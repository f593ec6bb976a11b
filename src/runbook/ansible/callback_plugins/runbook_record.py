# -*- coding: utf-8 -*-
"""The run record for playbooks run without the runbook wrapper (CI, AWX)."""

from __future__ import annotations

DOCUMENTATION = r"""
name: runbook_record
type: aggregate
short_description: Write runbook's run record for a plain ansible-playbook run
description:
  - Records a playbook run in runbook's store as `runbook` does. It keeps the run with its
    operator and reason, each host's outcome, the sites' and hosts' reports, and runbook's
    exit code. It prints runbook's summary at the end.
  - A callback cannot change ansible-playbook's exit code. C(runbook runs show last
    --exit-code) gives runbook's code to a CI step.
  - Gives the run its id before the first play (C(RUNBOOK_RUN_ID) in the environment), so the
    site locks the playbook takes carry the same id as the record.
  - Does nothing for runs the wrapper starts (they carry C(runbook_run)); it records those
    itself.
requirements:
  - the runbook Python package on the controller (pip install runbook)
options:
  state_dir:
    description: The folder of runbook's store (runbook.sqlite3); default runbook's own.
    env:
      - name: RUNBOOK_STATE_DIR
    ini:
      - section: runbook
        key: state_dir
    vars:
      - name: runbook_state_dir
"""

import os
import secrets
import socket
import time
from types import SimpleNamespace

from ansible import context
from ansible.plugins.callback import CallbackBase


def _runbook():
    """runbook's record code, or None where the controller lacks the package. Imported only
    for a run the wrapper did not start: the wrapper's runs (which it records itself) do not
    pay the import (~0.07 s before their first task)."""
    try:
        from runbook import clock
        from runbook.events import RunModel
        from runbook.execution import exit_code_for
        from runbook.store import Store
    except ImportError:  # pragma: no cover - the controller lacks the package
        return None
    return SimpleNamespace(clock=clock, RunModel=RunModel, exit_code_for=exit_code_for, Store=Store)


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "runbook.wordpress.runbook_record"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.rb = None if os.environ.get("RUNBOOK_WRAPPED") else _runbook()
        self.off = self.rb is None
        self.run_id = None
        self.store_path = None
        self.model = None
        self.started = None
        self.playbook = None

    # -- the run's start: its id before any task; the record at the first play ------------------

    def v2_playbook_on_start(self, playbook):
        if self.off:
            return
        self.playbook = os.path.splitext(os.path.basename(playbook._file_name))[0]
        self.started = self.rb.clock.stamp()
        self.run_id = os.environ.get("RUNBOOK_RUN_ID") or (
            time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "-" + secrets.token_hex(3)
        )
        os.environ["RUNBOOK_RUN_ID"] = self.run_id
        os.environ.setdefault("RUNBOOK_RUNBOOK", self.playbook)

    def v2_playbook_on_play_start(self, play):
        if self.off or self.model is not None:
            return
        manager = play.get_variable_manager()
        extra = dict(manager.extra_vars or {})
        if "runbook_run" in extra:
            self.off = True  # the wrapper's run: it keeps its own record
            return
        inventory = manager._inventory
        hosts = {}
        for host in inventory.get_hosts(play.hosts):
            hosts[host.name] = host.vars.get("site")
        self.model = self.rb.RunModel.for_hosts(hosts)
        self.model.handle(
            {"event": "playbook_on_play_start", "event_data": {"name": play.get_name()}}
        )
        operator = (
            extra.get("operator")
            or extra.get("awx_user_name")
            or extra.get("tower_user_name")
            or next(
                (
                    os.environ[n]
                    for n in ("GITHUB_ACTOR", "GITLAB_USER_LOGIN", "USER")
                    if os.environ.get(n)
                ),
                "unknown",
            )
        )
        state = self.get_option("state_dir") or extra.get("runbook_state_dir")
        if state:
            os.environ["RUNBOOK_STATE_DIR"] = str(state)
        from runbook.paths import state_dir

        self.store_path = state_dir() / "runbook.sqlite3"
        params = (
            extra.get("runbook_params") if isinstance(extra.get("runbook_params"), dict) else {}
        )
        reason = extra.get("reason")
        try:
            with self.rb.Store(self.store_path) as store:
                store.start_run(
                    run_id=self.run_id,
                    runbook=self.playbook,
                    parameters=params,
                    reason=str(reason) if reason else None,
                    operator=str(operator),
                    inventory=",".join(str(s) for s in (inventory._sources or [])),
                    host_limit=",".join(inventory._subset) if inventory._subset else None,
                    check_mode=bool(context.CLIARGS.get("check")),
                    started_at=self.started,
                    artifact_dir="",
                    extra_vars=extra,
                )
        except Exception as exc:  # the record must never stop the play
            self._display.warning(
                f"runbook_record: cannot write the run record {self.store_path}: {exc}"
            )
            self.off = True

    # -- what happens on each host -------------------------------------------------------------

    def _event(self, kind, result, **extra):
        if self.off or self.model is None:
            return
        self.model.handle(
            {
                "event": kind,
                "event_data": {
                    "host": result._host.get_name(),
                    "task": result._task.get_name(),
                    "res": result._result,
                    **extra,
                },
            }
        )

    def v2_playbook_on_task_start(self, task, is_conditional):
        if not self.off and self.model is not None:
            self.model.handle(
                {"event": "playbook_on_task_start", "event_data": {"name": task.get_name()}}
            )

    def v2_runner_on_ok(self, result):
        self._event("runner_on_ok", result)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._event("runner_on_failed", result, ignore_errors=ignore_errors)

    def v2_runner_on_skipped(self, result):
        self._event("runner_on_skipped", result)

    def v2_runner_on_unreachable(self, result):
        self._event("runner_on_unreachable", result)

    def v2_playbook_on_no_hosts_matched(self):
        if not self.off and self.model is not None:
            self.model.handle({"event": "playbook_on_no_hosts_matched", "event_data": {}})

    # -- the end: the record and runbook's summary ---------------------------------------------

    def v2_playbook_on_stats(self, stats):
        if self.off or self.model is None:
            return
        self.model.handle(
            {
                "event": "playbook_on_stats",
                "event_data": {
                    "ok": dict(stats.ok),
                    "changed": dict(stats.changed),
                    "failures": dict(stats.failures),
                    "dark": dict(stats.dark),
                    "skipped": dict(stats.skipped),
                    "ignored": dict(getattr(stats, "ignored", {}) or {}),
                },
            }
        )
        failed = bool(stats.failures or stats.dark)
        outcome = "failed" if failed else "successful"
        status, code = self.rb.exit_code_for(self.model, outcome, False)
        summary = {
            "counts": self.model.counts(),
            "runner_status": outcome,
            "rc": None,
            "error": self.model.error,
            "sites": self.model.site_reports,
            "hosts": {h: s.report for h, s in self.model.hosts.items() if s.report},
            "recorded_by": "runbook_record callback on " + socket.gethostname(),
        }
        try:
            with self.rb.Store(self.store_path) as store:
                store.finish_run(
                    self.run_id,
                    status=status,
                    exit_code=int(code),
                    ended_at=self.rb.clock.stamp(),
                    hosts=self.model.outcomes(),
                    summary=summary,
                )
        except Exception as exc:
            self._display.warning(f"runbook_record: cannot finish the run record: {exc}")
            return
        counts = ", ".join(f"{n} {k}" for k, n in self.model.counts().items() if n)
        self._display.display(
            f"runbook: {self.playbook}: {status} ({counts}); exit code {int(code)}; "
            f"run {self.run_id} in {self.store_path}"
        )
        for outcome in self.model.outcomes():
            if outcome.message:
                self._display.display(
                    f"runbook:   {outcome.host}: {outcome.outcome}: {outcome.message}"
                )
        self._display.display(
            "runbook: `runbook runs show last --exit-code` gives this code to a CI step"
        )
