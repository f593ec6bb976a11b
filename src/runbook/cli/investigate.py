"""`runbook investigate`: parse, call the service, print (the suspect first)."""

from __future__ import annotations

import json
from typing import Any

import click

from runbook.cli.options import common, with_options
from runbook.service import investigate as service
from runbook.views import visible


def _ws() -> Any:
    return click.get_current_context().find_root().obj.ws


def _say(message: str) -> None:
    click.echo(message, err=True)


@click.command("investigate")
@click.option("--incident", type=int, help="The incident: its window, its timeline, its review.")
@click.option(
    "--since",
    help="The window's start: 30m, 2h, an ISO 8601 time, or `incident` (when it was opened; "
    "the default with --incident, else 1h).",
)
@click.option(
    "--pages",
    multiple=True,
    metavar="PATH",
    help="A page the browser visits on every site (repeatable; default / and /wp-login.php).",
)
@click.option("--no-browser", is_flag=True, help="Skip the browser (no Chromium here).")
@click.option("--top", type=click.IntRange(1, 100), default=10, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@with_options(common("inventory", "limit"))
def investigate_cmd(
    incident: int | None,
    since: str | None,
    pages: tuple[str, ...],
    no_browser: bool,
    top: int,
    as_json: bool,
    inventory: tuple[str, ...],
    limit: str | None,
) -> None:
    """The investigation hour (P0 step 2): evidence from every node, a suspect named.

    Read-only on every host and takes no lock: safe in the middle of a rollback. Gathers, per
    site and node: the logs since the incident began (counts, top fingerprints with first and
    last seen, those new since the baseline, raw lines of the top ones); WordPress, PHP and
    plugin versions, the active plugins, the flags and percentages, the newest backups
    verified, whether the nodes agree (a checksum of the plugin's tree); `wp db check` and the
    plugin's options checked; and, in headless Chromium, each key page's console errors,
    uncaught exceptions and failed requests. The suspect is the error first seen after the last
    change the record knows, with its file, line and the flag guarding that code.

    Everything goes into an evidence bundle (tar.gz with a manifest of checksums) linked from
    the incident's timeline; `runbook incident review` drafts the root cause from it. Secrets
    are scrubbed; wp-config.php is never read. A database that is down or a node that does not
    answer is reported, and the rest gathered. Exit 0, or the gather run's code when nodes
    could not be read (3 failed, 4 unreachable).
    """
    for page in pages:
        if not page.startswith("/") or any(c in page for c in " \t\n#"):
            raise click.BadParameter(f"{page!r}: a path such as / or /shop/", param_hint="--pages")
    doc = service.investigate(
        _ws(),
        service.InvestigateOptions(
            incident=incident,
            since=since,
            inventory=tuple(inventory),
            limit=limit,
            pages=pages or service.DEFAULT_PAGES,
            browser=not no_browser,
            top=top,
        ),
        _say,
    )
    if as_json:
        click.echo(json.dumps(doc, indent=2, default=str))
    else:
        click.echo(summary(doc))
    raise click.exceptions.Exit(doc["exit_code"])


def _suspect_lines(s: dict[str, Any] | None) -> list[str]:
    if not s:
        return ["No suspect: no error new since the baseline in the window."]
    where = f"{s['file']}:{s['line']}" if s["file"] else "an unknown place"
    lines = [
        f"SUSPECT (not a verdict): {s['level']} in {where}",
        f"  {s['message']}",
        f"  {s['count']} times on {', '.join(s['hosts'])}; {s['why']}",
    ]
    if s["flag"]:
        lines.append(f"  the code is guarded by the flag {s['flag']}")
    return [*lines, "  to confirm:", *(f"    - {c}" for c in s["confirm"])]


def _node_line(host: str, node: dict[str, Any]) -> str:
    tree = node.get("plugin_tree") or {}
    newest = next(iter(node.get("backups") or []), None)
    backup = (
        f"{newest['name']} ({'verified' if newest.get('verified') else 'NOT verified'})"
        if newest
        else "none"
    )
    cli = node.get("wp_cli") or {}
    return (
        f"  {host}: WordPress {node.get('wordpress_version')}, PHP {node.get('php_version')}, "
        f"WP-CLI {cli.get('version') or '?'}"
        + (" (the sandbox's stand-in)" if "stand-in" in str(cli.get("dir")) else "")
        + f", plugin {tree.get('version')} ({(tree.get('sha256') or '-')[:12]}); newest backup "
        + backup
    )


def _database_line(db: dict[str, Any]) -> str:
    line = f"  database: {db['state']}"
    if db["state"] == "ok":
        line += f" ({db['tables']} tables checked)"
    if db.get("problems"):
        line += f": {'; '.join(db['problems'])}"
    if db.get("why"):
        line += f": {db['why']}"
    return line


def _options_lines(options: dict[str, Any] | None) -> list[str]:
    if options is None:
        return []
    if not options["corrupt"]:
        return ["  options: as expected"]
    trigger = options["trigger"]
    return [
        f"  OPTIONS LOOK CORRUPT: {', '.join(options['corrupt'])}: manual rollback trigger "
        f"{trigger['name']} ({trigger['text']})",
        *(f"    {p}" for v in options["options"].values() for p in v["problems"]),
    ]


def _browser_lines(pages: list[dict[str, Any]]) -> list[str]:
    lines = []
    for page in pages:
        found = [
            *(f"console: {c['text']}" for c in page["console_errors"]),
            *(f"exception: {e}" for e in page["exceptions"]),
            *(f"{r['status'] or r.get('failure')} {r['url']}" for r in page["failed_requests"]),
        ]
        lines.append(
            f"  browser {page['page']} on {page['host']}: {page['status'] or page['problem']}"
            + (f", {len(found)} problems" if found else ", clean")
        )
        lines += [f"    {f[:160]}" for f in found[:6]]
    return lines


def _site_lines(site: str, entry: dict[str, Any]) -> list[str]:
    lines = ["", f"{site}:"]
    lines += [_node_line(h, n) for h, n in entry["nodes"].items()]
    lines += [f"  {host}: not reached" for host in entry["unreachable"]]
    lines += [f"  NODES DISAGREE: {d}" for d in entry["agree"]]
    lines.append(_database_line(entry["database"]))
    lines += _options_lines(entry["options"])
    if entry["flags"] is not None:
        lines.append(f"  flags: {json.dumps(entry['flags'])}")
        lines.append(f"  percentages: {json.dumps(entry['percentages'])}")
    return lines + _browser_lines(entry["browser"])


def summary(doc: dict[str, Any]) -> str:
    """What a person reads first: the suspect, what could not be gathered, then per site."""
    lines = [f"Investigation {doc['id']} since {doc['since']} (run {doc['run_id']})", ""]
    lines += _suspect_lines(doc["suspect"])
    if doc["could_not"]:
        lines += ["", "Could not gather:", *(f"  - {c}" for c in doc["could_not"])]
    lines += ["", "Top errors in the window (* new since the baseline)"]
    lines += [
        f"  {'*' if f['new'] else ' '} {f['count']:>6} {f['level']:<8} {f['sample'][:110]} "
        f"({', '.join(f['hosts'])})"
        for f in doc["logs"]["fingerprints"][:8]
    ] or ["  none"]
    for site, entry in doc["sites"].items():
        lines += _site_lines(site, entry)
    bundle = doc.get("bundle")
    if bundle:
        lines += ["", f"Evidence: {bundle['path']} (sha256 {bundle['sha256'][:16]}...)"]
    return visible("\n".join(lines))
