"""The HTML pages people get (the status page, the post-incident review, the deployment
report): one small stylesheet, readable on a phone and printable; Markdown rendered by a real
parser (markdown-it, raw HTML off); every time as one format, in the reader's own zone.

A time is written as <time datetime="…Z">2026-11-30 04:37 UTC</time>; a few lines of script
show it in the browser's zone. Without script the UTC text stands.
"""

from __future__ import annotations

import html
import re

STYLESHEET = """
:root{color-scheme:light;--fg:#1d232a;--muted:#5b6570;--line:#d8dde3;--ok:#1f7a3a;
--warn:#a15c00;--bad:#b3261e;--okbg:#e3f4e8;--warnbg:#fdf0dc;--badbg:#fbe4e2}
*{box-sizing:border-box}
body{font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;
color:var(--fg);max-width:60rem;margin:0 auto;padding:1rem}
h1{font-size:1.6rem;margin:.5rem 0 1rem}h2{font-size:1.25rem;margin:1.5rem 0 .5rem;
border-bottom:1px solid var(--line);padding-bottom:.2rem}h3{font-size:1.05rem}
table{border-collapse:collapse;width:100%;margin:.5rem 0 1rem;font-size:.95rem}
th,td{text-align:left;border-bottom:1px solid var(--line);padding:.35rem .5rem;
vertical-align:top}th{color:var(--muted);font-weight:600}
.scroll{overflow-x:auto}
.banner{padding:.8rem 1rem;font-size:1.3rem;border-radius:.4rem;margin-bottom:1rem}
.ok{color:var(--ok)}.warn{color:var(--warn)}.bad{color:var(--bad)}.muted{color:var(--muted)}
.banner.ok{background:var(--okbg)}.banner.bad{background:var(--warnbg);color:var(--fg)}
code{background:#f2f4f6;padding:0 .2rem;border-radius:.2rem;word-break:break-word}
ul.tasks{list-style:none;padding-left:1rem}
figure{margin:1rem 0}figure svg{width:100%;height:auto}
.shots{display:flex;flex-wrap:wrap;gap:1rem}
.shots img{max-width:100%;height:auto;border:1px solid #ccc}
figcaption{color:var(--muted);font-size:.9rem}
footer{color:var(--muted);font-size:.85rem;margin-top:2rem}
@media (max-width:40rem){body{font-size:15px;padding:.6rem}th,td{padding:.3rem}}
@media print{body{max-width:none;padding:0}.banner{border:1px solid #999}
a{color:inherit;text-decoration:none}figure{break-inside:avoid}h2{break-after:avoid}}
"""

#: Shows each <time> in the reader's zone (one format: 2026-11-30 05:37 CET).
LOCAL_TIME = """
for (const t of document.querySelectorAll("time[datetime]")) {
  const d = new Date(t.getAttribute("datetime"));
  if (isNaN(d)) continue;
  const p = new Intl.DateTimeFormat("en-CA", {year: "numeric", month: "2-digit",
    day: "2-digit", hour: "2-digit", minute: "2-digit", hourCycle: "h23",
    timeZoneName: "short"}).formatToParts(d);
  const v = Object.fromEntries(p.map(x => [x.type, x.value]));
  t.textContent = `${v.year}-${v.month}-${v.day} ${v.hour}:${v.minute} ${v.timeZoneName}`;
  t.title = t.getAttribute("datetime");
}
"""

STAMP = re.compile(r"\b(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2})(?::\d{2}(?:\.\d+)?)?(Z|[+-]00:00)")


def when(stamp: str | None) -> str:
    """A record's time as <time>: UTC text, the reader's zone once the page loads."""
    if not stamp:
        return "-"
    match = STAMP.search(stamp)
    if not match:
        return html.escape(stamp)
    return f'<time datetime="{html.escape(stamp)}">{match.group(1)} {match.group(2)} UTC</time>'


def times(fragment: str) -> str:
    """Every ISO 8601 UTC time in an (escaped) HTML fragment's text, as <time>."""
    return STAMP.sub(lambda m: when(m.group(0)), fragment)


def markdown(text: str) -> str:
    """Markdown as HTML: CommonMark with tables; raw HTML in the text is shown, never run;
    `- [ ]` task items as boxes; times as <time>."""
    from markdown_it import MarkdownIt  # here: most commands that load this module render none

    md = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")
    out = md.render(text)
    out = out.replace("<li>[ ] ", "<li>&#9744; ").replace("<li>[x] ", "<li>&#9745; ")
    return times(out)


def page(title: str, body: str, *, lang: str = "en") -> str:
    """A whole page around `body`: the stylesheet, the viewport for phones, local times."""
    return (
        f'<!doctype html>\n<html lang="{lang}"><head><meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width,initial-scale=1">\n'
        f"<title>{html.escape(title)}</title>\n<style>{STYLESHEET}</style></head>\n"
        f"<body>\n{body}\n<script>{LOCAL_TIME}</script>\n</body></html>\n"
    )
