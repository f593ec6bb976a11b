"""`runbook logs errors|top` and `runbook health [baseline]`: the logs, judged.

Both run the catalog's `log-scan` runbook (the log_scan_info module on every node) and judge
what it returns here, with the workflow document's thresholds and decision matrix.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
import yaml
from rich.console import Console
from rich.table import Table

from runbook.errors import ExitCode, RunbookError

VERDICT_STYLE = {"green": "green", "yellow": "yellow", "red": "bold red", "inconclusive": "dim"}
VERDICT_EXIT = {
    "green": ExitCode.OK,
    "yellow": ExitCode.HEALTH_YELLOW,
    "red": ExitCode.HEALTH_RED,
    "inconclusive": ExitCode.HEALTH_INCONCLUSIVE,
}
LEVELS = ("fatal", "parse", "error", "warning", "notice", "deprecated")
MANUAL_TRIGGERS_KEYS = ("cascading-failures", "data-integrity", "security", "widespread-impact")
SOURCES = ("php", "wordpress", "nginx", "mase")

target_options = [
    click.option(
        "--until",
        metavar="TIME",
        help="The window's end, ISO 8601 (default now): with --since, a range.",
    ),
    click.option(
        "-i",
        "--inventory",
        multiple=True,
        metavar="INVENTORY",
        help="Inventory (default: as for runbooks).",
    ),
    click.option("-l", "--limit", metavar="PATTERN", help="Only these hosts or groups."),
    click.option("--json", "as_json", is_flag=True, help="Print JSON."),
]


def _with_targets(f: Any) -> Any:
    for option in reversed(target_options):
        f = option(f)
    return f


def scan(
    ctx: click.Context,
    since: str,
    top: int,
    inventory: tuple[str, ...],
    limit: str | None,
    extra: dict[str, Any] | None = None,
    until: str | None = None,
) -> Any:
    """Run log-scan and return the run's result (per-host logs in each host's report)."""
    from runbook.cli.run import common_options, execute_options

    book = ctx.find_root().obj.catalog().get("log-scan")
    if book is None:
        raise RunbookError("the catalog has no log-scan runbook")
    options = common_options(
        inventory=inventory,
        limit=limit,
        since=since,
        until=until,
        top=top,
        extra_vars=(json.dumps(extra),) if extra else (),
    )
    result, _ = execute_options(ctx, book, options, quiet=True)
    if result.exit_code not in (ExitCode.OK, ExitCode.HOSTS_UNREACHABLE, ExitCode.HOSTS_FAILED):
        raise RunbookError(
            f"log-scan failed: {result.status} (run {result.run_id})", result.exit_code
        )
    return result


def clock_skew(node_time: str | None, observed_at: str | None) -> float | None:
    """Seconds the node's clock is ahead of the controller's (negative: behind)."""
    import datetime

    if not node_time or not observed_at:
        return None
    try:
        node = datetime.datetime.fromisoformat(node_time)
        seen = datetime.datetime.fromisoformat(observed_at)
    except ValueError:
        return None
    if seen.tzinfo is None:
        seen = seen.replace(tzinfo=datetime.UTC)
    return round((node - seen).total_seconds(), 1)


def _not_scanned(result: Any) -> dict[str, str]:
    """Hosts whose logs could not be read, and why (unreachable, failed)."""
    return {
        h: f"{s.outcome}: {s.message or ''}".strip()
        for h, s in result.model.hosts.items()
        if not s.report.get("logs")
    }


def _exit_if_partial(result: Any) -> None:
    """After printing: a scan that missed hosts exits with the run's code (3 or 4)."""
    if _not_scanned(result):
        raise click.exceptions.Exit(int(result.exit_code) or int(ExitCode.HOSTS_FAILED))


def _warn_partial(result: Any) -> None:
    for host, why in _not_scanned(result).items():
        click.echo(f"NOT SCANNED: {host}: {why}", err=True)
    _exit_if_partial(result)


def _logs(result: Any) -> dict[str, dict[str, Any]]:
    return {
        h: {
            "site": s.site,
            "logs": s.report.get("logs"),
            "outcome": s.outcome,
            "message": s.message,
            "clock_skew_seconds": clock_skew(
                (s.report.get("logs") or {}).get("node_time"), s.observed_at
            ),
        }
        for h, s in result.model.hosts.items()
    }


@click.group("logs")
def logs_cmd() -> None:
    """Count and group the errors in every node's logs (read where they are)."""


