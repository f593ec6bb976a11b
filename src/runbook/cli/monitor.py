"""`runbook monitor [status|reset-breaker]` and `runbook simulate`: parse, call the service,
print. The loop, the policy and the loop protection live in runbook.service.monitor and
runbook.monitor."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.live import Live

from runbook.cli.options import common, with_options
from runbook.service import monitor as service
from runbook.service import report as report_service
from runbook.views import monitor_board, monitor_line, print_monitor_status, print_simulation


def _ws() -> Any:
    return click.get_current_context().find_root().obj.ws


def _say(message: str) -> None:
    click.echo(message, err=True)


def _seconds(value: str, option: str) -> float:
    try:
        return service.seconds(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint=option) from None


class _Board:
    """The live board's renderable: the last cycle, and the time to the next one."""

    def __init__(self, interval: float) -> None:
        self.doc: dict[str, Any] | None = None
        self.at = 0.0
        self.interval = interval

    def update(self, doc: dict[str, Any]) -> None:
        self.doc, self.at = doc, time.monotonic()

    def __rich__(self) -> Any:
        if self.doc is None:
            return "runbook monitor: first cycle under way (scanning every node's logs) ..."
        left = max(0.0, self.interval - (time.monotonic() - self.at))
        return monitor_board(self.doc, left)


@click.group("monitor", invoke_without_command=True)
@click.option(
    "--interval",
    default="60s",
    show_default=True,
    help="Time between cycles: 30s, 5m ... (a cycle's own time counts).",
)
@click.option("--once", is_flag=True, help="One cycle, then exit with `runbook health`'s codes.")
@click.option(
    "--dry-run",
    is_flag=True,
    help='Shadow mode: decide and record "would roll back ...", act on nothing.',
)
@click.option(
    "--policy",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Which trigger does what (YAML; default: any automatic trigger rolls the site back).",
)
@click.option(
    "--window",
    default="10m",
    show_default=True,
    help="The first cycle reads each log from this far back; later cycles read what is new.",
)
@click.option(
    "--metrics",
    "metrics_source",
    metavar="FILE|URL",
    help="Metrics logs cannot give, per site (as `runbook health --metrics`), read every cycle.",
)
@click.option(
    "--prometheus",
    "prometheus_url",
    metavar="URL",
    help="A Prometheus server for the metrics input (with --prometheus-queries).",
)
@click.option(
    "--prometheus-queries",
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
    "--stale-after",
    metavar="DURATION",
    help="Take over a monitor lease whose heartbeat is older (default: 3 intervals, >= 30s).",
)
@click.option("--cycles", type=click.IntRange(min=1), help="Stop after this many cycles.")
@click.option(
    "--metrics-port",
    type=click.IntRange(0, 65535),
    metavar="PORT",
    help="Serve the monitor's own metrics for Prometheus on this port (/metrics).",
)
@click.option(
    "--metrics-address",
    default="127.0.0.1",
    show_default=True,
    help="The address --metrics-port listens on.",
)
@click.option("--json", "as_json", is_flag=True, help="One JSON document per cycle (JSON Lines).")
@with_options(common("inventory", "limit"))
@click.pass_context
def monitor_cmd(
    ctx: click.Context,
    /,
    interval: str,
    stale_after: str | None,
    as_json: bool,
    **given: Any,
) -> None:
    """Watch the fleet and roll back by itself: the workflow's Automated Monitoring.

    Each cycle scans every node's logs (what is new since the last cycle), judges each site
    by the threshold tables and the rollback decision matrix, stores the cycle, and acts as
    the policy says: by default any automatic trigger (error rate > 5%, critical errors in
    the last 5 minutes, performance > 20% over the baseline, > 5 complaints an hour) runs
    p0-rollback on that site's nodes, on the site's P0 incident, and sends the P0 notices.

    \b
    Loop protection: one action per site at a time; a cooldown after each (15m); a
    circuit breaker after 2 actions in 24h (re-arm: runbook monitor reset-breaker SITE);
    verification (green within 10m, else escalate); and more than half the sites red at
    once pages instead of acting. One monitor per fleet (a lease in the record).

    SIGTERM or Ctrl-C finish the current cycle (or the rollback's current task) and stop.
    """
    if ctx.invoked_subcommand:
        return
    given["inventory"] = tuple(given["inventory"])
    options = service.MonitorOptions(
        interval=_seconds(interval, "--interval"),
        stale_after=_seconds(stale_after, "--stale-after") if stale_after else None,
        **given,
    )
    console = Console()
    live = console.is_terminal and not as_json and not options.once
    board = _Board(options.interval)

    def on_cycle(doc: dict[str, Any]) -> None:
        if as_json:
            click.echo(json.dumps(doc, default=str))
            sys.stdout.flush()
        elif live:
            board.update(doc)
        else:
            click.echo(monitor_line(doc))

    monitor = service.Monitor(_ws(), options, on_cycle=on_cycle, say=_say)
    if live:
        with Live(board, console=console, refresh_per_second=1, redirect_stderr=True):
            code = monitor.run()
    else:
        code = monitor.run()
    raise click.exceptions.Exit(code)


