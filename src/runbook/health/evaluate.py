"""From scanned logs, a metrics input and baselines to verdicts and a rollback decision.

Pure: `runbook health` feeds it what the log_scan_info module returned for each node.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from runbook.health import decisions
from runbook.health.thresholds import Row

ORDER = {"green": 0, "inconclusive": 1, "yellow": 2, "red": 3}
ERROR_LEVELS = ("fatal", "parse", "error")
#: Metrics only a metrics input can give (the browser, support desk, product analytics).
SITE_METRICS = (
    "javascript_errors",
    "state_errors",
    "initial_load",
    "preview_update",
    "memory_usage",
    "support_tickets",
    "user_complaints",
    "feature_adoption",
)


def node_metrics(logs: Mapping[str, Any]) -> dict[str, tuple[float | None, int]]:
    """What a node's logs say: PHP error rate and API error rate (% of requests), API p95 (ms)."""
    access = logs.get("access") or {}
    requests = int(access.get("requests") or 0)
    php_errors = sum(
        n
        for key, n in (logs.get("counts") or {}).items()
        if key.split(":")[0] in ("php", "wordpress") and key.split(":")[1] in ERROR_LEVELS
    )
    api_rate = access.get("api_error_rate")
    p95 = access.get("response_time_p95")
    return {
        "php_errors": (php_errors / requests * 100 if requests else None, requests),
        "api_errors": (
            api_rate * 100 if api_rate is not None else None,
            int(access.get("api_requests") or 0),
        ),
        "api_response": (
            p95 * 1000 if p95 is not None else None,
            int(access.get("timed_requests") or 0),
        ),
    }


@dataclass
class _Inputs:
    """What the rules read, gathered in one pass over the nodes and the sites."""

    feature_rates: dict[str, tuple[float | None, int]] = field(default_factory=dict)
    critical: dict[str, int] = field(default_factory=dict)
    fatal: dict[str, int] = field(default_factory=dict)
    first_fatal: list[str] = field(default_factory=list)
    known: set[str] | None = None
    current_perf: dict[str, float | None] = field(default_factory=dict)
    baseline_perf: dict[str, float | None] = field(default_factory=dict)
    complaints: int | None = None


def _row(
    scope: str, target: str, metric: str, value: float | None, samples: int | None, row: Row
) -> dict[str, Any]:
    return {
        "scope": scope,
        "target": target,
        "metric": metric,
        "value": value,
        "samples": samples,
        "verdict": row.classify(value, samples),
        "unit": row.unit,
    }


def _judge_host(
    host: str,
    logs: Mapping[str, Any],
    rows: Mapping[str, Row],
    base: Mapping[str, Any] | None,
    table: list[dict[str, Any]],
    inputs: _Inputs,
) -> None:
    metrics = node_metrics(logs)
    for metric, (value, samples) in metrics.items():
        shown = None if value is None else round(value, 3)
        table.append(_row("host", host, metric, shown, samples, rows[metric]))
    inputs.feature_rates[f"api@{host}"] = metrics["api_errors"]
    inputs.critical[host] = int(logs.get("critical_recent") or 0)
    inputs.first_fatal += [
        e["first_seen"]
        for e in logs.get("top") or []
        if e.get("level") in ("fatal", "parse") and e.get("first_seen")
    ]
    for fp, count in (logs.get("fatal_fingerprints") or {}).items():
        inputs.fatal[fp] = inputs.fatal.get(fp, 0) + count
    if base is not None and inputs.known is not None:
        inputs.known.update(base.get("fingerprints") or [])
        inputs.current_perf[f"api_response@{host}"] = metrics["api_response"][0]
        inputs.baseline_perf[f"api_response@{host}"] = (base.get("metrics") or {}).get(
            "api_response"
        )


def _judge_site(
    site: str,
    given: Mapping[str, Any],
    rows: Mapping[str, Row],
    site_base: Mapping[str, Any],
    table: list[dict[str, Any]],
    inputs: _Inputs,
) -> None:
    for metric in SITE_METRICS:
        entry = given.get(metric)
        if entry is not None:
            value, samples = _value(entry)
            table.append(_row("site", site, metric, value, samples, rows[metric]))
    for name, feature in (given.get("features") or {}).items():
        inputs.feature_rates[f"{name}@{site}"] = (
            feature.get("error_rate"),
            int(feature.get("samples") or 0),
        )
    if given.get("complaints_last_hour") is not None:
        inputs.complaints = max(inputs.complaints or 0, int(given["complaints_last_hour"]))
    for metric in ("initial_load", "preview_update"):
        if metric in given:
            inputs.current_perf[f"{metric}@{site}"] = _value(given[metric])[0]
            inputs.baseline_perf[f"{metric}@{site}"] = site_base.get(metric)


