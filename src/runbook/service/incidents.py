"""Incidents as use cases: open, change, escalate, list with deadlines, review, tick, notify,
and the manual checklists."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from runbook import clock
from runbook.execution import operator_name
from runbook.incidents import checklists, priorities, sla, templates
from runbook.incidents.records import LEVELS, Incidents
from runbook.service.pages import refresh_status_pages
from runbook.service.workspace import Workspace

__all__ = ["LEVELS", "operator_name"]


@contextmanager
def incidents(ws: Workspace) -> Iterator[Incidents]:
    with ws.store() as store:
        yield Incidents(store)


def classify(description: str) -> dict[str, Any]:
    """A priority proposed from the classification examples, with what matched and its deadlines."""
    result = priorities.classify(description)
    p = priorities.get(result.priority)
    return {
        "priority": result.priority,
        "label": p.label,
        "example": result.example,
        "matched": result.matched,
        "explanation": result.explain(),
        "action": p.action,
        "response_hours": p.response.total_seconds() / 3600,
        "resolution_hours": p.resolution.total_seconds() / 3600,
        "respond_within": sla.duration(p.response),
        "resolve_within": sla.duration(p.resolution),
    }


def open_incident(
    ws: Workspace, title: str, priority: str, impact: str | None, owner: str | None
) -> tuple[dict[str, Any], str | None]:
    """Open one (priority `auto`: classified from the title and impact); it and why."""
    classification = None
    if priority == "auto":
        result = priorities.classify(f"{title} {impact or ''}")
        priority, classification = result.priority, result.explain()
    with incidents(ws) as records:
        incident_id = records.open(
            title, priority, impact=impact, owner=owner, classification=classification
        )
        opened = records.get(incident_id)
    refresh_status_pages(ws)
    return opened, classification


def get(ws: Workspace, incident_id: int) -> dict[str, Any]:
    with incidents(ws) as records:
        return records.get(incident_id)


def acknowledge(ws: Workspace, incident_id: int, owner: str | None) -> str:
    who = owner or operator_name()
    with incidents(ws) as records:
        records.acknowledge(incident_id, who)
    refresh_status_pages(ws)
    return who


def update(ws: Workspace, incident_id: int, **fields: str | None) -> None:
    with incidents(ws) as records:
        records.update(incident_id, **fields)
    refresh_status_pages(ws)


def escalate(ws: Workspace, incident_id: int, why: str) -> str:
    with incidents(ws) as records:
        level = LEVELS[records.escalate(incident_id, why)]
    refresh_status_pages(ws)
    return level


def listing(ws: Workspace, include_resolved: bool) -> list[dict[str, Any]]:
    """Incidents with the time left to their deadlines, breaches marked."""
    with incidents(ws) as records:
        rows = records.all(include_resolved)
    now = clock.now()
    out = []
    for row in rows:
        c = sla.clock(row, now)
        out.append(
            {
                **row,
                "response_due": clock.stamp(c.response_due),
                "resolution_due": clock.stamp(c.resolution_due),
                "response_left": sla.human(c.response_left),
                "resolution_left": sla.human(c.resolution_left),
                "response_breached": c.response_breached,
                "resolution_breached": c.resolution_breached,
            }
        )
    return out


def show(ws: Workspace, incident_id: int) -> dict[str, Any]:
    with incidents(ws) as records:
        return {
            **records.get(incident_id),
            "runs": records.runs(incident_id),
            "events": records.events(incident_id),
        }


def timeline(ws: Workspace, incident_id: int) -> list[dict[str, Any]]:
    with incidents(ws) as records:
        return records.events(incident_id)


def review(ws: Workspace, incident_id: int, fmt: str = "md") -> str:
    """The post-incident review, rendered from the record (Markdown or HTML)."""
    with incidents(ws) as records:
        values = templates.context(
            records.get(incident_id),
            records.events(incident_id),
            records.runs(incident_id),
            product=ws.profile().name,
        )
        values["investigations"] = records.store.investigations(incident_id)
    text = templates.render("review", values, ws.project)
    return templates.markdown_to_html(text) if fmt == "html" else text


def tick(ws: Workspace) -> list[dict[str, Any]]:
    """Escalate incidents past a deadline and send P1's reminders."""
    from runbook.incidents.channels import load
    from runbook.incidents.notify import notify as send

    configured = bool(load(ws.project)[1])
    with incidents(ws) as records:

        def tell(row: dict[str, Any]) -> list[str]:
            if not configured:
                return []
            template = "p0" if row["priority"] == "P0" else "p1"
            out = send(records.store, ws.project, row["id"], template, target=ws.profile())
            return [d["channel"] for d in out["deliveries"] if d["ok"]]

        done = sla.tick(records, clock.now(), tell)
    if done:
        refresh_status_pages(ws)
    return done


def notify(
    ws: Workspace,
    incident_id: int,
    template: str,
    channels: tuple[str, ...] = (),
    dry_run: bool = False,
    action: str = "trigger",
) -> dict[str, Any]:
    """Send (or show) one template about one incident; every attempt goes on its timeline."""
    from runbook.incidents.notify import notify as send

    with ws.store() as store:
        return send(
            store,
            ws.project,
            incident_id,
            template,
            channels,
            dry_run,
            action,
            target=ws.profile(),
        )


def checklist(
    ws: Workspace, schedule: str, items: tuple[int, ...], note: str | None
) -> dict[str, Any]:
    """Tick items (1-based) of this period's checklist; the list with who ticked what."""
    names = checklists.CHECKLISTS[schedule]
    current = checklists.period(schedule, clock.now())
    with ws.store() as store:
        if items:
            store.tick_checklist(
                schedule, current, [names[n - 1] for n in items], operator_name(), note
            )
        ticks = store.checklist_ticks(schedule, current)
    rows = [
        {
            "n": i,
            "item": name,
            **({"done": True, **ticks[name]} if name in ticks else {"done": False}),
        }
        for i, name in enumerate(names, 1)
    ]
    return {
        "schedule": schedule,
        "period": current,
        "when": checklists.WHEN[schedule],
        "items": rows,
    }