@logs_cmd.command("errors")
@click.option("--since", default="1h", show_default=True, help="The window: 5m, 1h, 2d or ISO.")
@click.option("--source", type=click.Choice(SOURCES), help="Only this source.")
@click.option(
    "--incremental",
    is_flag=True,
    help="Only what was written since the previous --incremental scan (rotation-safe); "
    "the window does not apply.",
)
@_with_targets
@click.pass_context
def errors_cmd(
    ctx: click.Context,
    since: str,
    source: str | None,
    incremental: bool,
    inventory: tuple[str, ...],
    until: str | None,
    limit: str | None,
    as_json: bool,
) -> None:
    """Count errors per level, per host and in total (the document's "count errors")."""
    from runbook.execution import now_utc

    extra = None
    if incremental:
        store = ctx.find_root().obj.store()
        try:
            states = store.scan_states()
        finally:
            store.close()
        extra = {"log_health_incremental": True, "log_health_state_by_host": states}
    result = scan(ctx, since, 1, inventory, limit, extra, until)
    hosts = _logs(result)
    if incremental:
        store = ctx.find_root().obj.store()
        try:
            for host, node in hosts.items():
                if node["logs"] and node["logs"].get("state"):
                    store.set_scan_states(host, node["logs"]["state"], now_utc())
        finally:
            store.close()
    rows: dict[str, dict[str, int]] = {}
    for host, node in hosts.items():
        counts = (node["logs"] or {}).get("counts", {})
        rows[host] = dict.fromkeys(LEVELS, 0)
        for key, n in counts.items():
            src, level = key.split(":", 1)
            if level in rows[host] and source in (None, src):
                if src == "mase" and source != "mase":
                    continue  # mase records are counted under their own source too
                rows[host][level] += n
    total = {level: sum(r[level] for r in rows.values()) for level in LEVELS}
    if as_json:
        click.echo(
            json.dumps(
                {
                    "since": since,
                    "source": source or "all",
                    "hosts": rows,
                    "total": total,
                    "run_id": result.run_id,
                    "not_scanned": _not_scanned(result),
                },
                indent=2,
            )
        )
        _exit_if_partial(result)
        return
    table = Table(
        title=f"Errors since {since}" + (f" ({source})" if source else ""), title_justify="left"
    )
    for column in ("host", *LEVELS):
        table.add_column(column, justify="left" if column == "host" else "right")
    for host, counts in rows.items():
        table.add_row(host, *(str(counts[level]) for level in LEVELS))
    table.add_row("[bold]total[/]", *(f"[bold]{total[level]}[/]" for level in LEVELS))
    Console().print(table)
    _warn_partial(result)


@logs_cmd.command("top")
@click.option("-n", "count", default=10, show_default=True, help="How many.")
@click.option("--since", default="1h", show_default=True, help="The window: 5m, 1h, 2d or ISO.")
@_with_targets
@click.pass_context
def top_cmd(
    ctx: click.Context,
    count: int,
    since: str,
    inventory: tuple[str, ...],
    until: str | None,
    limit: str | None,
    as_json: bool,
) -> None:
    """The most common errors, as fingerprints with counts and where they occur."""
    result = scan(ctx, since, count, inventory, limit, until=until)
    merged: dict[str, dict[str, Any]] = {}
    for host, node in _logs(result).items():
        for entry in (node["logs"] or {}).get("top", []):
            item = merged.setdefault(
                entry["fingerprint"],
                {
                    "fingerprint": entry["fingerprint"],
                    "level": entry["level"],
                    "count": 0,
                    "hosts": {},
                    "first_seen": entry["first_seen"],
                    "last_seen": entry["last_seen"],
                    "sample": entry["sample"],
                },
            )
            item["count"] += entry["count"]
            item["hosts"][host] = entry["count"]
            item["first_seen"] = min(item["first_seen"], entry["first_seen"])
            item["last_seen"] = max(item["last_seen"], entry["last_seen"])
    top = sorted(merged.values(), key=lambda e: (-e["count"], e["fingerprint"]))[:count]
    if as_json:
        click.echo(
            json.dumps(
                {
                    "since": since,
                    "top": top,
                    "run_id": result.run_id,
                    "not_scanned": _not_scanned(result),
                },
                indent=2,
            )
        )
        _exit_if_partial(result)
        return
    table = Table(title=f"Most common errors since {since}", title_justify="left")
    for column in ("count", "level", "where (hosts)", "error"):
        table.add_column(column)
    for item in top:
        where = ", ".join(f"{h}:{n}" for h, n in item["hosts"].items())
        table.add_row(str(item["count"]), item["level"], where, item["sample"][:160])
    Console(width=160).print(table)
    _warn_partial(result)


