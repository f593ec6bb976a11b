"""The deployment report as text, Markdown or one self-contained HTML page whose plots
(matplotlib, inline SVG, text kept as text) show per site the error rate and the API's p95
over time against their thresholds and the baseline, with a marker for each decision and
action."""

from __future__ import annotations

import base64
import html
import io
from typing import Any

from runbook import clock, pages

#: The thresholds drawn on the plots (the document's api_errors and api_response rows).
ERROR_GREEN, ERROR_RED = 1.0, 5.0
P95_GREEN, P95_RED = 500.0, 1000.0
MARKED = {
    "decision": "#b3261e",
    "action": "#b3261e",
    "would": "#a15c00",
    "escalated": "#6a1b9a",
    "verified": "#1f7a3a",
    "held": "#5b6570",
}
RESULT_CLASS = {"met": "ok", "not met": "bad", "unknown": "muted"}


def text(doc: dict[str, Any]) -> str:
    lines = [f"Deployment report {doc['since']} .. {doc['until']} ({doc['cycles']} cycles)", ""]
    if not doc["sites"]:
        lines.append("No monitor cycles in this period (runbook monitor records them).")
    for site, entry in doc["sites"].items():
        lines.append(f"{site} ({', '.join(entry['hosts'])})")
        for m in entry["metrics"]:
            lines.append(f"  {m['result'].upper():8} {m['metric']}: {m['figures']}")
        lines.append("")
    lines.append("Decisions and actions")
    lines += [f"  {e['at']} {e['site'] or '-'} {e['kind']}: {e['summary']}" for e in doc["events"]]
    lines += ["", "Runs"]
    lines += [
        f"  {r['started_at']} {r['runbook']} {r['run_id']}: {r['status']} (exit {r['exit_code']})"
        for r in doc["runs"]
    ]
    lines += ["", "Deploys and rollouts"]
    for c in doc.get("changes", []):
        lines.append(
            f"  {c['created_at']} {c['kind']} {c['id']} {c['subject']}: {c['status']} "
            f"({c['reason']})"
        )
        lines += [f"    {g['at']} {g['kind']}: {g['summary']}" for g in c["gates"]]
        lines += [
            f"    visual {p['page']} on {p['host']}: {p['changed_share']:.1%} changed, "
            f"HTTP {p['status']}: {p['diff']}"
            for p in c["visual_pages"]
            if p["failed"]
        ]
    lines += ["", "Incidents"]
    lines += [
        f"  {i['id']} {i['priority']} {i['status']} L{i['level']}: {i['title']}"
        for i in doc["incidents"]
    ]
    return "\n".join(lines) + "\n"


def _cell(value: Any) -> str:
    return str(value if value is not None else "-").replace("|", "\\|").replace("\n", " ")


def markdown(doc: dict[str, Any]) -> str:
    out = [
        f"# Deployment report {doc['since']} .. {doc['until']}",
        "",
        f"{doc['cycles']} monitor cycles.",
        "",
    ]
    if not doc["sites"]:
        out += ["No monitor cycles in this period (runbook monitor records them).", ""]
    for site, entry in doc["sites"].items():
        out += [
            f"## {site}",
            "",
            f"Hosts: {', '.join(entry['hosts'])}",
            "",
            "| Success metric | Result | Figures |",
            "| --- | --- | --- |",
        ]
        out += [
            f"| {_cell(m['metric'])} | {m['result']} | {_cell(m['figures'])} |"
            for m in entry["metrics"]
        ]
        out.append("")
    out += [
        "## Decisions and actions",
        "",
        "| When | Site | What | Summary |",
        "| --- | --- | --- | --- |",
    ]
    out += [
        f"| {e['at']} | {_cell(e['site'])} | {e['kind']} | {_cell(e['summary'])} |"
        for e in doc["events"]
    ] or ["| - | - | - | none |"]
    out += ["", "## Runs", "", "| Started | Runbook | Run | Status |", "| --- | --- | --- | --- |"]
    out += [
        f"| {r['started_at']} | {r['runbook']} | {r['run_id']} | "
        f"{r['status']} (exit {r['exit_code']}) |"
        for r in doc["runs"]
    ] or ["| - | - | - | none |"]
    out += ["", "## Deploys and rollouts", ""]
    for c in doc.get("changes", []):
        out += [
            f"### {c['kind']} {c['id']}: {_cell(c['subject'])}, {c['status']}",
            "",
            f"{_cell(c['reason'])} ({_cell(c['operator'])}, {c['created_at']})",
            "",
        ]
        out += [f"- {g['at']} {g['kind']}: {_cell(g['summary'])}" for g in c["gates"]]
        if c["visual_pages"]:
            out += ["", "| Wave | Host | Page | HTTP | Changed | Diff |", *["| --- " * 6 + "|"]]
            out += [
                f"| {p.get('wave') or '-'} | {p['host']} | {_cell(p['page'])} | {p['status']} | "
                f"{p['changed_share']:.2%}{' **over**' if p['failed'] else ''} | "
                f"{_cell(p['diff'])} |"
                for p in c["visual_pages"]
            ]
        out.append("")
    if not doc.get("changes"):
        out += ["None in this period.", ""]
    out += [
        "",
        "## Incidents",
        "",
        "| Id | Priority | Status | Level | Title |",
        "| --- | --- | --- | --- | --- |",
    ]
    out += [
        f"| {i['id']} | {i['priority']} | {i['status']} | L{i['level']} | {_cell(i['title'])} |"
        for i in doc["incidents"]
    ] or ["| - | - | - | - | none |"]
    return "\n".join(out) + "\n"


