"""What a run prints when it ends: the per-host summary, and runbook-specific reports."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from runbook.errors import ExitCode
from runbook.execution import RunResult
from runbook.progress import STYLE, LiveProgress, NoProgress, PlainProgress
from runbook.target import Profile
from runbook.text import visible

__all__ = [
    "REPORTS",
    "Report",
    "print_health",
    "progress_for",
    "report_for",
    "text",
    "visible",
]


def text(value: object, style: str = "") -> Text:
    """User or host text for a rich table or line: never markup, controls made visible."""
    return Text(visible(value), style=style)


def progress_for(console: Console, title: str, quiet: bool = False) -> Any:
    """How a run shows itself: a live table on a terminal, lines in a pipe, nothing for --json."""
    if quiet:
        return NoProgress()
    if console.is_terminal:
        return LiveProgress(console, title)
    return PlainProgress(sys.stdout)


def status_report(result: RunResult, profile: Profile) -> dict[str, Any]:
    """The status runbook's report: sites with their options, each with its nodes."""
    sites: dict[str, Any] = {}
    for name, state in result.model.hosts.items():
        site_name = state.site or "-"
        site_report = result.model.site_reports.get(site_name, {})
        options = site_report.get("options", {})
        site = sites.setdefault(
            site_name,
            {
                "feature_flags": options.get(profile.flags_option),
                "rollout_percentages": options.get(profile.rollout_option),
                "flag_order": list(profile.flags),
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
        if state.report.get("lock"):
            site.setdefault("locks", []).append({"node": name, **state.report["lock"]})
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
                text("yes", "green")
                if node["reachable"]
                else text("no ", "bold red") + text(node["message"] or "")
            )
            # Backups a restore marked bad are never chosen: the newest shown is the newest good.
            newest = text(node["newest_backup"] or "-")
            if node["bad_backups"]:
                newest += text(f" ({node['bad_backups']} marked bad)", "yellow")
            nodes.add_row(
                text(site_name),
                text(host),
                reach,
                text(node["wordpress_version"] or "-"),
                text(node["plugin_version"] or "-"),
                newest,
            )
        values = site["feature_flags"]
        rollout = (
            site["rollout_percentages"] if isinstance(site["rollout_percentages"], dict) else {}
        )
        if not isinstance(values, dict):
            why = "; ".join(site["errors"]) or "no reachable node"
            flags.add_row(text(site_name), text("unknown", "dim"), "", text(why, "red"))
            continue
        order = site.get("flag_order") or []
        ordered = [k for k in order if k in values] + sorted(set(values) - set(order))
        for flag in ordered:
            flags.add_row(
                text(site_name),
                text(flag),
                text("on", "green") if values[flag] else text("off", "dim"),
                text(f"{rollout[flag]}%" if flag in rollout else "-"),
            )
    console.print(nodes)
    console.print(flags)
    for site_name, site in report["sites"].items():
        for lock in site.get("locks", []):
            console.print(
                text(
                    f"LOCKED: site {site_name} by run {lock.get('run_id')} "
                    f"({lock.get('runbook')}, {lock.get('owner')}: {lock.get('reason')!r}) "
                    f"since {lock.get('since')} until {lock.get('expires')}, on {lock['node']}",
                    "bold yellow",
                )
            )


def print_summary(console: Console, result: RunResult) -> None:
    counts = result.model.counts()
    parts = [f"{n} {k}" for k, n in counts.items() if n]
    style = "green" if result.exit_code == ExitCode.OK else "bold red"
    console.print(
        text(f"{result.request.runbook.name}: {result.status}", style)
        + text(
            f" ({', '.join(parts) or 'no hosts'}) in {result.duration:.1f} s; run {result.run_id}"
        ),
        highlight=False,
    )
    if result.record_error:
        console.print(
            text(f"NOT RECORDED: {result.record_error}; this summary is the record", "bold red")
        )
    if result.model.error:
        console.print(text("the playbook failed before any host did; Ansible said:", "bold red"))
        console.print(text(result.model.error), highlight=False)
    bad = [
        s for s in result.model.hosts.values() if s.outcome in ("failed", "unreachable", "not-run")
    ]
    for state in bad:
        where = f" at '{state.failed_task}'" if state.failed_task else ""
        site = f" (site {state.site})" if state.site else ""
        # The message may quote a reason or a lock's owner: text, never markup.
        console.print(
            text(f"  {state.host}{site}: {state.outcome}{where}", STYLE[state.outcome])
            + text(f": {state.message}" if state.message else ""),
            highlight=False,
        )
    for site_name, report in result.model.site_reports.items():
        taken = report.get("lock_taken_over")
        if taken:
            console.print(
                text(
                    f"LOCK TAKEN OVER: site {site_name} from run {taken['from'].get('run_id')} "
                    f"({taken['from'].get('owner')}: {taken['from'].get('reason')!r}), "
                    f"{taken['why']}",
                    "bold yellow",
                )
            )
    if result.interrupted:
        console.print(
            text("interrupted", "bold red")
            + text(
                f": the run record holds each host's last step (runbook runs show {result.run_id})"
            )
        )


def rollback_report(result: RunResult, profile: Profile) -> dict[str, Any]:
    """What a rollback did per site and node, and, loudly, what it did not."""
    sites: dict[str, Any] = {}
    for name, state in result.model.hosts.items():
        site_name = state.site or "-"
        site_report = result.model.site_reports.get(site_name, {})
        site = sites.setdefault(
            site_name,
            {
                "options_changed": site_report.get("options_changed", {}),
                "flags_option": profile.flags_option,
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
        changed = site["options_changed"].get(site.get("flags_option"))
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
                text(site_name),
                text(host),
                text(node["outcome"], style),
                text(plugin),
                text(node["backup"] or "-"),
                text(flags),
            )
    console.print(table)
    for site_name, site in report["sites"].items():
        if site["split_versions"]:
            console.print(
                text(
                    f"SITE {site_name} IS SPLIT: its nodes run different plugin versions, "
                    "or not all were rolled back",
                    "bold red",
                )
            )
    for site_name, hosts in report["not_rolled_back"].items():
        for host, why in hosts.items():
            console.print(text(f"NOT ROLLED BACK: {host} (site {site_name}): {why}", "bold red"))


def log_scan_report(result: RunResult, profile: Profile) -> dict[str, Any]:
    """What each node's logs held in the window: records per level, the top fingerprints."""
    nodes: dict[str, Any] = {}
    for name, state in result.model.hosts.items():
        logs = state.report.get("logs") or {}
        levels: dict[str, int] = {}
        for key, n in (logs.get("counts") or {}).items():
            src, _, level = key.partition(":")
            if src != profile.slug:  # the plugin's records are counted under their source too
                levels[level] = levels.get(level, 0) + n
        nodes[name] = {
            "site": state.site,
            "scanned": bool(logs),
            "levels": levels,
            "critical_recent": logs.get("critical_recent"),
            "top": [
                {k: e.get(k) for k in ("count", "level", "sample")} for e in logs.get("top", [])
            ],
        }
    return {"nodes": nodes}


def print_log_scan(console: Console, report: dict[str, Any]) -> None:
    table = Table(title="Logs", title_justify="left")
    for column in ("host", "site", "records by level", "most common"):
        table.add_column(column)
    for host, node in report["nodes"].items():
        levels = ", ".join(f"{k} {v}" for k, v in sorted(node["levels"].items())) or "none"
        top = node["top"][0]["sample"][:80] if node["top"] else "-"
        table.add_row(
            text(host),
            text(node["site"] or "-"),
            text(levels) if node["scanned"] else text("not scanned", "bold red"),
            text(top),
        )
    console.print(table)


VERDICT_STYLE = {"green": "green", "yellow": "yellow", "red": "bold red", "inconclusive": "dim"}


def print_health(console: Console, outcome: dict[str, Any], since: str) -> None:
    """`runbook health`'s verdict table, each rule with its evidence, and the verdict."""
    table = Table(title=f"Health since {since}", title_justify="left")
    for column in ("scope", "target", "metric", "value", "samples", "verdict"):
        table.add_column(column)
    for row in outcome["table"]:
        value = "-" if row["value"] is None else f"{row['value']:g} {row['unit']}"
        style = VERDICT_STYLE[row["verdict"]]
        table.add_row(
            row["scope"],
            text(row["target"]),
            row["metric"],
            value,
            str(row["samples"] if row["samples"] is not None else "-"),
            f"[{style}]{row['verdict']}[/]",
        )
    console.print(table)
    decision = outcome["decision"]
    for rule in decision["rules"]:
        style = {"fired": "bold red", "ok": "green", "inconclusive": "dim"}[rule["result"]]
        console.print(f"  [{style}]{rule['result']:>12}[/] ", end="", highlight=False)
        console.print(
            text(f"{rule['rule']}: {json.dumps(rule['evidence'], default=str)[:300]}"),
            highlight=False,
        )
    for host, skew in outcome["inputs"].get("clock_skew_seconds", {}).items():
        if skew is not None and abs(skew) > 5:
            console.print(
                f"[yellow]clock skew: {host} is {skew:+g} s off the controller; "
                "its records' times are its own[/]"
            )
    verdict = outcome["verdict"]
    if decision["rollback"]:
        console.print(
            f"[bold red]ROLLBACK: {', '.join(decision['fired'])} fired[/] "
            "(runbook p0-rollback --reason ...)"
        )
    console.print(f"verdict: [{VERDICT_STYLE[verdict]}]{verdict}[/]")


@dataclass(frozen=True)
class Report:
    """A runbook's report: built from the run (for --json), shown after the summary."""

    build: Callable[[RunResult, Profile], dict[str, Any]]
    show: Callable[[Console, dict[str, Any]], None]


#: The reports a catalog entry can name in `report:` (catalog.REPORT_KINDS).
REPORTS: dict[str, Report] = {
    "status": Report(status_report, print_status),
    "rollback": Report(rollback_report, print_rollback),
    "log-scan": Report(log_scan_report, print_log_scan),
}


def report_for(kind: str | None) -> Report | None:
    return REPORTS.get(kind) if kind else None


VERDICT_STYLE = {"green": "green", "yellow": "yellow", "red": "bold red", "inconclusive": "dim"}


def _metric(row: dict[str, Any] | None) -> str:
    if not row:
        return "-"
    value = "-" if row.get("value") is None else f"{row['value']}{row.get('unit') or ''}"
    return f"{row['target']} {row['metric']} {value} (n={row.get('samples')})"


def _protection(state: dict[str, Any]) -> str:
    parts = []
    if state.get("in_flight"):
        parts.append(f"in flight: {state['in_flight']['action']}")
    if state.get("breaker"):
        parts.append(f"BREAKER OPEN since {state['breaker']['tripped_at']}")
    if state.get("cooldown_until"):
        parts.append(f"cooldown until {state['cooldown_until']}")
    if state.get("verifying"):
        parts.append(f"verifying until {state['verifying']['until']}")
    return "; ".join(parts) or "-"


def _decision(plan: dict[str, Any]) -> str:
    if plan.get("action") in (None, "none"):
        return plan.get("held") or ("verified green" if plan.get("verified") else "none")
    word = "would " if plan.get("would") else ""
    held = f" (held: {plan['held']})" if plan.get("held") else ""
    return f"{word}{plan['action']}{held}"


def monitor_board(doc: dict[str, Any], next_in: float | None = None) -> Table:
    """The live board: one row per site, its verdict per table, the worst metric, the last
    decision, cooldown and breaker, and the time to the next cycle."""
    title = (
        f"runbook monitor: {doc['fleet']} · cycle {doc.get('cycle')} at {doc['at']}"
        + (" · DRY RUN (acts on nothing)" if doc.get("dry_run") else "")
        + (f" · next in {int(next_in)} s" if next_in is not None else "")
    )
    table = Table(title=visible(title), title_justify="left")
    for column in ("site", "verdict", "errors", "performance", "users", "worst", "decision"):
        table.add_column(column)
    table.add_column("cooldown / breaker")
    for site, entry in doc["sites"].items():
        tables = entry.get("tables") or {}
        table.add_row(
            text(site),
            text(entry["verdict"], VERDICT_STYLE.get(entry["verdict"], "")),
            *(
                text(tables.get(t, "-"), VERDICT_STYLE.get(tables.get(t, ""), ""))
                for t in ("error_rates", "performance", "user_impact")
            ),
            text(_metric(entry.get("worst"))),
            text(_decision(entry["plan"])),
            text(_protection(entry["state"])),
        )
    if doc.get("brake"):
        table.caption = visible(doc["brake"])
    return table


def monitor_line(doc: dict[str, Any]) -> str:
    """A cycle in one line, for logs and pipes."""
    sites = ", ".join(
        f"{site} {entry['verdict']} [{_decision(entry['plan'])}]"
        for site, entry in doc["sites"].items()
    )
    flag = " (dry run)" if doc.get("dry_run") else ""
    return visible(f"{doc['at']} cycle {doc.get('cycle')}{flag}: {doc['verdict']}: {sites}")


def print_monitor_status(console: Console, status: dict[str, Any]) -> None:
    if not status["monitors"]:
        console.print("No monitor has run on this record yet.")
    for mon in status["monitors"]:
        lease = mon["lease"]
        head = (
            f"running on {lease['controller']} (pid {lease['pid']}, {lease['owner']}) since "
            f"{lease['started_at']}, heartbeat {lease['heartbeat_age_seconds']} s ago"
            if lease
            else "not running"
        )
        last = mon["last_cycle"]
        console.print(text(f"{mon['fleet']}: {head}", "bold"))
        if last:
            console.print(text(f"  last cycle {last['id']} at {last['at']}: {last['verdict']}"))
        table = Table(title_justify="left")
        for column in ("site", "verdict", "last decision", "cooldown / breaker", "incident"):
            table.add_column(column)
        for site, entry in mon["sites"].items():
            table.add_row(
                text(site),
                text(
                    entry.get("verdict") or "-", VERDICT_STYLE.get(entry.get("verdict") or "", "")
                ),
                text(_decision(entry.get("last_decision") or {})),
                text(_protection(entry)),
                text(entry.get("incident_id") or "-"),
            )
        console.print(table)
        for event in mon["events"]:
            console.print(text(f"  {event['at']} {event['kind']}: {event['summary']}"))
    if status["open_incidents"]:
        console.print(text("Open incidents:", "bold"))
        for inc in status["open_incidents"]:
            line = f"  {inc['id']} {inc['priority']} {inc['status']} L{inc['level']}: "
            console.print(text(line + str(inc["title"])))


def print_simulation(console: Console, out: dict[str, Any]) -> None:
    """What the monitor would do with recorded logs: per site, the verdict per table, each
    fired trigger with its evidence, and the action."""
    console.print(text(f"Simulated at {out['now']} with {out['policy']}", "bold"))
    for site, entry in out["sites"].items():
        tables = ", ".join(f"{t} {v}" for t, v in (entry.get("tables") or {}).items())
        console.print(
            text(f"{site}: ", "bold")
            + text(entry["verdict"], VERDICT_STYLE.get(entry["verdict"], ""))
            + text(f" ({tables or 'no measurements'})")
        )
        for rule in entry["rules"]:
            if rule["result"] == "fired":
                evidence = json.dumps(rule.get("evidence"), default=str)
                console.print(text(f"  FIRED {rule['rule']}: {evidence[:300]}", "red"))
        plan = entry["plan"]
        if plan["action"] in ("p0-rollback", "p1-disable-feature"):
            what = f"{plan['action']}" + (
                f" --feature {plan['feature']}" if plan["feature"] else ""
            )
            held = f" (held: {plan['held']})" if plan.get("held") else ""
            console.print(text(f"  the monitor would run {what} on {site}{held}", "bold"))
            console.print(text(f"  reason: auto: {plan['summary']}"))
        elif plan["action"] == "notify":
            console.print(text(f"  the monitor would page: {plan['summary']}", "yellow"))
        else:
            why = f" ({plan['held']})" if plan.get("held") else ""
            console.print(text(f"  the monitor would do nothing{why}"))
    if out.get("brake"):
        console.print(text(out["brake"], "bold red"))
