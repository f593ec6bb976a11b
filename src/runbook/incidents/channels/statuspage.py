"""A static status page: open incidents with status and ETA, recently resolved ones."""

from __future__ import annotations

import html
import os
import tempfile
from pathlib import Path
from typing import Any, ClassVar

from runbook import clock, pages
from runbook.incidents.channels.base import Channel, Message, Sending


def write_status_page(directory: Path, incidents: list[dict[str, Any]], updated_at: str) -> Path:
    """Static HTML any web server can serve: open incidents with status and ETA, recent
    resolved ones. Every text from users is escaped; the file is replaced atomically."""
    open_rows = [i for i in incidents if i["status"] != "resolved"]
    resolved = sorted(
        (i for i in incidents if i["status"] == "resolved"),
        key=lambda i: i.get("resolved_at") or "",
        reverse=True,
    )[:10]
    state = "Some systems are affected" if open_rows else "All systems operational"

    def row(i: dict[str, Any]) -> str:
        cells = [
            html.escape(f"P{i['priority'][1:]}"),
            html.escape(str(i["title"])),
            html.escape(str(i["status"])),
            html.escape(str(i.get("eta") or "-")),
            pages.when(i.get("resolved_at") or i["opened_at"]),
        ]
        return "<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>"

    head = "<tr><th>Priority</th><th>Issue</th><th>Status</th><th>ETA</th><th>{}</th></tr>"
    none = '<tr><td colspan="5">None</td></tr>'
    body = f"""<h1>Status</h1>
<div class="banner {"bad" if open_rows else "ok"}" id="state">{state}</div>
<h2>Open incidents</h2>
<div class="scroll"><table id="open">
{head.format("Since")}
{"".join(row(i) for i in open_rows) or none}
</table></div>
<h2>Recently resolved</h2>
<div class="scroll"><table id="resolved">
{head.format("Resolved")}
{"".join(row(i) for i in resolved) or none}
</table></div>
<footer>Updated {pages.when(updated_at)}</footer>"""
    page = pages.page("Status", body)
    directory.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".index-", suffix=".html")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(page)
    os.chmod(tmp, 0o644)
    target = directory / "index.html"
    os.replace(tmp, target)
    return target


class StatusPage(Channel):
    kind: ClassVar[str] = "statuspage"
    required: ClassVar[tuple[str, ...]] = ("directory",)

    def deliver(self, message: Message, sending: Sending) -> str:
        incidents = sending.all_incidents() if sending.all_incidents else [message.incident]
        path = write_status_page(
            Path(self.settings["directory"]),
            incidents,
            clock.stamp(),
        )
        return f"wrote {path.name}"
