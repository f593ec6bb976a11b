"""Logs and health as use cases: scan the fleet's logs (the log-scan runbook), count, rank,
judge by the thresholds and the decision matrix, record decisions and baselines."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runbook import clock, yamlfile
from runbook import inventory as inv
from runbook.errors import ExitCode, RunbookError
from runbook.execution import RunResult, operator_name
from runbook.health import metrics, report, thresholds
from runbook.health.evaluate import evaluate, node_metrics
from runbook.service.runs import RunOptions, run
from runbook.service.workspace import Workspace

VERDICT_EXIT = {
    "green": ExitCode.OK,
    "yellow": ExitCode.HEALTH_YELLOW,
    "red": ExitCode.HEALTH_RED,
    "inconclusive": ExitCode.HEALTH_INCONCLUSIVE,
}
MANUAL_TRIGGERS_KEYS = ("cascading-failures", "data-integrity", "security", "widespread-impact")


@dataclass(frozen=True)
class Window:
    """Which hosts, and which stretch of their logs."""

    since: str = "1h"
    until: str | None = None
    inventory: tuple[str, ...] = ()
    limit: str | None = None


@dataclass
class Scan:
    """A log-scan run and what each host's logs said (report.logs_by_host's shape)."""

    result: RunResult
    hosts: dict[str, dict[str, Any]]

    @property
    def not_scanned(self) -> dict[str, str]:
        return report.not_scanned(self.hosts)

    @property
    def unrecognised(self) -> dict[str, list[str]]:
        """host -> its logs most of whose lines could not be read (an unknown format)."""
        return report.unrecognised(self.hosts)

    @property
    def exit_code(self) -> int:
        """0 when every host was scanned; else the run's code (3 or 4)."""
        if self.not_scanned:
            return int(self.result.exit_code) or int(ExitCode.HOSTS_FAILED)
        return 0


def sources(ws: Workspace) -> tuple[str, ...]:
    """The log sources `logs errors --source` takes: the base ones and the target plugin."""
    return (*report.BASE_SOURCES, ws.profile().slug)


def scan(
    ws: Workspace,
    window: Window,
    top: int,
    extra: dict[str, Any] | None = None,
    warn: Callable[[str], None] = print,
    reason: str | None = None,
) -> Scan:
    """Run log-scan on the window's hosts; each host's logs, outcome and clock skew."""
    book = ws.catalog().get("log-scan")
    if book is None:
        raise RunbookError("the catalog has no log-scan runbook")
    params = {"since": window.since, "until": window.until, "top": top}
    options = RunOptions(inventory=window.inventory, limit=window.limit, reason=reason)
    result = run(ws, book, params, options, warn=warn, file_on_incident=False, internal_vars=extra)
    if result.exit_code not in (ExitCode.OK, ExitCode.HOSTS_UNREACHABLE, ExitCode.HOSTS_FAILED):
        raise RunbookError(
            f"log-scan failed: {result.status} (run {result.run_id})", result.exit_code
        )
    hosts = {
        h: {
            "site": s.site,
            "logs": s.report.get("logs"),
            "outcome": s.outcome,
            "message": s.message,
            "clock_skew_seconds": report.clock_skew(
                (s.report.get("logs") or {}).get("node_time"), s.observed_at
            ),
        }
        for h, s in result.model.hosts.items()
    }
    return Scan(result, hosts)


def errors(
    ws: Workspace,
    window: Window,
    source: str | None,
    incremental: bool,
    warn: Callable[[str], None] = print,
) -> tuple[dict[str, Any], Scan]:
    """Errors per host and level (`logs errors`); incremental: since the last such scan."""
    extra = None
    if incremental:
        with ws.store() as store:
            states = store.scan_states()
        extra = {"log_health_incremental": True, "log_health_state_by_host": states}
    done = scan(ws, window, 1, extra, warn)
    if incremental:
        with ws.store() as store:
            for host, node in done.hosts.items():
                if node["logs"] and node["logs"].get("state"):
                    store.set_scan_states(host, node["logs"]["state"], clock.stamp())
    rows = report.count_errors(done.hosts, source, ws.profile().slug)
    return {
        "since": window.since,
        "source": source or "all",
        "hosts": rows,
        "total": report.totals(rows),
        "run_id": done.result.run_id,
        "not_scanned": done.not_scanned,
        "format_unrecognised": done.unrecognised,
        "older_than_window": report.older_than_window(done.hosts),
    }, done


def top(
    ws: Workspace, window: Window, count: int, warn: Callable[[str], None] = print
) -> tuple[dict[str, Any], Scan]:
    """The most common error fingerprints over the fleet (`logs top`)."""
    done = scan(ws, window, count, warn=warn)
    return {
        "since": window.since,
        "top": report.merge_top(done.hosts, count),
        "run_id": done.result.run_id,
        "not_scanned": done.not_scanned,
        "format_unrecognised": done.unrecognised,
        "older_than_window": report.older_than_window(done.hosts),
    }, done


def _yaml_file(option: str, path: Path) -> Any:
    return yamlfile.load(path, option)


def load_thresholds(path: Path) -> dict[str, Any]:
    """A thresholds file: the thresholds.yml shape (table -> metric -> row)."""
    data = _yaml_file("--thresholds", path)
    if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
        raise RunbookError(f"--thresholds {path}: must map each table to its rows")
    return data