def plot(site: str, entry: dict[str, Any]) -> str:
    """The site's error rate and p95 over time as inline SVG (no XML header)."""
    import matplotlib
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
    from matplotlib.figure import Figure

    points = entry["series"]
    times = [clock.parse(p["at"]) for p in points]
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": f"runbook-{site}"}):
        fig = Figure(figsize=(8, 5), layout="constrained")
        errors, speed = fig.subplots(2, 1, sharex=True)
        errors.plot(times, [p["api_error_rate"] for p in points], marker=".", label="API errors")
        errors.plot(times, [p["php_error_rate"] for p in points], marker=".", label="PHP errors")
        errors.axhline(
            ERROR_GREEN, color="#1f7a3a", linestyle="--", linewidth=1, label="green < 1%"
        )
        errors.axhline(ERROR_RED, color="#b3261e", linestyle="--", linewidth=1, label="red > 5%")
        errors.set_ylabel("error rate (%)")
        errors.set_title(f"{site}: error rate and API p95 response time")
        speed.plot(
            times, [p["p95_ms"] for p in points], marker=".", color="#1565c0", label="API p95"
        )
        speed.axhline(
            P95_GREEN, color="#1f7a3a", linestyle="--", linewidth=1, label="green < 500 ms"
        )
        speed.axhline(P95_RED, color="#b3261e", linestyle="--", linewidth=1, label="red > 1000 ms")
        if entry.get("baseline_p95_ms"):
            speed.axhline(
                entry["baseline_p95_ms"], color="#5b6570", linestyle=":", label="baseline"
            )
        speed.set_ylabel("p95 (ms)")
        for event in entry["events"]:
            color = MARKED.get(event["kind"])
            if color is None:
                continue
            at = clock.parse(event["at"])
            for axis in (errors, speed):
                axis.axvline(at, color=color, linewidth=1.2, alpha=0.8)
            errors.annotate(
                event["kind"],
                (at, 1),
                xycoords=("data", "axes fraction"),
                rotation=90,
                va="top",
                ha="right",
                fontsize=8,
                color=color,
            )
        for axis in (errors, speed):
            axis.legend(loc="upper left", fontsize=7, ncols=2)
            axis.grid(alpha=0.3)
        locator = AutoDateLocator()  # type: ignore[no-untyped-call]
        speed.xaxis.set_major_locator(locator)
        speed.xaxis.set_major_formatter(ConciseDateFormatter(locator))  # type: ignore[no-untyped-call]
        speed.set_xlabel("time (UTC)")
        buffer = io.StringIO()
        fig.savefig(buffer, format="svg")
    svg = buffer.getvalue()
    return svg[svg.index("<svg") :]