def _overall(table: list[dict[str, Any]], rollback: bool) -> str:
    """The worst verdict; too little data beside green data is green; an unscanned host is
    never green; a fired trigger is red."""
    verdicts = [r["verdict"] for r in table] or ["inconclusive"]
    overall = max(verdicts, key=lambda v: ORDER[v])
    if overall == "inconclusive" and any(v == "green" for v in verdicts):
        overall = "green"
    if overall == "green" and any(r["metric"] in ("logs", "log format") for r in table):
        # A host that could not be scanned, or a log that could not be read, is not green.
        overall = "inconclusive"
    return "red" if rollback else overall


def evaluate(
    nodes: Mapping[str, Mapping[str, Any]],
    site_inputs: Mapping[str, Mapping[str, Any]],
    baselines: Mapping[str, Mapping[str, Any]],
    rows: Mapping[str, Row],
    host_rows: Mapping[str, Mapping[str, Row]] | None = None,
) -> dict[str, Any]:
    """nodes: host -> {"site", "logs"}; site_inputs: site -> metrics input; baselines: host -> ...

    Returns the verdict table (scope, target, metric, value, samples, verdict), the overall
    verdict (the worst), and the decision with every rule's evidence. `host_rows` holds the
    rows of hosts judged by their inventory's overrides; a site takes its first host's.
    """
    host_rows = host_rows or {}
    site_rows: dict[str, Mapping[str, Row]] = {}
    for host, node in nodes.items():
        site_rows.setdefault(str(node.get("site")), host_rows.get(host, rows))
    table: list[dict[str, Any]] = []
    inputs = _Inputs(known=set() if baselines else None)
    for host, node in nodes.items():
        logs = node.get("logs")
        if not logs:
            table.append(
                {
                    "scope": "host",
                    "target": host,
                    "metric": "logs",
                    "value": None,
                    "samples": 0,
                    "verdict": "inconclusive",
                    "unit": "",
                    "note": "no scan (unreachable or failed)",
                }
            )
            continue
        _judge_host(host, logs, host_rows.get(host, rows), baselines.get(host), table, inputs)
        for path in logs.get("format_unrecognised") or []:
            # An unknown format is not a clean log: that source is inconclusive, never green.
            table.append(
                {
                    "scope": "host",
                    "target": host,
                    "metric": "log format",
                    "value": None,
                    "samples": 0,
                    "verdict": "inconclusive",
                    "unit": "",
                    "note": f"{path}: format unrecognised",
                }
            )
    for site, given in site_inputs.items():
        site_base = (baselines.get(f"site:{site}") or {}).get("metrics") or {}
        _judge_site(site, given, site_rows.get(site, rows), site_base, table, inputs)
    decision = decisions.decide(
        [
            decisions.error_rates(inputs.feature_rates, rows["api_errors"].min_samples),
            decisions.critical_errors(inputs.critical),
            decisions.degradation(inputs.current_perf, inputs.baseline_perf),
            decisions.complaints(inputs.complaints),
            decisions.novelty(inputs.fatal, inputs.known),
        ]
    )
    return {
        "verdict": _overall(table, decision.rollback),
        "table": table,
        "decision": decision.to_dict(),
        "inputs": {
            "critical_recent": inputs.critical,
            "first_critical_seen": min(inputs.first_fatal) if inputs.first_fatal else None,
            "fatal_fingerprints": len(inputs.fatal),
            "features": {
                k: {"rate_percent": v[0], "samples": v[1]} for k, v in inputs.feature_rates.items()
            },
            "baselines": sorted(baselines),
        },
    }


def _value(entry: Any) -> tuple[float | None, int | None]:
    if isinstance(entry, Mapping):
        value = entry.get("value")
        samples = entry.get("samples")
        return (None if value is None else float(value), None if samples is None else int(samples))
    return float(entry), None
