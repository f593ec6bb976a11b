"""`runbook incident ...`: classify, open, acknowledge, update, escalate, resolve, review.

Parsing and printing only: the rules live in runbook.incidents, the use cases in
runbook.service.incidents.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from runbook.service import incidents as service
from runbook.views import text, visible

UPDATE_FIELDS = (
    "impact",
    "action-taken",
    "eta",
    "owner",
    "root-cause",
    "resolution",
    "prevention",
    "lessons",
    "title",
)
json_option = click.option("--json", "as_json", is_flag=True, help="Print the incident as JSON.")


def _ws() -> Any:
    return click.get_current_context().find_root().obj.ws


def _done(incident_id: int, as_json: bool, message: str) -> None:
    """What a changing command prints: a line, or with --json the incident as it now stands."""
    click.echo(json.dumps(service.get(_ws(), incident_id)) if as_json else message)


@click.group("incident")
def incident_cmd() -> None:
    """Incidents: priority and deadlines, status, escalation, the timeline, the review.

    \b
    runbook incident open --title "Admin crashes after 2.1.0" --priority auto
    runbook incident ack 1
    runbook p0-rollback --incident 1 --reason "..."
    runbook incident update 1 --status monitoring
    runbook incident resolve 1 --root-cause "..." --resolution "..."
    runbook incident review 1 > review.md
    """


@incident_cmd.command("classify")
@click.argument("description")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def classify_cmd(description: str, as_json: bool) -> None:
    """Propose a priority from the classification examples, and say which matched."""
    out = service.classify(description)
    if as_json:
        keys = ("priority", "example", "matched", "action", "response_hours", "resolution_hours")
        click.echo(json.dumps({k: out[k] for k in keys}))
        return
    click.echo(out["explanation"])
    click.echo(
        f"{out['priority']} {out['label']}: respond within {out['respond_within']}, resolve "
        f"within {out['resolve_within']}; action: {out['action']}"
    )


@incident_cmd.command("open")
@click.option("--title", required=True, help="What is wrong, in a line.")
@click.option(
    "--priority",
    default="auto",
    show_default=True,
    help="P0-P3, or auto to classify from the title and impact.",
)
@click.option("--impact", help="Who or what is affected (e.g. number of users).")
@click.option("--owner", help="Who handles it (default: nobody until acknowledged).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def open_cmd(
    title: str, priority: str, impact: str | None, owner: str | None, as_json: bool
) -> None:
    """Open an incident; prints its id."""
    record, classification = service.open_incident(_ws(), title, priority, impact, owner)
    if as_json:
        click.echo(json.dumps(record))
    else:
        click.echo(
            f"incident {record['id']} opened: {record['priority']}"
            + (f" ({classification})" if classification else "")
        )


@incident_cmd.command("ack")
@click.argument("incident_id", type=int)
@click.option("--owner", help="Who takes it (default: you).")
@json_option
def ack_cmd(incident_id: int, owner: str | None, as_json: bool) -> None:
    """Acknowledge an incident (stops the response clock)."""
    who = service.acknowledge(_ws(), incident_id, owner)
    _done(incident_id, as_json, f"incident {incident_id} acknowledged by {who}")


def _update_options(f: Any) -> Any:
    for name in reversed(UPDATE_FIELDS):
        f = click.option(f"--{name}", help=f"Set the incident's {name.replace('-', ' ')}.")(f)
    return f


@incident_cmd.command("update")
@click.argument("incident_id", type=int)
@click.option(
    "--status", type=click.Choice(["investigating", "mitigating", "monitoring", "resolved"])
)
@click.option("--priority", help="P0-P3.")
@_update_options
@json_option
def update_cmd(incident_id: int, as_json: bool, **fields: str | None) -> None:
    """Change an incident's status, priority or fields (each change goes on the timeline)."""
    service.update(_ws(), incident_id, **fields)
    _done(incident_id, as_json, f"incident {incident_id} updated")


