"""The workflow document's communication templates, rendered from the incident record.

Jinja2 with undefined variables as errors; a project's `templates/NAME.j2` overrides the
shipped one. Text from users stays text here: each channel escapes it for its own medium.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import jinja2

from runbook import clock
from runbook.errors import RunbookError
from runbook.incidents import sla
from runbook.incidents.records import parse_time
from runbook.text import visible

TEMPLATES = {"p0": "p0.txt.j2", "p1": "p1.txt.j2", "user": "user.txt.j2", "review": "review.md.j2"}
STATUS_LABELS = {
    "p0": {
        "investigating": "Investigating",
        "mitigating": "Rollback Initiated",
        "monitoring": "Fixed",
        "resolved": "Fixed",
    },
    "p1": {
        "investigating": "Investigating",
        "mitigating": "Fix in Progress",
        "monitoring": "Fix in Progress",
        "resolved": "Resolved",
    },
}


def environment(project: Path | None = None) -> jinja2.Environment:
    loaders: list[jinja2.BaseLoader] = []
    if project is not None and (project / "templates").is_dir():
        loaders.append(jinja2.FileSystemLoader(str(project / "templates")))
    loaders.append(jinja2.PackageLoader("runbook.incidents", "templates"))
    return jinja2.Environment(
        loader=jinja2.ChoiceLoader(loaders),
        undefined=jinja2.StrictUndefined,
        autoescape=False,  # noqa: S701 - plain text and Markdown; HTML channels escape their own
        keep_trailing_newline=True,
        # Every value a template prints: escape sequences, C1 controls and bidi overrides from
        # titles and reasons are shown as escapes, in the notices and the review alike.
        finalize=lambda value: visible(value) if isinstance(value, str) else value,
    )


def _duration(start: str | None, end: str | None) -> str:
    if not start or not end:
        return "-"
    return sla.human(parse_time(end) - parse_time(start))


def context(
    incident: dict[str, Any],
    events: list[dict[str, Any]],
    runs: list[dict[str, Any]],
    contacts: dict[str, Any] | None = None,
    now: datetime | None = None,
    *,
    product: str,
) -> dict[str, Any]:
    """Everything the shipped templates use, from the record alone; `product` is the target
    plugin's name (the profile's `name`)."""
    now = now or clock.now()
    first_seen = min(
        (
            e["data"]["first_seen"]
            for e in events
            if isinstance(e.get("data"), dict) and e["data"].get("first_seen")
        ),
        default=None,
    )
    contact = (contacts or {}).get("on_call") or incident.get("owner") or "the on-call developer"
    eta = incident.get("eta") or (
        f"within {sla.human(sla.clock(incident, now).resolution_left)}"
        if incident["status"] != "resolved"
        else "resolved"
    )
    return {
        "product": product,
        "incident": incident,
        "events": events,
        "runs": runs,
        # The incident's investigations, newest first (the caller adds them from the store).
        "investigations": [],
        "eta": eta,
        "timeframe": incident.get("eta")
        or sla.human(sla.clock(incident, now).resolution_due - now),
        "details": incident.get("impact") or incident["title"],
        "next_steps": [
            s
            for s in (
                incident.get("action_taken"),
                "Investigate the root cause",
                "Prepare and test a fix",
            )
            if s
        ],
        "workaround": "the feature stays off until the fix is deployed",
        "contact": contact,
        "prevention": [
            p.strip() for p in (incident.get("prevention") or "").splitlines() if p.strip()
        ],
        "durations": {
            "detect": _duration(first_seen, incident["opened_at"]),
            "acknowledge": _duration(incident["opened_at"], incident.get("acknowledged_at")),
            "mitigate": _duration(incident["opened_at"], incident.get("mitigated_at")),
            "resolve": _duration(incident["opened_at"], incident.get("resolved_at")),
        },
    }


def render(name: str, values: dict[str, Any], project: Path | None = None) -> str:
    if name not in TEMPLATES:
        raise RunbookError(f"template {name!r}: one of {', '.join(TEMPLATES)}")
    values = dict(values)
    values.setdefault(
        "status_label",
        STATUS_LABELS.get(name, {}).get(values["incident"]["status"], values["incident"]["status"]),
    )
    try:
        return environment(project).get_template(TEMPLATES[name]).render(**values)
    except jinja2.UndefinedError as exc:
        raise RunbookError(f"template {TEMPLATES[name]}: {exc.message}") from None
    except jinja2.TemplateSyntaxError as exc:
        raise RunbookError(
            f"template {exc.filename or TEMPLATES[name]} line {exc.lineno}: {exc.message}"
        ) from None


def markdown_to_html(text: str) -> str:
    """The review as one self-contained page: Markdown rendered whole, the shared stylesheet."""
    from runbook import pages

    first = next((line[2:] for line in text.splitlines() if line.startswith("# ")), "")
    return pages.page(first or "Post-Incident Review", pages.markdown(text))
