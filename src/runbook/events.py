"""The run model: per-host state folded from ansible-runner's events. Pure; no I/O."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

#: Per-host outcome, worst first: how a host's run is summed up.
OUTCOMES = ("unreachable", "failed", "not-run", "changed", "ok", "skipped")


@dataclass
class HostState:
    host: str
    site: str | None = None
    task: str | None = None
    ok: int = 0
    changed: int = 0
    failed: int = 0
    unreachable: int = 0
    skipped: int = 0
    message: str | None = None
    failed_task: str | None = None
    verification_failed: bool = False
    lock_held: bool = False
    report: dict[str, Any] = field(default_factory=dict)
    seen: bool = False
    observed_at: str | None = None

    @property
    def outcome(self) -> str:
        if self.unreachable:
            return "unreachable"
        if self.failed:
            return "failed"
        if not self.seen:
            return "not-run"
        if self.changed:
            return "changed"
        if self.ok:
            return "ok"
        return "skipped"


@dataclass(frozen=True)
class HostOutcome:
    """How one host's run ended: the one shape the run record, --json and the summary share."""

    host: str
    site: str | None
    outcome: str
    ok: int = 0
    changed: int = 0
    failed: int = 0
    unreachable: int = 0
    skipped: int = 0
    last_task: str | None = None
    message: str | None = None

    @classmethod
    def of(cls, state: HostState) -> HostOutcome:
        return cls(
            host=state.host,
            site=state.site,
            outcome=state.outcome,
            ok=state.ok,
            changed=state.changed,
            failed=state.failed,
            unreachable=state.unreachable,
            skipped=state.skipped,
            last_task=state.failed_task or state.task,
            message=state.message,
        )

    def to_dict(self) -> dict[str, Any]:
        """The record's columns, host excluded (it is the key wherever this is used)."""
        return {k: v for k, v in asdict(self).items() if k != "host"}


@dataclass
class RunModel:
    """Everything the progress view, the summary and the run record need from the events."""

    hosts: dict[str, HostState] = field(default_factory=dict)
    play: str | None = None
    task: str | None = None
    tasks_started: int = 0
    no_hosts_matched: bool = False
    stats_seen: bool = False
    site_reports: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: Set when the playbook failed before any host did: what Ansible said.
    error: str | None = None

    @classmethod
    def for_hosts(cls, hosts: dict[str, str | None]) -> RunModel:
        return cls(hosts={h: HostState(h, site) for h, site in hosts.items()})

    def host(self, name: str) -> HostState:
        if name not in self.hosts:
            self.hosts[name] = HostState(name)
        return self.hosts[name]

    def handle(self, event: dict[str, Any]) -> None:
        kind = event.get("event", "")
        data = event.get("event_data") or {}
        if kind == "playbook_on_play_start":
            self.play = data.get("name") or data.get("play")
        elif kind == "playbook_on_task_start":
            self.task = data.get("name") or data.get("task")
            self.tasks_started += 1
        elif kind == "playbook_on_no_hosts_matched":
            self.no_hosts_matched = True
        elif kind == "runner_on_start":
            state = self.host(data.get("host", "?"))
            if not str(data.get("task") or "").startswith("Validating arguments against arg spec"):
                state.task = data.get("task")
            state.seen = True
        elif kind in (
            "runner_on_ok",
            "runner_on_failed",
            "runner_on_unreachable",
            "runner_on_skipped",
        ):
            self._result(kind, data)
            if kind == "runner_on_ok" and event.get("created"):
                # When the controller heard of the result: a node's own clock can be compared.
                self.host(data.get("host", "?")).observed_at = str(event["created"])
        elif kind == "playbook_on_stats":
            self._stats(data)

    def _result(self, kind: str, data: dict[str, Any]) -> None:
        state = self.host(data.get("host", "?"))
        state.seen = True
        res = data.get("res") or {}
        if not isinstance(res, dict):
            res = {}
        task = data.get("task")
        if kind in ("runner_on_ok", "runner_on_failed"):
            # A looped task (feature_flags' options) reports each item's part in `results`.
            results = res.get("results")
            items: list[Any] = results if isinstance(results, list) else []
            for part in [res, *items]:
                report = part.get("runbook_report") if isinstance(part, dict) else None
                if isinstance(report, dict):
                    self._report(state, report)
        if kind == "runner_on_ok":
            state.ok += 1
            if res.get("changed"):
                state.changed += 1
        elif kind == "runner_on_skipped":
            state.skipped += 1
        elif kind == "runner_on_unreachable":
            state.unreachable += 1
            state.message = str(res.get("msg", "unreachable")).strip()
            state.failed_task = task
        elif data.get("ignore_errors"):
            state.ok += 1
        else:
            self._failed(state, res, task)

    @staticmethod
    def _failed(state: HostState, res: dict[str, Any], task: str | None) -> None:
        state.failed += 1
        state.message = str(res.get("msg", "failed")).strip()
        stderr = str(res.get("stderr") or "").strip()
        if stderr:  # a failed command: its own words say more than "non-zero return code"
            state.message += f": {stderr[:500]}"
        state.failed_task = task
        # A check that failed says so; a task named Verify that does not say (an older
        # module, a failed assert) counts as a check too. A restore failing in the smoke
        # test's call says verification_failed: false.
        said = res.get("verification_failed")
        if said or (said is None and str(task or "").startswith("Verify ")):
            state.verification_failed = True
        if res.get("lock_held"):
            state.lock_held = True
            if isinstance(res.get("lock"), dict):
                state.report["lock_held_by"] = res["lock"]

    def _report(self, state: HostState, report: dict[str, Any]) -> None:
        """A module's `runbook_report`: per-node facts, and per-site facts from a site leader."""
        node = report.get("node")
        if isinstance(node, dict):
            state.report.update(node)
        site = report.get("site")
        if isinstance(site, dict) and state.site:
            known = self.site_reports.setdefault(state.site, {})
            for key, value in site.items():
                # Two options changed in one run (flags, then percentages) are both kept.
                if isinstance(value, dict) and isinstance(known.get(key), dict):
                    known[key] = {**known[key], **value}
                else:
                    known[key] = value

    def _stats(self, data: dict[str, Any]) -> None:
        """Ansible's own totals are authoritative once they arrive."""
        self.stats_seen = True
        columns = {
            "ok": "ok",
            "changed": "changed",
            "failures": "failed",
            "dark": "unreachable",
            "skipped": "skipped",
        }
        for column, attr in columns.items():
            for host, count in (data.get(column) or {}).items():
                state = self.host(host)
                state.seen = True
                setattr(state, attr, int(count))
        for host in data.get("ignored") or {}:
            self.host(host).seen = True

    def outcomes(self) -> list[HostOutcome]:
        return [HostOutcome.of(s) for s in self.hosts.values()]

    def counts(self) -> dict[str, int]:
        totals = dict.fromkeys(OUTCOMES, 0)
        for state in self.hosts.values():
            totals[state.outcome] += 1
        return totals
