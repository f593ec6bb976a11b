"""The status page follows the record: re-rendered whenever an incident changes (opened,
acknowledged, updated, escalated, resolved, a run put on it), not only when a notice is sent;
a resolved incident no longer leaves "Some systems are affected" up."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from runbook import clock
from runbook.errors import RunbookError
from runbook.incidents import contacts_file
from runbook.incidents.records import Incidents
from runbook.service.workspace import Workspace


def refresh_status_pages(ws: Workspace, warn: Callable[[str], None] | None = None) -> list[Path]:
    """Write every status-page channel's page from the record. Never fails the change that
    called it: a problem is a warning."""
    if contacts_file(ws.project) is None:
        return []  # no channel at all: the channels' code is not even loaded
    from runbook.incidents.channels import load, write_status_page
    from runbook.incidents.channels.statuspage import StatusPage

    try:
        channels = [c for c in load(ws.project)[1] if isinstance(c, StatusPage)]
        if not channels:
            return []
        with ws.store() as store:
            everything = Incidents(store).all(True)
        return [
            write_status_page(Path(c.settings["directory"]), everything, clock.stamp())
            for c in channels
        ]
    except (RunbookError, OSError) as exc:
        if warn is not None:
            warn(f"runbook: warning: the status page was not updated: {exc}")
        return []
