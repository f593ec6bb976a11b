"""The deployment report (`runbook report`, the workflow's `monitor-deployment.sh --report`):
the Success Metrics per site over a period, from the monitor's stored cycles, with the
decisions, actions and incidents of the period. Pure: the caller reads the record.

Each metric is met, not met or unknown, with its figures:
  error rate < 1%                     the API's and PHP's error rates, weighted by samples
  performance within 10% of baseline  the API's p95 against the site's baseline
  zero critical errors                PHP fatal and parse errors the cycles read
  support tickets not up              the metrics input's support_tickets (% over baseline)
  feature adoption > 80%              the metrics input's feature_adoption
  zero downtime                       5xx answers in the access logs, failed smoke checks
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

MET, NOT_MET, UNKNOWN = "met", "not met", "unknown"
VERIFICATION_FAILED = 5


def _weighted(rows: Iterable[Mapping[str, Any]]) -> tuple[float | None, int]:
    total, samples = 0.0, 0
    for row in rows:
        value, n = row.get("value"), int(row.get("samples") or 0)
        if value is not None and n > 0:
            total += float(value) * n
            samples += n
    return (total / samples if samples else None), samples


def series(cycles: list[dict[str, Any]], site: str) -> list[dict[str, Any]]:
    """Per cycle: the site's API and PHP error rates (%), API p95 (ms), verdict."""
    out = []
    for cycle in cycles:
        entry = cycle["sites"].get(site)
        if not entry:
            continue
        metrics = entry.get("metrics") or []
        by = {m: [r for r in metrics if r["metric"] == m] for m in ("api_errors", "php_errors")}
        api, api_n = _weighted(by["api_errors"])
        php, php_n = _weighted(by["php_errors"])
        p95, p95_n = _weighted(r for r in metrics if r["metric"] == "api_response")
        out.append(
            {
                "at": cycle["at"],
                "verdict": entry["verdict"],
                "api_error_rate": api,
                "api_requests": api_n,
                "php_error_rate": php,
                "requests": php_n,
                "p95_ms": p95,
                "timed": p95_n,
            }
        )
    return out


def _mean(points: list[dict[str, Any]], value: str, weight: str) -> tuple[float | None, int]:
    return _weighted({"value": p[value], "samples": p[weight]} for p in points)


def _latest_site_metric(cycles: list[dict[str, Any]], site: str, metric: str) -> float | None:
    for cycle in reversed(cycles):
        for row in (cycle["sites"].get(site) or {}).get("metrics") or []:
            if row["scope"] == "site" and row["metric"] == metric and row["value"] is not None:
                return float(row["value"])
    return None


def success_metrics(
    cycles: list[dict[str, Any]],
    site: str,
    baseline_ms: float | None,
    failed_smoke_runs: list[str],
) -> list[dict[str, Any]]:
    """The document's Success Metrics for one site over the cycles given."""
    points = series(cycles, site)
    api, api_n = _mean(points, "api_error_rate", "api_requests")
    php, php_n = _mean(points, "php_error_rate", "requests")
    out = []

    known = [r for r in (api, php) if r is not None]
    out.append(
        {
            "metric": "Error rate < 1%",
            "result": UNKNOWN if not known else MET if max(known) < 1 else NOT_MET,
            "figures": (
                f"API {_pct(api)} of {api_n} requests, PHP {_pct(php)} of {php_n} requests"
            ),
        }
    )
    p95, timed = _mean(points, "p95_ms", "timed")
    if p95 is None or not baseline_ms:
        perf = UNKNOWN
        figures = f"p95 {_ms(p95)} over {timed} timed requests; " + (
            "no baseline (runbook health baseline)" if not baseline_ms else "no measurement"
        )
    else:
        change = (p95 - baseline_ms) / baseline_ms * 100
        perf = MET if change <= 10 else NOT_MET
        figures = f"p95 {_ms(p95)} against a baseline of {_ms(baseline_ms)} ({change:+.1f}%)"
    out.append({"metric": "Performance within 10% of baseline", "result": perf, "figures": figures})

    raws: list[dict[str, dict[str, int]]] = [
        raw for c in cycles if (raw := (c["sites"].get(site) or {}).get("raw"))
    ]
    critical = sum(h.get("critical_new", 0) for r in raws for h in r.values())
    out.append(
        {
            "metric": "Zero critical errors",
            "result": UNKNOWN if not raws else MET if critical == 0 else NOT_MET,
            "figures": f"{critical} PHP fatal/parse errors in {len(raws)} cycles",
        }
    )
    tickets = _latest_site_metric(cycles, site, "support_tickets")
    out.append(
        {
            "metric": "No increase in support tickets",
            "result": UNKNOWN if tickets is None else MET if tickets <= 0 else NOT_MET,
            "figures": "no metrics input" if tickets is None else f"{tickets:+.1f}% over baseline",
        }
    )
    adoption = _latest_site_metric(cycles, site, "feature_adoption")
    out.append(
        {
            "metric": "Feature adoption > 80%",
            "result": UNKNOWN if adoption is None else MET if adoption > 80 else NOT_MET,
            "figures": "no metrics input" if adoption is None else f"{adoption:.1f}%",
        }
    )
    requests = sum(h.get("requests", 0) for r in raws for h in r.values())
    errors_5xx = sum(h.get("errors_5xx", 0) for r in raws for h in r.values())
    if failed_smoke_runs:
        downtime = NOT_MET
    elif not requests:
        downtime = UNKNOWN
    else:
        downtime = MET if errors_5xx == 0 else NOT_MET
    smoke = (
        f"; failed smoke checks in run {', '.join(failed_smoke_runs)}" if failed_smoke_runs else ""
    )
    out.append(
        {
            "metric": "Zero downtime",
            "result": downtime,
            "figures": f"{errors_5xx} 5xx answers of {requests} requests{smoke}",
        }
    )
    return out


def failed_smoke(runs: list[dict[str, Any]], hosts: set[str]) -> list[str]:
    """Runs of the period whose verification (smoke checks) failed on these hosts."""
    return [
        r["run_id"]
        for r in runs
        if r.get("exit_code") == VERIFICATION_FAILED
        and (not r.get("hosts") or hosts & {h["host"] for h in r["hosts"]})
    ]


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}%"


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f} ms"
