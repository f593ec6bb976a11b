"""What a run prints when it ends: the per-host summary, and runbook-specific reports."""

from __future__ import annotations

import json
from typing import Any

from rich.console import Console
from rich.table import Table

from runbook.errors import ExitCode
from runbook.execution import RunResult
from runbook.progress import STYLE

FLAG_ORDER = (
    "modern_preview_engine",
    "modern_state_manager",
    "modern_api_client",
    "legacy_fallback",
)


def status_report(result: RunResult) -> dict[str, Any]:
    """The status runbook's report: sites with their options, each with its nodes."""
    sites: dict[str, Any] = {}
    for name, state in result.model.hosts.items():
        site_name = state.site or "-"
        site_report = result.model.site_reports.get(site_name, {})
        options = site_report.get("options", {})
        site = sites.setdefault(
            site_name,
            {
                "feature_flags": options.get("mase_feature_flags"),
                "rollout_percentages": options.get("mase_feature_rollout_percentages"),
                "options_read_on": site_report.get("read_on"),
                "errors": site_report.get("errors", []),
                "nodes": {},
            },
        )
        site["nodes"][name] = {
            "reachable": not state.unreachable and state.seen,
            "outcome": state.outcome,
            "message": state.message,
            "wordpress_version": state.report.get("wordpress_version"),
            "plugin_version": state.report.get("plugin_version"),
            "newest_backup": state.report.get("newest_backup"),
            "bad_backups": state.report.get("bad_backups") or 0,
            "backups": state.report.get("backups"),
        }
    return {"sites": sites}


def print_status(console: Console, report: dict[str, Any]) -> None:
    nodes = Table(title="Hosts", title_justify="left")
    for column in ("site", "host", "reachable", "WordPress", "plugin", "newest backup"):
        nodes.add_column(column)
    flags = Table(title="Feature flags (read once per site)", title_justify="left")
    for column in ("site", "flag", "enabled", "rollout"):
        flags.add_column(column)
    for site_name, site in report["sites"].items():
        for host, node in site["nodes"].items():
            reach = (
                "[green]yes[/]" if node["reachable"] else f"[bold red]no[/] {node['message'] or ''}"
            )
            # Backups a restore marked bad are never chosen: the newest shown is the newest good.
            bad = f" [yellow]({node['bad_backups']} marked bad)[/]" if node["bad_backups"] else ""
            nodes.add_row(
                site_name,
                host,
                reach,
                node["wordpress_version"] or "-",
                node["plugin_version"] or "-",
                (node["newest_backup"] or "-") + bad,
            )
        values = site["feature_flags"]
        rollout = (
            site["rollout_percentages"] if isinstance(site["rollout_percentages"], dict) else {}
        )
        if not isinstance(values, dict):
            why = "; ".join(site["errors"]) or "no reachable node"
            flags.add_row(site_name, "[dim]unknown[/]", "", f"[red]{why}[/]")
            continue
        ordered = [k for k in FLAG_ORDER if k in values] + sorted(set(values) - set(FLAG_ORDER))
        for flag in ordered:
            flags.add_row(
                site_name,
                flag,
                "[green]on[/]" if values[flag] else "[dim]off[/]",
                f"{rollout[flag]}%" if flag in rollout else "-",
            )
    console.print(nodes)
    console.print(flags)


def print_summary(console: Console, result: RunResult) -> None:
    counts = result.model.counts()
    parts = [f"{n} {k}" for k, n in counts.items() if n]
    style = "green" if result.exit_code == ExitCode.OK else "bold red"
    console.print(
        f"[{style}]{result.request.runbook.name}: {result.status}[/] "
        f"({', '.join(parts) or 'no hosts'}) in {result.duration:.1f} s; run {result.run_id}"
    )
    if result.model.error:
        console.print("[bold red]the playbook failed before any host did; Ansible said:[/]")
        console.print(result.model.error, markup=False, highlight=False)
    bad = [
        s for s in result.model.hosts.values() if s.outcome in ("failed", "unreachable", "not-run")
    ]
    for state in bad:
        where = f" at '{state.failed_task}'" if state.failed_task else ""
        site = f" (site {state.site})" if state.site else ""
        console.print(
            f"  [{STYLE[state.outcome]}]{state.host}{site}: {state.outcome}{where}[/]"
            + (f": {state.message}" if state.message else "")
        )
    if result.interrupted:
        console.print(
            "[bold red]interrupted[/]: the run record holds each host's last step "
            f"(runbook runs show {result.run_id})"
        )


