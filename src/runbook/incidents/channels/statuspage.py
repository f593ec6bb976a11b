"""A static status page: open incidents with status and ETA, recently resolved ones."""

from __future__ import annotations

import html
import os
import tempfile
from pathlib import Path
from typing import Any, ClassVar

from runbook import clock
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
            f"P{i['priority'][1:]}",
            i["title"],
            i["status"],
            i.get("eta") or "-",
            i.get("resolved_at") or i["opened_at"],
        ]
        return "<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in cells) + "</tr>"

    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Status</title>
<style>body{{font-family:sans-serif;max-width:60em;margin:2em auto}}
.banner{{padding:1em;font-size:1.4em;background:{"#f4a259" if open_rows else "#8fd694"}}}
table{{border-collapse:collapse;width:100%}}td,th{{border-bottom:1px solid #ccc;padding:.4em}}
</style></head><body>
<div class="banner" id="state">{state}</div>
<h2>Open incidents</h2>
<table id="open">
<tr><th>Priority</th><th>Issue</th><th>Status</th><th>ETA</th><th>Since</th></tr>
{"".join(row(i) for i in open_rows) or '<tr><td colspan="5">None</td></tr>'}
</table>
<h2>Recently resolved</h2>
<table id="resolved">
<tr><th>Priority</th><th>Issue</th><th>Status</th><th>ETA</th><th>Resolved</th></tr>
{"".join(row(i) for i in resolved) or '<tr><td colspan="5">None</td></tr>'}
</table>
<p>Updated {html.escape(updated_at)}</p>
</body></html>
"""
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