@monitor_cmd.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def status_cmd(as_json: bool) -> None:
    """Is a monitor running, where and since when; each site's verdict, last decision,
    cooldown, breaker and incident; the last events; the open incidents."""
    out = service.status(_ws())
    if as_json:
        click.echo(json.dumps(out, indent=2, default=str))
    else:
        print_monitor_status(Console(width=160), out)


@monitor_cmd.command("reset-breaker")
@click.argument("site")
@click.option("--reason", required=True, help="Why the monitor may act on SITE again.")
def reset_breaker_cmd(site: str, reason: str) -> None:
    """Re-arm the circuit breaker of SITE (recorded, with the reason, on its incident)."""
    fleets = service.reset_breaker(_ws(), site, reason)
    click.echo(f"circuit breaker on {site} re-armed (monitors of: {', '.join(fleets)})")


@click.command("simulate")
@click.option(
    "--logs",
    "folder",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Recorded logs, one folder per host (debug.log, php-error.log, nginx-error.log, "
    "nginx-access.log ...), and an optional scenario.yml (now, sites, baseline).",
)
@click.option(
    "--metrics",
    "metrics_source",
    metavar="FILE|URL",
    help="Metrics logs cannot give, per site (as `runbook health --metrics`).",
)
@click.option(
    "--policy",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The policy to try (default: the monitor's default policy).",
)
@click.option(
    "--since",
    default="10m",
    show_default=True,
    help="The window before the scenario's moment (its scenario.yml `now`, else the newest "
    "record).",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def simulate_cmd(
    folder: Path, metrics_source: str | None, policy: Path | None, since: str, as_json: bool
) -> None:
    """Game day: what would the monitor do with these logs? No host is touched.

    Feeds recorded logs through the same scanner, thresholds, triggers and policy as
    `runbook monitor`, and prints each site's verdicts, the triggers that fired with their
    evidence, and the action the monitor would take. Exit codes as `runbook health`.
    Example scenarios: examples/game-day/.
    """
    out = service.simulate(
        _ws(), folder, metrics_source=metrics_source, policy_path=policy, since=since
    )
    if as_json:
        click.echo(json.dumps(out, indent=2, default=str))
    else:
        print_simulation(Console(width=160), out)
    raise click.exceptions.Exit(out["exit_code"])


@click.command("report")
@click.option("--since", default="24h", show_default=True, help="The period: 24h, 7d or ISO.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "md", "html"]),
    default="text",
    show_default=True,
    help="html: one self-contained page with plots.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write to this file (default: standard output).",
)
@click.option("--json", "as_json", is_flag=True, help="The figures as JSON.")
def report_cmd(since: str, fmt: str, output: Path | None, as_json: bool) -> None:
    """The deployment's Success Metrics per site over a period, from the monitor's record.

    \b
    Error rate < 1%, performance within 10% of the baseline, zero critical errors, no
    increase in support tickets, feature adoption > 80%, zero downtime: each met, not met
    or unknown, with its figures; then the decisions, actions, runs and incidents. HTML
    adds per-site plots of the error rate and p95 over time, with every decision marked.
    """
    doc = report_service.build(_ws(), since)
    text_out = (
        json.dumps(doc, indent=2, default=str) if as_json else report_service.render(doc, fmt)
    )
    if output is None:
        click.echo(text_out, nl=False)
        return
    report_service.write(output, text_out)
    click.echo(f"wrote {output}", err=True)
