"""Incidents: priorities and deadlines, status, escalation, the timeline, communication."""

from __future__ import annotations

from pathlib import Path


def contacts_file(project: Path | None) -> Path | None:
    """The project's contacts.yml (escalation levels and channels), or None: where there is
    none, nothing needs the channels' code (a run checks this before it loads it)."""
    if project is None or not (project / "contacts.yml").is_file():
        return None
    return project / "contacts.yml"