def rollback_report(result: RunResult) -> dict[str, Any]:
    """What a rollback did per site and node, and, loudly, what it did not."""
    sites: dict[str, Any] = {}
    for name, state in result.model.hosts.items():
        site_name = state.site or "-"
        site_report = result.model.site_reports.get(site_name, {})
        site = sites.setdefault(
            site_name,
            {
                "options_changed": site_report.get("options_changed", {}),
                "caches": site_report.get("caches"),
                "lock": site_report.get("lock"),
                "checks": site_report.get("smoke_test_site"),
                "nodes": {},
            },
        )
        restore = state.report.get("restore") or {}
        site["nodes"][name] = {
            "outcome": state.outcome,
            "rolled_back": state.outcome in ("ok", "changed"),
            "step": state.failed_task or state.task,
            "message": state.message,
            "backup": restore.get("backup"),
            "version_before": restore.get("version_before") or state.report.get("plugin_version"),
            "version_after": restore.get("version_after"),
            "snapshot": restore.get("snapshot"),
            "opcache_reset": restore.get("opcache_reset"),
        }
    not_rolled_back = {}
    for site_name, site in sites.items():
        versions = {n["version_after"] or n["version_before"] for n in site["nodes"].values()}
        done = {n["rolled_back"] for n in site["nodes"].values()}
        # Split: its nodes run different versions, or some were rolled back and some not.
        site["split_versions"] = len(versions - {None}) > 1 or done == {True, False}
        bad = {h: n for h, n in site["nodes"].items() if not n["rolled_back"]}
        if bad:
            not_rolled_back[site_name] = {
                h: f"{n['outcome']} at {n['step']!r}: {n['message'] or ''}".strip()
                for h, n in bad.items()
            }
    return {"sites": sites, "not_rolled_back": not_rolled_back}


def print_rollback(console: Console, report: dict[str, Any]) -> None:
    table = Table(title="Rollback", title_justify="left")
    for column in ("site", "host", "outcome", "plugin", "backup", "flags changed"):
        table.add_column(column)
    for site_name, site in report["sites"].items():
        changed = site["options_changed"].get("mase_feature_flags")
        flags = (
            ", ".join(
                # As JSON, as the option holds them: modern_api_client=false, not False.
                f"{k}={json.dumps(v)}"
                for k, v in changed["after"].items()
                if changed["before"].get(k) != v
            )
            or "unchanged"
            if changed
            else "-"
        )
        for host, node in site["nodes"].items():
            before, after = node["version_before"], node["version_after"]
            plugin = (
                f"{before} -> {after}" if after and after != before else (after or before or "-")
            )
            style = STYLE.get(node["outcome"], "")
            table.add_row(
                site_name,
                host,
                f"[{style}]{node['outcome']}[/]",
                plugin,
                node["backup"] or "-",
                flags,
            )
    console.print(table)
    for site_name, site in report["sites"].items():
        if site["split_versions"]:
            console.print(
                f"[bold red]SITE {site_name} IS SPLIT: its nodes run different plugin versions, "
                "or not all were rolled back[/]"
            )
    for site_name, hosts in report["not_rolled_back"].items():
        for host, why in hosts.items():
            console.print(f"[bold red]NOT ROLLED BACK: {host} (site {site_name}): {why}[/]")


#: Runbook-specific reports: added to --json under "report" and printed after the summary.
REPORTS = {
    "status": (status_report, print_status),
    "p0-rollback": (rollback_report, print_rollback),
    "restore-backup": (rollback_report, print_rollback),
    "p1-disable-feature": (rollback_report, print_rollback),
}
