"""`runbook logs errors|top` and `runbook health [baseline|declare]`: parse, call the service,
print. The scanning, counting and judging live in runbook.service.logs and runbook.health."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from runbook.cli.options import common, with_options
from runbook.service import logs as service
from runbook.views import print_health, text, visible

target_options = [
    click.Option(
        ["--until"],
        metavar="TIME",
        help="The window's end, ISO 8601 (default now): with --since, a range.",
    ),
    *common("inventory", "limit"),
    click.Option(["--json", "as_json"], is_flag=True, help="Print JSON."),
]


def _ws() -> Any:
    return click.get_current_context().find_root().obj.ws


def _say(message: str) -> None:
    click.echo(message, err=True)


def _window(since: str, until: str | None, inventory: tuple[str, ...], limit: str | None) -> Any:
    return service.Window(since=since, until=until, inventory=inventory, limit=limit)


def _finish(out: dict[str, Any], scan: service.Scan, as_json: bool) -> None:
    """After printing: a scan that missed hosts says which and exits 3 or 4."""
    if not as_json:
        for host, why in scan.not_scanned.items():
            click.echo(visible(f"NOT SCANNED: {host}: {why}"), err=True)
        for host, logs in out.get("older_than_window", {}).items():
            for path, newest in logs.items():
                click.echo(
                    visible(
                        f"NOTE: {host}: {path}: its newest record is {newest}, older than the "
                        "window (--since TIME --until TIME scans a past one)"
                    ),
                    err=True,
                )
        for host, paths in scan.unrecognised.items():
            for path in paths:
                click.echo(
                    visible(
                        f"FORMAT UNRECOGNISED: {host}: {path}: most of its lines could not be "
                        "read, so it is not a clean log (runbook log-scan --json shows samples)"
                    ),
                    err=True,
                )
    if scan.exit_code:
        raise click.exceptions.Exit(scan.exit_code)


@click.group("logs")
def logs_cmd() -> None:
    """Count and group the errors in every node's logs (read where they are)."""


@logs_cmd.command("errors")
@click.option("--since", default="1h", show_default=True, help="The window: 5m, 1h, 2d or ISO.")
@click.option(
    "--source",
    help="Only this source: php, wordpress, nginx, php-fpm, or the plugin's own "
    "(its slug, e.g. mase).",
)
@click.option(
    "--incremental",
    is_flag=True,
    help="Only what was written since the previous --incremental scan (rotation-safe); "
    "the window does not apply.",
)
@with_options(target_options)
def errors_cmd(
    since: str,
    source: str | None,
    incremental: bool,
    inventory: tuple[str, ...],
    until: str | None,
    limit: str | None,
    as_json: bool,
) -> None:
    """Count errors per level, per host and in total."""
    ws = _ws()
    known = service.sources(ws)
    if source is not None and source not in known:
        raise click.BadParameter(
            f"{source!r} is not one of {', '.join(known)}", param_hint="--source"
        )
    out, scan = service.errors(
        ws, _window(since, until, inventory, limit), source, incremental, _say
    )
    if as_json:
        click.echo(json.dumps(out, indent=2))
    else:
        levels = list(out["total"])
        table = Table(
            title=f"Errors since {since}" + (f" ({source})" if source else ""),
            title_justify="left",
        )
        for column in ("host", *levels):
            table.add_column(column, justify="left" if column == "host" else "right")
        for host, counts in out["hosts"].items():
            table.add_row(text(host), *(str(counts[level]) for level in levels))
        table.add_row("[bold]total[/]", *(f"[bold]{out['total'][level]}[/]" for level in levels))
        Console().print(table)
    _finish(out, scan, as_json)


@logs_cmd.command("top")
@click.option("-n", "count", default=10, show_default=True, help="How many.")
@click.option("--since", default="1h", show_default=True, help="The window: 5m, 1h, 2d or ISO.")
@with_options(target_options)
def top_cmd(
    count: int,
    since: str,
    inventory: tuple[str, ...],
    until: str | None,
    limit: str | None,
    as_json: bool,
) -> None:
    """The most common errors, as fingerprints with counts and where they occur."""
    out, scan = service.top(_ws(), _window(since, until, inventory, limit), count, _say)
    if as_json:
        click.echo(json.dumps(out, indent=2))
    else:
        table = Table(title=f"Most common errors since {since}", title_justify="left")
        for column in ("count", "level", "where (hosts)", "error"):
            table.add_column(column)
        for item in out["top"]:
            where = ", ".join(f"{h}:{n}" for h, n in item["hosts"].items())
            # A log line is whatever a client made the server write: text, controls visible.
            table.add_row(
                str(item["count"]), item["level"], text(where), text(item["sample"][:160])
            )
        Console(width=160).print(table)
    _finish(out, scan, as_json)


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
@with_options(target_options)
@click.pass_context
def health_cmd(
    ctx: click.Context,
    /,
    since: str,
    inventory: tuple[str, ...],
    until: str | None,
    limit: str | None,
    as_json: bool,
    **given: Any,
) -> None:
    """Judge the fleet by the error-rate, performance and user-impact thresholds and the
    rollback decision matrix (critical errors > 0 in 5 minutes, error rate > 10%, ...).

    Exit 0 green, 10 yellow, 11 red (a rollback trigger fired counts as red), 12 when nothing
    could be judged: CI can gate on it. Every decision is stored with its inputs.
    """
    if ctx.invoked_subcommand:
        return
    outcome = service.health(
        _ws(),
        _window(since, until, inventory, limit),
        service.HealthInputs(since=since, **given),
        _say,
    )
    if as_json:
        keys = ("verdict", "since", "decision_id", "run_id", "decision", "table")
        document = {k: outcome[k] for k in keys}
        document["clock_skew_seconds"] = outcome["inputs"]["clock_skew_seconds"]
        click.echo(json.dumps(document, indent=2, default=str))
    else:
        print_health(Console(width=160), outcome, since)
    raise click.exceptions.Exit(outcome["exit_code"])


@health_cmd.command("baseline")
@click.option("--since", default="1h", show_default=True, help="The window to learn from.")
@with_options(target_options)
def baseline_cmd(
    since: str,
    inventory: tuple[str, ...],
    until: str | None,
    limit: str | None,
    as_json: bool,
) -> None:
    """Record each host's normal: API response time and the error fingerprints it already has.

    Later `runbook health` runs compare against it (degradation > 20%, a new fatal fingerprint).
    """
    saved = service.baseline(_ws(), _window(since, until, inventory, limit), _say)
    if as_json:
        click.echo(json.dumps({"since": since, "baselines": saved}, indent=2))
        return
    for host, item in saved.items():
        click.echo(
            f"{host}: baseline {item['metrics']} and {item['fingerprints']} "
            "known error fingerprints"
        )


@health_cmd.command("declare")
@click.argument("trigger", type=click.Choice(sorted(service.MANUAL_TRIGGERS_KEYS)))
@click.option("--reason", required=True, help="What was seen; recorded verbatim.")
def declare_cmd(trigger: str, reason: str) -> None:
    """Record a manual rollback trigger ("consider manual rollback" in the decision matrix).

    \b
    data-integrity       settings not persisting correctly
    security             potential vulnerability discovered
    widespread-impact    the issue affects > 50% of users
    cascading-failures   one issue causing multiple problems
    """
    decision_id, meaning = service.declare(_ws(), trigger, reason)
    click.echo(
        f"recorded decision {decision_id}: {meaning}; "
        "roll back with: runbook p0-rollback --reason ..."
    )