def page(doc: dict[str, Any]) -> str:
    """One self-contained HTML file: the shared stylesheet, tables, inline SVG plots."""
    e = html.escape
    body = [
        f"<h1>Deployment report</h1><p>{pages.when(doc['since'])} to {pages.when(doc['until'])}"
        f", {doc['cycles']} monitor cycles.</p>"
    ]
    if not doc["sites"]:
        body.append("<p>No monitor cycles in this period (runbook monitor records them).</p>")
    for site, entry in doc["sites"].items():
        body.append(f'<section class="site" id="site-{e(site)}"><h2>{e(site)}</h2>')
        body.append(f'<p class="muted">Hosts: {e(", ".join(entry["hosts"]))}</p>')
        body.append('<div class="scroll"><table class="metrics"><tr><th>Success metric</th>')
        body.append("<th>Result</th><th>Figures</th></tr>")
        for m in entry["metrics"]:
            body.append(
                f'<tr><td>{e(m["metric"])}</td><td class="{RESULT_CLASS[m["result"]]}">'
                f"{e(m['result'])}</td><td>{e(m['figures'])}</td></tr>"
            )
        body.append("</table></div>")
        if entry["series"]:
            body.append(
                f'<figure role="img" aria-label="{e(site)}: error rate and p95 over time">'
                f"{plot(site, entry)}<figcaption>{e(site)}: error rate and API p95 per cycle "
                "against their thresholds and the baseline; vertical lines mark decisions and "
                "actions.</figcaption></figure>"
            )
        body.append("</section>")
    body.append('<h2>Decisions and actions</h2><div class="scroll"><table id="events">')
    body.append("<tr><th>When</th><th>Site</th><th>What</th><th>Summary</th></tr>")
    for event in doc["events"]:
        body.append(
            f"<tr><td>{pages.when(event['at'])}</td><td>{e(event['site'] or '-')}</td>"
            f"<td>{e(event['kind'])}</td><td>{e(event['summary'])}</td></tr>"
        )
    body.append("</table></div>")
    body.append('<h2>Runs</h2><div class="scroll"><table id="runs">')
    body.append("<tr><th>Started</th><th>Runbook</th><th>Run</th><th>Status</th></tr>")
    for run in doc["runs"]:
        body.append(
            f"<tr><td>{pages.when(run['started_at'])}</td><td>{e(run['runbook'])}</td>"
            f"<td><code>{e(run['run_id'])}</code></td>"
            f"<td>{e(str(run['status']))} (exit {e(str(run['exit_code']))})</td></tr>"
        )
    body.append("</table></div>")
    body.append("<h2>Deploys and rollouts</h2>")
    body += [_change_html(c) for c in doc.get("changes", [])] or ["<p>None in this period.</p>"]
    body.append('<h2>Incidents</h2><div class="scroll"><table id="incidents">')
    body.append("<tr><th>Id</th><th>Priority</th><th>Status</th><th>Level</th><th>Title</th></tr>")
    for i in doc["incidents"]:
        body.append(
            f"<tr><td>{i['id']}</td><td>{e(i['priority'])}</td><td>{e(i['status'])}</td>"
            f"<td>L{i['level']}</td><td>{e(i['title'])}</td></tr>"
        )
    body.append("</table></div>")
    body.append(f"<footer>runbook report, generated {pages.when(doc['until'])}</footer>")
    return pages.page("Deployment report", "\n".join(body))


#: The images of this many failed pages at most are put in the page (each three thumbnails).
SHOWN_PAGES = 12
THUMB_WIDTH = 420


def thumbnail(path: str) -> str | None:
    """The image as a small PNG data URI, or None when it is gone or not an image."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            image.thumbnail((THUMB_WIDTH, THUMB_WIDTH * 4))
            buffer = io.BytesIO()
            image.convert("RGB").save(buffer, format="PNG", optimize=True)
    except (OSError, UnidentifiedImageError, ValueError):
        return None
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _change_html(change: dict[str, Any]) -> str:
    """A deploy or rollout: its gates, its visual check's pages, the failed ones' images."""
    e = html.escape
    out = [
        f'<section class="change" id="{e(change["kind"])}-{change["id"]}">'
        f"<h3>{e(change['kind'])} {change['id']}: {e(str(change['subject']))}, "
        f"{e(change['status'])}</h3><p>{e(str(change['reason']))} "
        f'<span class="muted">({e(str(change["operator"]))}, '
        f"{pages.when(change['created_at'])})</span></p><ul>"
    ]
    out += [
        f"<li>{pages.when(g['at'])} <b>{e(g['kind'])}</b>: {e(g['summary'])}</li>"
        for g in change["gates"]
    ]
    out.append("</ul>")
    if change["visual_pages"]:
        out.append(
            '<div class="scroll"><table class="visual"><tr><th>Wave</th><th>Host</th>'
            "<th>Page</th><th>HTTP</th><th>Changed</th></tr>"
        )
        for p in change["visual_pages"]:
            out.append(
                f"<tr><td>{e(str(p.get('wave') or '-'))}</td><td>{e(p['host'])}</td>"
                f"<td>{e(p['page'])}</td><td>{p['status']}</td>"
                f'<td class="{"bad" if p["failed"] else "ok"}">{p["changed_share"]:.2%}</td></tr>'
            )
        out.append("</table></div>")
    for p in [p for p in change["visual_pages"] if p["failed"]][:SHOWN_PAGES]:
        out.append(f"<h4>{e(p['page'])} on {e(p['host'])}: before, after, difference</h4>")
        out.append('<div class="shots">')
        for label in ("before", "after", "diff"):
            uri = thumbnail(p[label])
            out.append(
                f'<figure><img src="{uri}" alt="{e(p["page"])} {label}" width="{THUMB_WIDTH}">'
                f"<figcaption>{label}: <code>{e(p[label])}</code></figcaption></figure>"
                if uri
                else f"<figure><figcaption>{label}: <code>{e(p[label])}</code> is gone"
                "</figcaption></figure>"
            )
        out.append("</div>")
    out.append("</section>")
    return "\n".join(out)


def render(doc: dict[str, Any], fmt: str) -> str:
    return {"text": text, "md": markdown, "html": page}[fmt](doc)
