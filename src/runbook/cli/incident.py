"""`runbook incident ...`: classify, open, acknowledge, update, escalate, resolve, review."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table


def _incidents(ctx: click.Context) -> Any:
    from runbook.incidents.records import Incidents

    return Incidents(ctx.find_root().obj.store())


def _operator() -> str:
    from runbook.execution import operator_name

    return operator_name()


def _done(ctx: click.Context, incident_id: int, as_json: bool, message: str) -> None:
    """What a changing command prints: a line, or with --json the incident as it now stands."""
    if not as_json:
        click.echo(message)
        return
    incidents = _incidents(ctx)
    try:
        click.echo(json.dumps(incidents.get(incident_id)))
    finally:
        incidents.store.close()


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
    """Propose a priority from the document's examples, and say which matched."""
    from runbook.incidents import priorities

    result = priorities.classify(description)
    p = priorities.get(result.priority)
    if as_json:
        click.echo(
            json.dumps(
                {
                    "priority": result.priority,
                    "example": result.example,
                    "matched": result.matched,
                    "action": p.action,
                    "response_hours": p.response.total_seconds() / 3600,
                    "resolution_hours": p.resolution.total_seconds() / 3600,
                }
            )
        )
        return
    click.echo(result.explain())
    click.echo(
        f"{p.name} {p.label}: respond within {p.response}, resolve within "
        f"{p.resolution}; action: {p.action}"
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
@click.pass_context
def open_cmd(
    ctx: click.Context,
    title: str,
    priority: str,
    impact: str | None,
    owner: str | None,
    as_json: bool,
) -> None:
    """Open an incident; prints its id."""
    from runbook.incidents import priorities

    classification = None
    if priority == "auto":
        result = priorities.classify(f"{title} {impact or ''}")
        priority, classification = result.priority, result.explain()
    incidents = _incidents(ctx)
    try:
        incident_id = incidents.open(
            title, priority, impact=impact, owner=owner, classification=classification
        )
        record = incidents.get(incident_id)
    finally:
        incidents.store.close()
    if as_json:
        click.echo(json.dumps(record))
    else:
        click.echo(
            f"incident {incident_id} opened: {record['priority']}"
            + (f" ({classification})" if classification else "")
        )


@incident_cmd.command("ack")
@click.argument("incident_id", type=int)
@click.option("--owner", help="Who takes it (default: you).")
@click.option("--json", "as_json", is_flag=True, help="Print the incident as JSON.")
@click.pass_context
def ack_cmd(ctx: click.Context, incident_id: int, owner: str | None, as_json: bool) -> None:
    """Acknowledge an incident (stops the response clock)."""
    incidents = _incidents(ctx)
    try:
        incidents.acknowledge(incident_id, owner or _operator())
    finally:
        incidents.store.close()
    _done(
        ctx, incident_id, as_json, f"incident {incident_id} acknowledged by {owner or _operator()}"
    )


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
@click.option("--json", "as_json", is_flag=True, help="Print the incident as JSON.")
@click.pass_context
def update_cmd(
    ctx: click.Context, /, incident_id: int, as_json: bool, **fields: str | None
) -> None:
    """Change an incident's status, priority or fields (each change goes on the timeline)."""
    incidents = _incidents(ctx)
    try:
        incidents.update(incident_id, **fields)
    finally:
        incidents.store.close()
    _done(ctx, incident_id, as_json, f"incident {incident_id} updated")


@incident_cmd.command("escalate")
@click.argument("incident_id", type=int)
@click.option("--why", required=True, help="Why the next level is needed.")
@click.option("--json", "as_json", is_flag=True, help="Print the incident as JSON.")
@click.pass_context
def escalate_cmd(ctx: click.Context, incident_id: int, why: str, as_json: bool) -> None:
    """Escalate to the next level: L1 on-call -> L2 lead -> L3 CTO."""
    from runbook.incidents.records import LEVELS

    incidents = _incidents(ctx)
    try:
        level = incidents.escalate(incident_id, why)
    finally:
        incidents.store.close()
    _done(ctx, incident_id, as_json, f"incident {incident_id} escalated to {LEVELS[level]}")


@incident_cmd.command("resolve")
@click.argument("incident_id", type=int)
@click.option("--root-cause", help="What caused it.")
@click.option("--resolution", help="How it was fixed.")
@click.option("--json", "as_json", is_flag=True, help="Print the incident as JSON.")
@click.pass_context
def resolve_cmd(
    ctx: click.Context,
    incident_id: int,
    root_cause: str | None,
    resolution: str | None,
    as_json: bool,
) -> None:
    """Resolve an incident (stops the resolution clock)."""
    incidents = _incidents(ctx)
    try:
        incidents.update(
            incident_id, status="resolved", root_cause=root_cause, resolution=resolution
        )
    finally:
        incidents.store.close()
    _done(ctx, incident_id, as_json, f"incident {incident_id} resolved")


@incident_cmd.command("list")
@click.option("--all", "include_resolved", is_flag=True, help="Resolved ones too.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def list_cmd(ctx: click.Context, include_resolved: bool, as_json: bool) -> None:
    """Incidents with the time left to their deadlines; breaches marked."""
    from runbook.incidents import sla

    incidents = _incidents(ctx)
    try:
        rows = incidents.all(include_resolved)
    finally:
        incidents.store.close()
    now = datetime.now(UTC)
    out = []
    for row in rows:
        c = sla.clock(row, now)
        out.append(
            {
                **row,
                "response_due": c.response_due.isoformat(),
                "resolution_due": c.resolution_due.isoformat(),
                "response_left": sla.human(c.response_left),
                "resolution_left": sla.human(c.resolution_left),
                "response_breached": c.response_breached,
                "resolution_breached": c.resolution_breached,
            }
        )
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
        respond = row["response_left"] + (
            " [bold red]BREACHED[/]" if row["response_breached"] else ""
        )
        resolve = row["resolution_left"] + (
            " [bold red]BREACHED[/]" if row["resolution_breached"] else ""
        )
        table.add_row(
            str(row["id"]),
            row["priority"],
            row["status"],
            f"L{row['level']}",
            row["title"][:50],
            row["owner"] or "-",
            respond,
            resolve,
        )
    Console().print(table)


@incident_cmd.command("show")
@click.argument("incident_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def show_cmd(ctx: click.Context, incident_id: int, as_json: bool) -> None:
    """One incident: its fields, runs and the latest of its timeline."""
    incidents = _incidents(ctx)
    try:
        record = incidents.get(incident_id)
        runs = incidents.runs(incident_id)
        events = incidents.events(incident_id)
    finally:
        incidents.store.close()
    if as_json:
        click.echo(json.dumps({**record, "runs": runs, "events": len(events)}, indent=2))
        return
    console = Console()
    for key, value in record.items():
        if value is not None:
            console.print(f"[bold]{key}[/]: {value}", highlight=False, markup=True)
    for run in runs:
        console.print(f"run {run['id']} {run['runbook']}: {run['status']}", highlight=False)


@incident_cmd.command("timeline")
@click.argument("incident_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def timeline_cmd(ctx: click.Context, incident_id: int, as_json: bool) -> None:
    """The timeline: every change and every piece of evidence, with UTC times."""
    incidents = _incidents(ctx)
    try:
        events = incidents.events(incident_id)
    finally:
        incidents.store.close()
    if as_json:
        click.echo(json.dumps(events, indent=2))
        return
    for event in events:
        click.echo(f"{event['at']}  {event['kind']:<12} {event['summary']}")


@incident_cmd.command("review")
@click.argument("incident_id", type=int)
@click.option("--format", "fmt", type=click.Choice(["md", "html"]), default="md", show_default=True)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write to this file (default: stdout).",
)
@click.pass_context
def review_cmd(ctx: click.Context, incident_id: int, fmt: str, output: Path | None) -> None:
    """Render the post-incident review from the record (Markdown, or HTML)."""
    from runbook.incidents import templates

    incidents = _incidents(ctx)
    try:
        values = templates.context(
            incidents.get(incident_id), incidents.events(incident_id), incidents.runs(incident_id)
        )
    finally:
        incidents.store.close()
    text = templates.render("review", values, ctx.find_root().obj.project)
    if fmt == "html":
        text = markdown_to_html(text)
    if output:
        output.write_text(text)
        click.echo(f"wrote {output}", err=True)
    else:
        click.echo(text, nl=False)


def markdown_to_html(text: str) -> str:
    """The review's small Markdown subset (headings, lists, checkboxes) as escaped HTML."""
    import html

    out = ["<!doctype html><meta charset=utf-8><title>Post-Incident Review</title><body>"]
    in_list = False
    for line in text.splitlines():
        escaped = html.escape(line)
        if line.startswith(("- ", "1. ")) or (line[:1].isdigit() and ". " in line[:4]):
            if not in_list:
                out.append("<ul>")
                in_list = True
            item = escaped.split(" ", 1)[1] if " " in escaped else escaped
            item = item.replace("[ ] ", "&#9744; ")
            out.append(f"<li>{item}</li>")
            continue
        if in_list:
            out.append("</ul>")
            in_list = False
        if line.startswith("## "):
            out.append(f"<h2>{escaped[3:]}</h2>")
        elif line.startswith("# "):
            out.append(f"<h1>{escaped[2:]}</h1>")
        elif line.strip():
            out.append(f"<p>{escaped}</p>")
    if in_list:
        out.append("</ul>")
    out.append("</body>")
    return "\n".join(out) + "\n"


@incident_cmd.command("tick")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def tick_cmd(ctx: click.Context, as_json: bool) -> None:
    """Escalate incidents past a deadline and send P1's 4-hourly reminders (for cron or CI)."""
    from runbook.incidents import sla
    from runbook.incidents.records import now

    incidents = _incidents(ctx)
    done = []
    try:
        moment = datetime.now(UTC)
        for row in incidents.all():
            for action in sla.due_actions(row, incidents.events(row["id"]), moment):
                if action.kind == "escalate":
                    if row["level"] < 3:
                        level = incidents.escalate(row["id"], action.why)
                        done.append(
                            {
                                "incident": row["id"],
                                "action": "escalated",
                                "level": level,
                                "why": action.why,
                                "notified": _tell(ctx, incidents, incidents.get(row["id"])),
                            }
                        )
                else:
                    incidents.record(row["id"], "reminder", action.why)
                    _tell(ctx, incidents, row)
                    incidents.store.db.execute(
                        "UPDATE incidents SET last_reminder_at = ? WHERE id = ?", (now(), row["id"])
                    )
                    done.append({"incident": row["id"], "action": "reminded", "why": action.why})
    finally:
        incidents.store.close()
    if as_json:
        click.echo(json.dumps(done, indent=2))
    else:
        for item in done:
            click.echo(f"incident {item['incident']}: {item['action']}: {item['why']}")
        if not done:
            click.echo("nothing due")


def _tell(ctx: click.Context, incidents: Any, row: dict[str, Any]) -> list[str]:
    """Notify over the project's channels (the message names the level's contacts)."""
    from runbook.incidents.channels import load
    from runbook.incidents.notify import notify

    project = ctx.find_root().obj.project
    if not load(project)[1]:
        return []
    template = "p0" if row["priority"] == "P0" else "p1"
    out = notify(incidents.store, project, row["id"], template)
    return [d["channel"] for d in out["deliveries"] if d["ok"]]


def record_run(store: Any, incident_id: int, result: Any) -> None:
    """A runbook run's evidence on the incident's timeline: start, each host, flags, restores."""
    from runbook.incidents.records import Incidents

    incidents = Incidents(store)
    incidents.attach_run(incident_id, result.run_id)
    book = result.request.runbook.name
    incidents.record(
        incident_id,
        "run",
        f"{book} started (run {result.run_id})",
        {"run_id": result.run_id, "reason": result.request.reason},
        at=result.started_at,
    )
    for host, state in result.model.hosts.items():
        restore = state.report.get("restore") or {}
        summary = f"{host}: {state.outcome}"
        if restore.get("version_after"):
            summary += (
                f", plugin {restore.get('version_before')} -> "
                f"{restore['version_after']} from {restore.get('backup')}"
            )
        if state.message and state.outcome in ("failed", "unreachable"):
            summary += f" ({state.message[:200]})"
        incidents.record(
            incident_id,
            "host",
            summary,
            {"host": host, "site": state.site, "outcome": state.outcome, "restore": restore},
            at=state.observed_at or result.ended_at,
        )
    for site, report in result.model.site_reports.items():
        for option, change in (report.get("options_changed") or {}).items():
            incidents.record(
                incident_id,
                "flags",
                f"{site}: {option} {json.dumps(change['before'])} -> {json.dumps(change['after'])}",
                {"site": site, **change},
                at=result.ended_at,
            )
    incidents.record(
        incident_id,
        "run",
        f"{book} ended: {result.status} (exit {int(result.exit_code)})",
        {"run_id": result.run_id, "counts": result.model.counts()},
        at=result.ended_at,
    )


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
@click.pass_context
def notify_cmd(
    ctx: click.Context,
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
    from runbook.errors import ExitCode
    from runbook.incidents.notify import notify

    root = ctx.find_root().obj
    store = root.store()
    try:
        out = notify(store, root.project, incident_id, template, channels, dry_run, action)
    finally:
        store.close()
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
    type=int,
    metavar="N",
    help="Tick item N (1-4) as done by you, now (repeatable).",
)
@click.option("--note", help="A note kept with the ticks.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def checklist_cmd(
    ctx: click.Context, schedule: str, items: tuple[int, ...], note: str | None, as_json: bool
) -> None:
    """The document's manual checks for this day, week or month: who ticked what, when."""
    from runbook.incidents.checklists import CHECKLISTS, WHEN, period
    from runbook.incidents.records import now

    names = CHECKLISTS[schedule]
    for n in items:
        if not 1 <= n <= len(names):
            raise click.BadParameter(f"items are 1-{len(names)}", param_hint="--tick")
    current = period(schedule, datetime.now(UTC))
    store = ctx.find_root().obj.store()
    try:
        with store.transaction():
            for n in items:
                store.db.execute(
                    "INSERT OR IGNORE INTO checklist_ticks (schedule, period, item, who, at, "
                    "note) VALUES (?, ?, ?, ?, ?, ?)",
                    (schedule, current, names[n - 1], _operator(), now(), note),
                )
        ticks = {
            row["item"]: dict(row)
            for row in store.db.execute(
                "SELECT item, who, at, note FROM checklist_ticks WHERE schedule = ? AND period = ?",
                (schedule, current),
            )
        }
    finally:
        store.close()
    rows = [
        {
            "n": i,
            "item": name,
            **({"done": True, **ticks[name]} if name in ticks else {"done": False}),
        }
        for i, name in enumerate(names, 1)
    ]
    if as_json:
        click.echo(json.dumps({"schedule": schedule, "period": current, "items": rows}, indent=2))
        return
    click.echo(f"{schedule} checks ({WHEN[schedule]}) for {current}:")
    for row in rows:
        mark = "x" if row["done"] else " "
        who = f"  ({row['who']}, {row['at']})" if row["done"] else ""
        click.echo(f"  [{mark}] {row['n']}. {row['item']}{who}")
