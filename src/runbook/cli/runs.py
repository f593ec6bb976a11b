"""`runbook runs` and `runbook runs show ID`: the run record."""

from __future__ import annotations

import json
import sys
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from runbook.service import records
from runbook.views import text


def _ws() -> Any:
    return click.get_current_context().find_root().obj.ws


@click.group("runs", invoke_without_command=True)
@click.option("-n", "--limit", "count", default=20, show_default=True, help="How many runs.")
@click.option("--runbook", "runbook_name", help="Only runs of this runbook.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def runs_cmd(ctx: click.Context, count: int, runbook_name: str | None, as_json: bool) -> None:
    """List recent runs, newest first (`runbook runs show ID|last` for one)."""
    if ctx.invoked_subcommand:
        return
    rows, path = records.runs(_ws(), count, runbook_name)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    table = Table(title=f"Runs ({path})", title_justify="left")
    for column in ("run id", "runbook", "status", "exit", "operator", "started (UTC)", "reason"):
        # A run id is what `runs show` takes: never cut it, whatever the width.
        table.add_column(
            column, no_wrap=column == "run id", min_width=24 if column == "run id" else None
        )
    for r in rows:
        table.add_row(
            *(
                text(v)
                for v in (
                    r["run_id"],
                    r["runbook"],
                    r["status"],
                    r["exit_code"],
                    r["operator"],
                    r["started_at"],
                    (r["reason"] or "")[:50],
                )
            )
        )
    # A pipe gets rich's 80 columns by default: too narrow for the record.
    (Console() if sys.stdout.isatty() else Console(width=160)).print(table, markup=False)


@runs_cmd.command("show")
@click.argument("run_id")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option(
    "--exit-code",
    "exit_code",
    is_flag=True,
    help="Print the run's exit code and exit with it (a CI step after ansible-playbook, "
    "whose own code a callback cannot change).",
)
def show_run(run_id: str, as_json: bool, exit_code: bool) -> None:
    """Show one run: parameters, reason, and each host's outcome.

    ID is a run id, any unique prefix of one, or `last` for the newest run.
    """
    run = records.run(_ws(), run_id)
    if exit_code:
        code = run["exit_code"]
        if code is None:
            click.echo(f"run {run['run_id']} is {run['status']}: it has no exit code yet", err=True)
            raise click.exceptions.Exit(1)
        click.echo(str(code))
        raise click.exceptions.Exit(int(code))
    if as_json:
        click.echo(json.dumps(run, indent=2))
        return
    console = Console()
    for key in (
        "run_id",
        "runbook",
        "status",
        "exit_code",
        "operator",
        "reason",
        "inventory",
        "host_limit",
        "check_mode",
        "started_at",
        "ended_at",
        "artifact_dir",
    ):
        console.print(text(f"{key}: {run[key]}"), highlight=False)
    console.print(text(f"parameters: {json.dumps(run['parameters'])}"), highlight=False)
    table = Table(title="hosts", title_justify="left")
    for column in (
        "host",
        "site",
        "outcome",
        "ok",
        "changed",
        "failed",
        "unreachable",
        "last task",
        "message",
    ):
        table.add_column(column)
    for h in run["hosts"]:
        table.add_row(
            *(
                text(v)
                for v in (
                    h["host"],
                    h["site"] or "-",
                    h["outcome"],
                    h["ok"],
                    h["changed"],
                    h["failed"],
                    h["unreachable"],
                    h["last_task"] or "-",
                    (h["message"] or "")[:80],
                )
            )
        )
    console.print(table, markup=False)
    for event in run.get("monitor") or []:
        console.print(
            text(
                f"monitor {event['at']} {event['site'] or '-'} {event['kind']}: {event['summary']}"
            ),
            highlight=False,
        )
