"""`runbook runs` and `runbook runs show ID`: the run record."""

from __future__ import annotations

import json

import click
from rich.console import Console
from rich.table import Table


@click.group("runs", invoke_without_command=True)
@click.option("-n", "--limit", "count", default=20, show_default=True, help="How many runs.")
@click.option("--runbook", "runbook_name", help="Only runs of this runbook.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def runs_cmd(ctx: click.Context, count: int, runbook_name: str | None, as_json: bool) -> None:
    """List recent runs, newest first (`runbook runs show ID` for one)."""
    if ctx.invoked_subcommand:
        return
    store = ctx.obj.store()
    try:
        rows = store.runs(count, runbook_name)
    finally:
        store.close()
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    table = Table(title=f"Runs ({store.path})", title_justify="left")
    for column in ("id", "runbook", "status", "exit", "operator", "started (UTC)", "reason"):
        table.add_column(column)
    for r in rows:
        table.add_row(
            r["id"],
            r["runbook"],
            r["status"],
            str(r["exit_code"]),
            r["operator"],
            r["started_at"],
            (r["reason"] or "")[:50],
        )
    Console().print(table)


@runs_cmd.command("show")
@click.argument("run_id")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def show_run(obj: object, run_id: str, as_json: bool) -> None:
    """Show one run: parameters, reason, and each host's outcome. ID may be a prefix."""
    store = obj.store()  # type: ignore[attr-defined]
    try:
        run = store.run(run_id)
    finally:
        store.close()
    if as_json:
        click.echo(json.dumps(run, indent=2))
        return
    console = Console()
    for key in (
        "id",
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
        console.print(f"[bold]{key}[/]: {run[key]}", markup=True, highlight=False)
    console.print(f"[bold]parameters[/]: {json.dumps(run['parameters'])}", highlight=False)
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
            h["host"],
            h["site"] or "-",
            h["outcome"],
            str(h["ok"]),
            str(h["changed"]),
            str(h["failed"]),
            str(h["unreachable"]),
            h["last_task"] or "-",
            (h["message"] or "")[:80],
        )
    console.print(table)
