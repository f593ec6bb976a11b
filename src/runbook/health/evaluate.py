"""From scanned logs, a metrics input and baselines to verdicts and a rollback decision.

Pure: `runbook health` feeds it what the log_scan_info module returned for each node.
"""

from __future__ import annotations

from collections.abc import Mapping
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
    feature_rates: dict[str, tuple[float | None, int]] = {}
    critical: dict[str, int] = {}
    fatal: dict[str, int] = {}
    first_fatal: list[str] = []
    known: set[str] | None = set() if baselines else None
    current_perf: dict[str, float | None] = {}
    baseline_perf: dict[str, float | None] = {}
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
        for metric, (value, samples) in node_metrics(logs).items():
            row = host_rows.get(host, rows)[metric]
            table.append(
                {
                    "scope": "host",
                    "target": host,
                    "metric": metric,
                    "value": None if value is None else round(value, 3),
                    "samples": samples,
                    "verdict": row.classify(value, samples),
                    "unit": row.unit,
                }
            )
        metrics = node_metrics(logs)
        feature_rates[f"api@{host}"] = metrics["api_errors"]
        critical[host] = int(logs.get("critical_recent") or 0)
        first_fatal += [
            e["first_seen"]
            for e in logs.get("top") or []
            if e.get("level") in ("fatal", "parse") and e.get("first_seen")
        ]
        for fp, count in (logs.get("fatal_fingerprints") or {}).items():
            fatal[fp] = fatal.get(fp, 0) + count
        base = baselines.get(host)
        if base is not None and known is not None:
            known.update(base.get("fingerprints") or [])
            current_perf[f"api_response@{host}"] = metrics["api_response"][0]
            baseline_perf[f"api_response@{host}"] = (base.get("metrics") or {}).get("api_response")
    complaints: int | None = None
    for site, given in site_inputs.items():
        for metric in SITE_METRICS:
            entry = given.get(metric)
            if entry is None:
                continue
            site_value, site_samples = _value(entry)
            row = site_rows.get(site, rows)[metric]
            table.append(
                {
                    "scope": "site",
                    "target": site,
                    "metric": metric,
                    "value": site_value,
                    "samples": site_samples,
                    "verdict": row.classify(site_value, site_samples),
                    "unit": row.unit,
                }
            )
        for name, feature in (given.get("features") or {}).items():
            feature_rates[f"{name}@{site}"] = (
                feature.get("error_rate"),
                int(feature.get("samples") or 0),
            )
        if given.get("complaints_last_hour") is not None:
            complaints = max(complaints or 0, int(given["complaints_last_hour"]))
        site_base = (baselines.get(f"site:{site}") or {}).get("metrics") or {}
        for metric in ("initial_load", "preview_update"):
            if metric in given:
                current_perf[f"{metric}@{site}"] = _value(given[metric])[0]
                baseline_perf[f"{metric}@{site}"] = site_base.get(metric)
    decision = decisions.decide(
        [
            decisions.error_rates(feature_rates, rows["api_errors"].min_samples),
            decisions.critical_errors(critical),
            decisions.degradation(current_perf, baseline_perf),
            decisions.complaints(complaints),
            decisions.novelty(fatal, known),
        ]
    )
    verdicts = [r["verdict"] for r in table] or ["inconclusive"]
    overall = max(verdicts, key=lambda v: ORDER[v])
    if overall == "inconclusive" and any(v == "green" for v in verdicts):
        overall = "green"
    if overall == "green" and any(r["metric"] == "logs" for r in table):
        overall = "inconclusive"  # a host that could not be scanned is not a green host
    if decision.rollback:
        overall = "red"
    return {
        "verdict": overall,
        "table": table,
        "decision": decision.to_dict(),
        "inputs": {
            "critical_recent": critical,
            "first_critical_seen": min(first_fatal) if first_fatal else None,
            "fatal_fingerprints": len(fatal),
            "features": {
                k: {"rate_percent": v[0], "samples": v[1]} for k, v in feature_rates.items()
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