def load_queries(path: Path) -> dict[str, str]:
    data = _yaml_file("--prometheus-queries", path)
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        raise RunbookError(f"--prometheus-queries {path}: must map metric names to PromQL")
    return data


def inventory_thresholds(result: RunResult) -> dict[str, dict[str, Any]]:
    """Each host's `health_thresholds` from the inventory, read here on the controller."""
    found = inv.host_vars(result.request.inventory, result.request.limit, ("health_thresholds",))
    out = {}
    for host, values in found.items():
        raw = values.get("health_thresholds")
        if raw:
            plain = json.loads(json.dumps(raw, default=str))
            if not isinstance(plain, dict):
                raise RunbookError(f"inventory: {host}: health_thresholds must be a mapping")
            out[host] = plain
    return out


@dataclass
class HealthInputs:
    since: str = "5m"
    metrics_source: str | None = None
    prometheus_url: str | None = None
    prometheus_queries: Path | None = None
    thresholds_file: Path | None = None
    incident_id: int | None = None


def health(
    ws: Workspace, window: Window, given: HealthInputs, warn: Callable[[str], None] = print
) -> dict[str, Any]:
    """Judge the fleet, store the decision (and put it on the incident): the outcome."""
    overrides = load_thresholds(given.thresholds_file) if given.thresholds_file else None
    rows = thresholds.merged(overrides)
    site_inputs = metrics.load(given.metrics_source)
    if bool(given.prometheus_url) != bool(given.prometheus_queries):
        raise RunbookError("--prometheus and --prometheus-queries go together")
    done = scan(ws, window, 20, warn=warn)
    if given.prometheus_url and given.prometheus_queries:
        sites = sorted({n["site"] for n in done.hosts.values() if n["site"]})
        site_inputs = metrics.merge(
            site_inputs,
            metrics.prometheus(given.prometheus_url, load_queries(given.prometheus_queries), sites),
        )
    host_rows = {
        h: thresholds.merged(report.stack_thresholds(layer, overrides))
        for h, layer in inventory_thresholds(done.result).items()
    }
    with ws.store() as store:
        outcome = evaluate(done.hosts, site_inputs, store.baselines(), rows, host_rows)
        outcome["inputs"]["clock_skew_seconds"] = {
            h: n["clock_skew_seconds"] for h, n in done.hosts.items()
        }
        decision = outcome["decision"]
        decision_id = store.add_decision(
            run_id=done.result.run_id,
            created_at=clock.stamp(),
            verdict=outcome["verdict"],
            rollback=decision["rollback"],
            fired=decision["fired"],
            rules=decision["rules"],
            inputs={
                "since": window.since,
                **outcome["inputs"],
                "table": outcome["table"],
                "thresholds": {m: r.describe() for m, r in rows.items()},
            },
        )
        if given.incident_id is not None:
            from runbook.incidents.records import Incidents

            Incidents(store).record_decision(given.incident_id, outcome, decision_id)
    return {
        **outcome,
        "since": window.since,
        "decision_id": decision_id,
        "run_id": done.result.run_id,
        "exit_code": int(VERDICT_EXIT[outcome["verdict"]]),
    }


def baseline(
    ws: Workspace, window: Window, warn: Callable[[str], None] = print
) -> dict[str, dict[str, Any]]:
    """Record each host's normal (metrics and known fingerprints) for later comparison."""
    done = scan(ws, window, 1000, warn=warn)
    saved = {}
    with ws.store() as store:
        for host, node in done.hosts.items():
            logs = node["logs"]
            if not logs:
                continue
            values, fingerprints = host_baseline(logs)
            store.set_baseline(
                host=host,
                site=node["site"],
                captured_at=clock.stamp(),
                run_id=done.result.run_id,
                metrics=values,
                fingerprints=fingerprints,
            )
            saved[host] = {"metrics": values, "fingerprints": len(fingerprints)}
    return saved


def host_baseline(logs: dict[str, Any], enough: int = 0) -> tuple[dict[str, Any], list[str]]:
    """A host's normal from its scanned logs: each metric measured on at least `enough`
    requests (fewer is no baseline: the comparison is then inconclusive), and the error
    fingerprints it already has."""
    values = {m: v for m, (v, n) in node_metrics(logs).items() if n >= enough}
    return values, report.baseline_fingerprints(logs)


def baselines_of(done: Scan, enough: int = 0) -> dict[str, dict[str, Any]]:
    """host_baseline for every host a scan read, as the store and the gates keep them."""
    out = {}
    for host, node in done.hosts.items():
        if node["logs"]:
            metrics_, fingerprints = host_baseline(node["logs"], enough)
            out[host] = {"metrics": metrics_, "fingerprints": fingerprints}
    return out


def declare(ws: Workspace, trigger: str, reason: str) -> tuple[int, str]:
    """Record a manual rollback trigger; its id and what it means."""
    from runbook.health.decisions import MANUAL_TRIGGERS

    with ws.store() as store:
        decision_id = store.add_decision(
            run_id=None,
            created_at=clock.stamp(),
            verdict="red",
            rollback=True,
            fired=[f"manual:{trigger}"],
            rules=[
                {
                    "rule": f"manual:{trigger}",
                    "result": "fired",
                    "evidence": {
                        "trigger": MANUAL_TRIGGERS[trigger],
                        "reason": reason,
                        "operator": operator_name(),
                    },
                }
            ],
            inputs={"declared_by": operator_name()},
        )
    return decision_id, MANUAL_TRIGGERS[trigger]