@incident_cmd.command("escalate")
@click.argument("incident_id", type=int)
@click.option("--why", required=True, help="Why the next level is needed.")
@json_option
def escalate_cmd(incident_id: int, why: str, as_json: bool) -> None:
    """Escalate to the next level: L1 on-call -> L2 lead -> L3 CTO."""
    level = service.escalate(_ws(), incident_id, why)
    _done(incident_id, as_json, f"incident {incident_id} escalated to {level}")


@incident_cmd.command("resolve")
@click.argument("incident_id", type=int)
@click.option("--root-cause", help="What caused it.")
@click.option("--resolution", help="How it was fixed.")
@json_option
def resolve_cmd(
    incident_id: int, root_cause: str | None, resolution: str | None, as_json: bool
) -> None:
    """Resolve an incident (stops the resolution clock)."""
    service.update(
        _ws(), incident_id, status="resolved", root_cause=root_cause, resolution=resolution
    )
    _done(incident_id, as_json, f"incident {incident_id} resolved")


@incident_cmd.command("list")
@click.option("--all", "include_resolved", is_flag=True, help="Resolved ones too.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def list_cmd(include_resolved: bool, as_json: bool) -> None:
    """Incidents with the time left to their deadlines; breaches marked."""
    out = service.listing(_ws(), include_resolved)
    if as_json:
        click.echo(json.dumps(out, indent=2))
        return
    table = Table(title="Incidents", title_justify="left")
    for column in (
        "id",
        "priority",
        "status",
        "level",
        "title",
        "owner",
        "respond in",
        "resolve in",
    ):
        table.add_column(column)
    for row in out:
        respond = row["response_left"] + (" BREACHED" if row["response_breached"] else "")
        resolve = row["resolution_left"] + (" BREACHED" if row["resolution_breached"] else "")
        table.add_row(
            *(
                text(v)
                for v in (
                    row["id"],
                    row["priority"],
                    row["status"],
                    f"L{row['level']}",
                    row["title"][:50],
                    row["owner"] or "-",
                    respond,
                    resolve,
                )
            )
        )
    Console().print(table, markup=False)


@incident_cmd.command("show")
@click.argument("incident_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def show_cmd(incident_id: int, as_json: bool) -> None:
    """One incident: its fields, runs and the latest of its timeline."""
    record = service.show(_ws(), incident_id)
    runs, events = record.pop("runs"), record.pop("events")
    if as_json:
        click.echo(json.dumps({**record, "runs": runs, "events": len(events)}, indent=2))
        return
    for key, value in record.items():
        if value is not None:
            click.echo(visible(f"{key}: {value}"))
    for run in runs:
        click.echo(visible(f"run {run['run_id']} {run['runbook']}: {run['status']}"))


@incident_cmd.command("timeline")
@click.argument("incident_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def timeline_cmd(incident_id: int, as_json: bool) -> None:
    """The timeline: every change and every piece of evidence, with UTC times."""
    events = service.timeline(_ws(), incident_id)
    if as_json:
        click.echo(json.dumps(events, indent=2))
        return
    for event in events:
        click.echo(visible(f"{event['at']}  {event['kind']:<12} {event['summary']}"))


@incident_cmd.command("review")
@click.argument("incident_id", type=int)
@click.option("--format", "fmt", type=click.Choice(["md", "html"]), default="md", show_default=True)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write to this file (default: stdout).",
)
def review_cmd(incident_id: int, fmt: str, output: Path | None) -> None:
    """Render the post-incident review from the record (Markdown, or HTML)."""
    review = service.review(_ws(), incident_id, fmt)
    if output:
        output.write_text(review)
        click.echo(f"wrote {output}", err=True)
    else:
        click.echo(review, nl=False)


@incident_cmd.command("tick")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def tick_cmd(as_json: bool) -> None:
    """Escalate incidents past a deadline and send P1's 4-hourly reminders (for cron or CI)."""
    done = service.tick(_ws())
    if as_json:
        click.echo(json.dumps(done, indent=2))
        return
    for item in done:
        click.echo(visible(f"incident {item['incident']}: {item['action']}: {item['why']}"))
    if not done:
        click.echo("nothing due")
