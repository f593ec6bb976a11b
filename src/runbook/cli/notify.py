"""`runbook notify` (a template over the project's channels) and `runbook checklist`."""

from __future__ import annotations

import json
from typing import Any

import click

from runbook.errors import ExitCode
from runbook.service import incidents as service


def _ws() -> Any:
    return click.get_current_context().find_root().obj.ws


@click.command("notify")
@click.option("--incident", "incident_id", type=int, required=True, help="The incident.")
@click.option("--template", type=click.Choice(["p0", "p1", "user", "review"]), required=True)
@click.option(
    "--channel",
    "channels",
    multiple=True,
    help="Only this channel of contacts.yml (repeatable; default: all).",
)
@click.option(
    "--action",
    type=click.Choice(["trigger", "acknowledge", "resolve"]),
    default="trigger",
    show_default=True,
    help="PagerDuty's event action.",
)
@click.option("--dry-run", is_flag=True, help="Show the message and the channels; send nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def notify_cmd(
    incident_id: int,
    template: str,
    channels: tuple[str, ...],
    action: str,
    dry_run: bool,
    as_json: bool,
) -> None:
    """Send (or show) a message about an incident over the project's channels.

    Channels and contacts are in your project's contacts.yml (see the README); secrets by
    reference only (env:NAME). Every attempt is recorded on the incident's timeline.
    Exits 0 when every channel delivered, 3 when some did not.
    """
    out = service.notify(_ws(), incident_id, template, channels, dry_run, action)
    if as_json:
        click.echo(json.dumps(out, indent=2))
    else:
        click.echo(f"Subject: {out['subject']}\n\n{out['body']}\n")
        if dry_run:
            click.echo(f"(dry run: would send over {', '.join(out['channels']) or 'no channel'})")
        for delivery in out["deliveries"]:
            state = "delivered" if delivery["ok"] else f"FAILED: {delivery['error']}"
            click.echo(
                f"{delivery['channel']}: {state} after {len(delivery['attempts'])} attempt(s)"
            )
    if any(not d["ok"] for d in out["deliveries"]):
        raise click.exceptions.Exit(int(ExitCode.HOSTS_FAILED))


@click.command("checklist")
@click.argument("schedule", type=click.Choice(["daily", "weekly", "monthly"]))
@click.option(
    "--tick",
    "items",
    multiple=True,
    type=click.IntRange(1, 4),
    metavar="N",
    help="Tick item N (1-4) as done by you, now (repeatable).",
)
@click.option("--note", help="A note kept with the ticks.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def checklist_cmd(schedule: str, items: tuple[int, ...], note: str | None, as_json: bool) -> None:
    """The manual checks for this day (first week), week (first month) or month (ongoing):
    who ticked what, when."""
    out = service.checklist(_ws(), schedule, items, note)
    if as_json:
        click.echo(json.dumps({k: out[k] for k in ("schedule", "period", "items")}, indent=2))
        return
    click.echo(f"{schedule} checks ({out['when']}) for {out['period']}:")
    for row in out["items"]:
        mark = "x" if row["done"] else " "
        who = f"  ({row['who']}, {row['at']})" if row["done"] else ""
        click.echo(f"  [{mark}] {row['n']}. {row['item']}{who}")