def _yaml_file(option: str, path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise RunbookError(f"{option} {path}: cannot read: {exc}") from None


def _thresholds(path: Path) -> dict[str, Any]:
    """A thresholds file: the thresholds.yml shape (table -> metric -> row)."""
    data = _yaml_file("--thresholds", path)
    if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
        raise RunbookError(f"--thresholds {path}: must map each table to its rows")
    return data


def _stacked(base: dict[str, Any] | None, inventory: dict[str, Any] | None) -> dict[str, Any]:
    """The inventory's overrides (group_vars health_thresholds), then --thresholds on top."""
    stacked: dict[str, Any] = {}
    for layer in (inventory or {}, base or {}):
        for table, metrics_ in layer.items():
            for metric, row in (metrics_ or {}).items():
                stacked.setdefault(table, {}).setdefault(metric, {}).update(row)
    return stacked


def _queries(path: Path) -> dict[str, str]:
    data = _yaml_file("--prometheus-queries", path)
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        raise RunbookError(f"--prometheus-queries {path}: must map metric names to PromQL")
    return data


@click.group("health", invoke_without_command=True)
@click.option("--since", default="5m", show_default=True, help="The window: 5m, 1h, 2d or ISO.")
@click.option(
    "--metrics",
    "metrics_source",
    metavar="FILE|URL",
    help="Metrics logs cannot give, per site: a JSON/YAML file or an http(s) URL returning "
    "the same JSON (see the README).",
)
@click.option(
    "--prometheus",
    "prometheus_url",
    metavar="URL",
    help="A Prometheus server for instant queries (with --prometheus-queries).",
)
@click.option(
    "--prometheus-queries",
    "prometheus_queries",
    type=click.Path(dir_okay=False, path_type=Path),
    help="YAML: metric -> PromQL, {site} standing for the site's name.",
)
@click.option(
    "--thresholds",
    "thresholds_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Threshold overrides (the thresholds.yml shape).",
)
@click.option(
    "--incident",
    "incident_id",
    type=int,
    metavar="ID",
    help="Put the decision, with its evidence, on this incident's timeline.",
)
@_with_targets
@click.pass_context
def health_cmd(
    ctx: click.Context,
    since: str,
    metrics_source: str | None,
    prometheus_url: str | None,
    prometheus_queries: Path | None,
    thresholds_file: Path | None,
    incident_id: int | None,
    inventory: tuple[str, ...],
    until: str | None,
    limit: str | None,
    as_json: bool,
) -> None:
    """Judge the fleet by the workflow document's thresholds and decision matrix.

    Exit 0 green, 10 yellow, 11 red (a rollback trigger fired counts as red), 12 when nothing
    could be judged: CI can gate on it. Every decision is stored with its inputs.
    """
    if ctx.invoked_subcommand:
        return
    from runbook.execution import now_utc
    from runbook.health import metrics, thresholds
    from runbook.health.evaluate import evaluate

    overrides = _thresholds(thresholds_file) if thresholds_file else None
    rows = thresholds.merged(overrides)
    site_inputs = metrics.load(metrics_source)
    if bool(prometheus_url) != bool(prometheus_queries):
        raise RunbookError("--prometheus and --prometheus-queries go together")
    result = scan(ctx, since, 20, inventory, limit, until=until)
    if prometheus_url and prometheus_queries:
        sites = sorted({s.site for s in result.model.hosts.values() if s.site})
        site_inputs = metrics.merge(
            site_inputs, metrics.prometheus(prometheus_url, _queries(prometheus_queries), sites)
        )
    store = ctx.find_root().obj.store()
    try:
        nodes = _logs(result)
        host_rows = {
            h: thresholds.merged(_stacked(overrides, (n["logs"] or {}).get("thresholds")))
            for h, n in nodes.items()
            if (n["logs"] or {}).get("thresholds")
        }
        outcome = evaluate(nodes, site_inputs, store.baselines(), rows, host_rows)
        outcome["inputs"]["clock_skew_seconds"] = {
            h: n["clock_skew_seconds"] for h, n in nodes.items()
        }
        decision = outcome["decision"]
        decision_id = store.add_decision(
            run_id=result.run_id,
            created_at=now_utc(),
            verdict=outcome["verdict"],
            rollback=decision["rollback"],
            fired=decision["fired"],
            rules=decision["rules"],
            inputs={
                "since": since,
                **outcome["inputs"],
                "table": outcome["table"],
                "thresholds": {m: r.describe() for m, r in rows.items()},
            },
        )
        if incident_id is not None:
            _on_incident(store, incident_id, outcome, decision_id)
    finally:
        store.close()
    if as_json:
        click.echo(
            json.dumps(
                {
                    "clock_skew_seconds": outcome["inputs"]["clock_skew_seconds"],
                    "verdict": outcome["verdict"],
                    "since": since,
                    "decision_id": decision_id,
                    "run_id": result.run_id,
                    "decision": decision,
                    "table": outcome["table"],
                },
                indent=2,
                default=str,
            )
        )
    else:
        _print_health(outcome, since)
    raise click.exceptions.Exit(int(VERDICT_EXIT[outcome["verdict"]]))


def _on_incident(store: Any, incident_id: int, outcome: dict[str, Any], decision_id: int) -> None:
    """The decision on the incident's timeline; the earliest new fatal error's first sighting
    lets the review compute the time to detect."""
    from runbook.incidents.records import Incidents

    decision = outcome["decision"]
    first_seen = None
    for rule in decision["rules"]:
        if rule["rule"] == "critical_errors_last_5m" and rule["result"] == "fired":
            first_seen = outcome["inputs"].get("first_critical_seen")
    fired = ", ".join(decision["fired"]) or "no trigger fired"
    Incidents(store).record(
        incident_id,
        "decision",
        f"health {outcome['verdict']}: {fired} (decision {decision_id})",
        {
            "decision_id": decision_id,
            "verdict": outcome["verdict"],
            "fired": decision["fired"],
            "rules": decision["rules"],
            "first_seen": first_seen,
        },
    )


def _print_health(outcome: dict[str, Any], since: str) -> None:
    console = Console(width=160)
    table = Table(title=f"Health since {since}", title_justify="left")
    for column in ("scope", "target", "metric", "value", "samples", "verdict"):
        table.add_column(column)
    for row in outcome["table"]:
        value = "-" if row["value"] is None else f"{row['value']:g} {row['unit']}"
        style = VERDICT_STYLE[row["verdict"]]
        table.add_row(
            row["scope"],
            row["target"],
            row["metric"],
            value,
            str(row["samples"] if row["samples"] is not None else "-"),
            f"[{style}]{row['verdict']}[/]",
        )
    console.print(table)
    decision = outcome["decision"]
    for rule in decision["rules"]:
        style = {"fired": "bold red", "ok": "green", "inconclusive": "dim"}[rule["result"]]
        console.print(
            f"  [{style}]{rule['result']:>12}[/] {rule['rule']}: "
            f"{json.dumps(rule['evidence'], default=str)[:300]}",
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


@health_cmd.command("baseline")
@click.option("--since", default="1h", show_default=True, help="The window to learn from.")
@_with_targets
@click.pass_context
def baseline_cmd(
    ctx: click.Context,
    since: str,
    inventory: tuple[str, ...],
    until: str | None,
    limit: str | None,
    as_json: bool,
) -> None:
    """Record each host's normal: API response time and the error fingerprints it already has.

    Later `runbook health` runs compare against it (degradation > 20%, a new fatal fingerprint).
    """
    from runbook.execution import now_utc
    from runbook.health.evaluate import node_metrics

    result = scan(ctx, since, 1000, inventory, limit, until=until)
    store = ctx.find_root().obj.store()
    saved = {}
    try:
        for host, node in _logs(result).items():
            logs = node["logs"]
            if not logs:
                continue
            metrics = {m: v for m, (v, _) in node_metrics(logs).items()}
            fingerprints = sorted(
                {e["fingerprint"] for e in logs.get("top", [])}
                | set(logs.get("fatal_fingerprints", {}))
            )
            store.set_baseline(
                host=host,
                site=node["site"],
                captured_at=now_utc(),
                run_id=result.run_id,
                metrics=metrics,
                fingerprints=fingerprints,
            )
            saved[host] = {"metrics": metrics, "fingerprints": len(fingerprints)}
    finally:
        store.close()
    if as_json:
        click.echo(json.dumps({"since": since, "baselines": saved}, indent=2))
    else:
        for host, item in saved.items():
            click.echo(
                f"{host}: baseline {item['metrics']} and {item['fingerprints']} "
                "known error fingerprints"
            )


@health_cmd.command("declare")
@click.argument("trigger", type=click.Choice(sorted(MANUAL_TRIGGERS_KEYS)))
@click.option("--reason", required=True, help="What was seen; recorded verbatim.")
@click.pass_context
def declare_cmd(ctx: click.Context, trigger: str, reason: str) -> None:
    """Record a manual rollback trigger (the decision matrix's "consider manual rollback").

    \b
    data-integrity       settings not persisting correctly
    security             potential vulnerability discovered
    widespread-impact    the issue affects > 50% of users
    cascading-failures   one issue causing multiple problems
    """
    from runbook.execution import now_utc, operator_name
    from runbook.health.decisions import MANUAL_TRIGGERS

    store = ctx.find_root().obj.store()
    try:
        decision_id = store.add_decision(
            run_id=None,
            created_at=now_utc(),
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
    finally:
        store.close()
    click.echo(
        f"recorded decision {decision_id}: {MANUAL_TRIGGERS[trigger]}; "
        "roll back with: runbook p0-rollback --reason ..."
    )
