"""`runbook investigate` as a use case: the workflow's P0 investigation hour.

One read-only run (gather-evidence: no lock, safe beside a rollback) reads every node's logs,
versions, plugin tree and backups, and each site's database facts; the browser reads each
site's key pages from one node; the record says what changed last. From these: the options
checked, the nodes compared, the fingerprints new since the baseline, and a suspect. All of it
goes into an evidence bundle (tar.gz + manifest with checksums) in the state directory, linked
from the incident's timeline; secrets are scrubbed on the node and again here.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runbook import clock
from runbook.ansible.module_utils.runbook_scrub import scrub_value
from runbook.errors import ExitCode, RunbookError
from runbook.incidents.records import Incidents
from runbook.investigate import analysis
from runbook.paths import state_dir
from runbook.service.nodes import web_targets
from runbook.service.runs import RunOptions, run
from runbook.service.workspace import Workspace

BOOK = "gather-evidence"
DEFAULT_PAGES = ("/", "/wp-login.php")


@dataclass
class InvestigateOptions:
    incident: int | None = None
    #: A window start (30m, 2h, an ISO time) or "incident" (when the incident was opened).
    since: str | None = None
    inventory: tuple[str, ...] = ()
    limit: str | None = None
    pages: tuple[str, ...] = DEFAULT_PAGES
    browser: bool = True
    top: int = 10


def _window(ws: Workspace, given: InvestigateOptions) -> tuple[str, dict[str, Any] | None]:
    incident = None
    if given.incident is not None:
        with ws.store() as store:
            incident = Incidents(store).get(given.incident)
    since = given.since or ("incident" if incident else "1h")
    if since == "incident":
        if incident is None:
            raise RunbookError("--since incident needs --incident N")
        return str(incident["opened_at"]), incident
    try:
        clock.window_start(since)
    except ValueError as exc:
        raise RunbookError(f"--since {exc}") from None
    return since, incident


def _sites_of(result: Any) -> dict[str, list[str]]:
    sites: dict[str, list[str]] = {}
    for host in result.request.hosts:
        sites.setdefault(result.request.hosts[host] or host, []).append(host)
    return sites


def _database(site: dict[str, Any] | None) -> dict[str, Any]:
    if site is None:
        return {"state": "not read", "why": "no node of the site answered"}
    check = site.get("db_check") or {}
    if check.get("ok"):
        return {"state": "ok", "tables": check.get("tables"), "problems": []}
    if check.get("problems"):
        return {"state": "damaged", "tables": check.get("tables"), "problems": check["problems"]}
    errors = [*(site.get("errors") or []), check.get("error") or ""]
    down = any("database connection" in e or "Can't connect" in e for e in errors)
    return {
        "state": "down" if down else "unknown",
        "why": "; ".join(e for e in errors if e) or "wp db check said nothing",
    }


def investigate(
    ws: Workspace, given: InvestigateOptions, say: Callable[[str], None]
) -> dict[str, Any]:
    since, incident = _window(ws, given)
    profile = ws.profile()
    started = time.monotonic()
    result = run(
        ws,
        ws.runbook(BOOK),
        {"since": since, "top": given.top},
        RunOptions(
            reason=f"investigation of incident {given.incident}" if incident else "investigation",
            inventory=given.inventory,
            limit=given.limit,
            incident=given.incident,
        ),
        warn=say,
        file_on_incident=incident is not None,
    )
    if result.status == "interrupted":
        raise RunbookError("the investigation was interrupted", ExitCode.INTERRUPTED)
    could_not: list[str] = []
    hosts = result.model.hosts
    reports = result.model.site_reports
    unreachable = {}
    for host in result.request.hosts:
        state = hosts.get(host)
        if state is None or state.outcome in ("unreachable", "failed", "not-run"):
            unreachable[host] = (state.message if state else None) or (
                state.outcome if state else "not-run"
            )
    could_not += [f"{h}: {why} (nothing gathered there)" for h, why in unreachable.items()]
    with ws.store() as store:
        baselines = store.baselines()
        runs = store.runs(1000)
    logs = {
        h: hosts[h].report.get("logs") or {} for h in result.request.hosts if h not in unreachable
    }
    fingerprints = analysis.fingerprints(
        logs, {h: b.get("fingerprints") or [] for h, b in baselines.items()}
    )
    kinds = {
        profile.flags_option: "flags",
        profile.rollout_option: "percentages",
        **({profile.settings_option: "settings"} if profile.settings_option else {}),
    }
    sites_out: dict[str, Any] = {}
    for site, members in sorted(_sites_of(result).items()):
        facts = (reports.get(site) or {}).get("investigate")
        nodes = {
            h: hosts[h].report.get("investigate") or {} for h in members if h not in unreachable
        }
        database = _database(facts)
        if database["state"] in ("down", "unknown", "not read"):
            could_not.append(f"{site}: the database ({database['state']}: {database['why']})")
        options = facts.get("options") if facts else {}
        checked = analysis.check_options(options or {}, kinds, profile.flags) if options else None
        if facts and not options and database["state"] != "down":
            could_not.append(f"{site}: the plugin's options ({'; '.join(facts['errors'])})")
        sites_out[site] = {
            "nodes": nodes,
            "unreachable": [h for h in members if h in unreachable],
            "agree": analysis.disagreements(nodes),
            "database": database,
            "active_plugins": facts.get("active_plugins") if facts else None,
            "flags": ((options or {}).get(profile.flags_option) or {}).get("value"),
            "percentages": ((options or {}).get(profile.rollout_option) or {}).get("value"),
            "options": checked,
            "browser": [],
        }
    if given.browser:
        _browse(ws, given, result, sites_out, unreachable, say, could_not)
    found_suspect = analysis.suspect(fingerprints, runs, profile.flag_for)
    doc: dict[str, Any] = {
        "incident_id": incident["id"] if incident else None,
        "since": since,
        "run_id": result.run_id,
        "gathered_in_seconds": round(time.monotonic() - started, 1),
        "suspect": found_suspect,
        "could_not": could_not,
        "unreachable": unreachable,
        "logs": {
            "counts": {h: (v.get("counts") or {}) for h, v in logs.items()},
            "fingerprints": fingerprints[:50],
            "samples": {
                h: n.get("samples") or {} for s in sites_out.values() for h, n in s["nodes"].items()
            },
        },
        "sites": sites_out,
        "exit_code": int(result.exit_code),
    }
    # Scrubbed again here: what the nodes scrubbed, plus anything a page or a path showed.
    doc = scrub_value(doc)
    return _record(ws, doc, incident, say)


def _browse(
    ws: Workspace,
    given: InvestigateOptions,
    result: Any,
    sites_out: dict[str, Any],
    unreachable: dict[str, str],
    say: Callable[[str], None],
    could_not: list[str],
) -> None:
    from runbook.investigate import browser

    reachable = [h for h in result.request.hosts if h not in unreachable]
    first: dict[str, str] = {}
    for host in reachable:
        first.setdefault(result.request.hosts[host] or host, host)
    if not first:
        return
    found = web_targets(
        result.request.inventory, given.limit, list(first.values()), "the browser check"
    )
    targets = [{"site": site, "node": host, **found[host]} for site, host in first.items()]
    try:
        pages = browser.visit(targets, list(given.pages))
    except RunbookError as exc:
        say(f"investigate: {exc}")
        could_not.append(f"the browser: {exc}")
        return
    for page in pages:
        sites_out[page["site"]]["browser"].append(page)


def _record(
    ws: Workspace, doc: dict[str, Any], incident: dict[str, Any] | None, say: Callable[[str], None]
) -> dict[str, Any]:
    suspect = doc["suspect"]
    summary = (
        f"suspect: {suspect['level']} in {suspect['file'] or '?'}:{suspect['line'] or '?'}"
        + (f" (flag {suspect['flag']})" if suspect["flag"] else "")
        if suspect
        else "no suspect: no error new since the baseline in the window"
    )
    with ws.store() as store:
        investigation = store.add_investigation(
            incident_id=doc["incident_id"],
            since=doc["since"],
            run_id=doc["run_id"],
            summary=summary,
            suspect=suspect,
        )
    doc = {"id": investigation, **doc}
    bundle, digest = write_bundle(doc, state_dir() / "investigations")
    doc["bundle"] = {"path": str(bundle), "sha256": digest}
    with ws.store() as store:
        store.set_investigation_bundle(investigation, str(bundle), digest)
        if incident is not None:
            Incidents(store).record(
                incident["id"],
                "investigation",
                f"investigation {investigation}: {summary}; evidence {bundle}",
                {"investigation": investigation, "bundle": str(bundle), "sha256": digest},
            )
    say(f"investigate: evidence in {bundle}")
    return doc


def write_bundle(doc: dict[str, Any], folder: Path) -> tuple[Path, str]:
    """The evidence as one tar.gz (the document, each node's raw log samples, the browser's
    findings) with a manifest of checksums inside and beside it; written whole or not at all."""
    members: dict[str, bytes] = {
        "investigation.json": json.dumps(doc, indent=2, default=str).encode(),
    }
    for host, samples in sorted(doc["logs"]["samples"].items()):
        text = "".join(
            f"# {needle}\n# {record['log']}\n{record['lines']}\n\n"
            for needle, records in samples.items()
            for record in records
        )
        if text:
            members[f"logs/{host}.txt"] = text.encode()
    pages = [p for s in doc["sites"].values() for p in s["browser"]]
    if pages:
        members["browser.json"] = json.dumps(pages, indent=2).encode()
    manifest = {
        "format": "runbook-investigation/1",
        "investigation": doc["id"],
        "created_at": clock.stamp(),
        "files": [
            {"path": name, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
            for name, data in members.items()
        ],
    }
    members["manifest.json"] = json.dumps(manifest, indent=2).encode()
    folder.mkdir(parents=True, exist_ok=True)
    name = f"investigation-{doc['id']}-{clock.now().strftime('%Y%m%dT%H%M%SZ')}.tar.gz"
    target = folder / name
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{name}-")
    try:
        with os.fdopen(fd, "wb") as raw, tarfile.open(fileobj=raw, mode="w:gz") as bundle:
            for member, data in members.items():
                info = tarfile.TarInfo(f"investigation-{doc['id']}/{member}")
                info.size, info.mode, info.mtime = len(data), 0o600, int(time.time())
                bundle.addfile(info, io.BytesIO(data))
        os.chmod(tmp, 0o600)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    digest = hashlib.sha256(target.read_bytes()).hexdigest()
    (folder / f"{name}.manifest.json").write_text(
        json.dumps({**manifest, "archive_sha256": digest}, indent=2)
    )
    return target, digest
