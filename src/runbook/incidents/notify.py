"""Render a template for an incident and send it over the project's channels, recording it."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

from runbook.errors import RunbookError
from runbook.incidents import channels, templates
from runbook.incidents.records import Incidents
from runbook.store import Store
from runbook.target import Profile
from runbook.target import load as load_profile


def notify(
    store: Store,
    project: Path | None,
    incident_id: int,
    template: str,
    only: tuple[str, ...] = (),
    dry_run: bool = False,
    event_action: str = "trigger",
    timeout: float = 10,
    target: Profile | None = None,
    deadline: float | None = None,
) -> dict[str, Any]:
    """Send one template about one incident; every attempt goes on its timeline.

    Returns {"subject", "body", "deliveries": [...]}; a failed channel is reported, not raised.
    """
    target = target or load_profile()
    incidents = Incidents(store)
    incident = incidents.get(incident_id)
    levels, configured = channels.load(project)
    values = templates.context(
        incident,
        incidents.events(incident_id),
        incidents.runs(incident_id),
        _contacts(levels, incident),
        product=target.name,
    )
    values["investigations"] = store.investigations(incident_id)
    text = templates.render(template, values, project)
    subject, body = channels.split(text)
    chosen = [c for c in configured if not only or c.name in only]
    missing = set(only) - {c.name for c in configured}
    if missing:
        raise RunbookError(
            f"no channel {', '.join(sorted(missing))} in contacts.yml "
            f"(channels: {', '.join(c.name for c in configured) or 'none'})"
        )
    out: dict[str, Any] = {
        "subject": subject,
        "body": body,
        "template": template,
        "channels": [c.name for c in chosen],
        "deliveries": [],
    }
    if dry_run:
        return out
    message = channels.Message(subject, body, incident, template, event_action, target.slug)

    def attempt(a: channels.Attempt) -> None:
        incidents.record(
            incident_id,
            "notification",
            f"{template} via {a.channel}: attempt {a.number} "
            f"{'delivered' if a.ok else 'failed'} ({a.detail})",
            {
                "channel": a.channel,
                "template": template,
                "attempt": a.number,
                "ok": a.ok,
                "detail": a.detail,
            },
        )

    for channel in chosen:
        try:
            delivery = channels.send(
                channel,
                message,
                timeout=float(channel.settings.get("timeout") or timeout),
                all_incidents=lambda: incidents.all(True),
                on_attempt=attempt,
                deadline=deadline,
            )
        except Exception as exc:  # send() never raises; recording an attempt might
            delivery = channels.Delivery(channel.name, False, error=f"{exc.__class__.__name__}")
        out["deliveries"].append(asdict(delivery))
    return out


def _contacts(levels: dict[str, Any], incident: dict[str, Any]) -> dict[str, Any]:
    level = levels.get(incident["level"]) or levels.get(str(incident["level"])) or {}
    people = level.get("contacts") or []
    names = ", ".join(p.get("name", "") for p in people if isinstance(p, dict))
    return {"on_call": names or incident.get("owner")}
