"""`runbook report` as a use case: the period's cycles, decisions, actions, runs and
incidents from the record, turned into the Success Metrics per site (runbook.monitor.report)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from runbook import clock
from runbook.errors import RunbookError
from runbook.incidents.records import Incidents
from runbook.monitor import report
from runbook.service.workspace import Workspace

#: Runs that are the monitor's own scans, not actions: left out of the report's runs.
SCANS = ("log-scan",)


def build(ws: Workspace, since: str = "24h") -> dict[str, Any]:
    try:
        start = clock.stamp(clock.window_start(since))
    except ValueError as exc:
        raise RunbookError(f"--since {exc}") from None
    with ws.store() as store:
        cycles = store.cycles(since=start, limit=100_000)
        events = store.monitor_events(since=start, limit=10_000)
        baselines = store.baselines()
        runs = [
            store.run(r["run_id"])
            for r in store.runs(1000)
            if r["started_at"] >= start and r["runbook"] not in SCANS
        ]
        incidents = [
            i
            for i in Incidents(store).all(True)
            if i["opened_at"] >= start
            or i["status"] != "resolved"
            or (i.get("resolved_at") or "") >= start
        ]
        changes = [
            {**r, "events": store.rollout_events(r["id"])}
            for r in store.rollouts(200)
            if r["created_at"] >= start or r["updated_at"] >= start
        ]
    sites = sorted({s for c in cycles for s in c["sites"]})
    out_sites = {}
    for site in sites:
        hosts = {
            r["target"]
            for c in cycles
            for r in (c["sites"].get(site) or {}).get("metrics") or []
            if r["scope"] == "host"
        }
        known = [
            float(baselines[h]["metrics"]["api_response"])
            for h in sorted(hosts)
            if h in baselines and (baselines[h].get("metrics") or {}).get("api_response")
        ]
        baseline_ms = sum(known) / len(known) if known else None
        out_sites[site] = {
            "hosts": sorted(hosts),
            "baseline_p95_ms": baseline_ms,
            "metrics": report.success_metrics(
                cycles, site, baseline_ms, report.failed_smoke(runs, hosts)
            ),
            "series": report.series(cycles, site),
            "events": [e for e in events if e["site"] == site],
        }
    return {
        "since": start,
        "until": clock.stamp(),
        "cycles": len(cycles),
        "sites": out_sites,
        "events": [
            {k: e[k] for k in ("at", "site", "kind", "summary", "incident_id", "run_id")}
            for e in events
            if e["kind"] != "paged"
        ],
        "runs": [
            {
                k: r.get(k)
                for k in ("run_id", "runbook", "status", "exit_code", "started_at", "reason")
            }
            for r in runs
        ],
        "changes": [_change(c) for c in changes],
        "incidents": [
            {
                k: i.get(k)
                for k in ("id", "priority", "status", "level", "title", "opened_at", "resolved_at")
            }
            for i in incidents
        ],
    }


def _change(change: dict[str, Any]) -> dict[str, Any]:
    """A deploy or rollout of the period: what it was, how it ended, each gate's verdict and
    the visual check's pages (the images' paths: the HTML report shows the ones that failed)."""
    gates = [e for e in change["events"] if e["kind"] in ("gate", "visual")]
    pages = [
        {**p, "wave": (e["data"] or {}).get("wave")}
        for e in gates
        for p in ((e["data"] or {}).get("visual") or e["data"] or {}).get("pages", [])
    ]
    threshold = ((change["plan"].get("visual") or {}).get("threshold")) or 0.0
    for p in pages:
        p["failed"] = not 200 <= int(p["status"]) < 400 or p["changed_share"] > threshold
    return {
        "id": change["id"],
        "kind": change["kind"],
        "subject": change["subject"],
        "status": change["status"],
        "reason": change["reason"],
        "operator": change["operator"],
        "created_at": change["created_at"],
        "incident_id": change.get("incident_id"),
        "gates": [
            {"at": e["at"], "kind": e["kind"], "summary": e["summary"]}
            for e in change["events"]
            if e["kind"] in ("gate", "visual", "promoted", "paused", "aborted", "completed")
        ],
        "visual_threshold": threshold,
        "visual_pages": pages,
    }


def render(doc: dict[str, Any], fmt: str) -> str:
    from runbook.monitor import render as renderer

    return renderer.render(doc, fmt)


def write(path: Path, content: str) -> None:
    """The report to `path`, whole or not at all (a temporary file renamed)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(content)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except OSError as exc:
        raise RunbookError(f"-o {path}: cannot write: {exc.strerror or exc}") from None
