"""What an investigation concludes from what it gathered: the plugin's options checked, the
nodes of a site compared, fingerprints new since the baseline, and a suspect. Pure: no I/O.

A suspect is not a verdict: the fingerprint that first appeared after the last change the
record knows (a deploy, a restore, a flag or percentage change), with its file and line, the
flag that guards that code when the plugin profile maps it, and what would confirm it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from runbook import clock
from runbook.health.decisions import MANUAL_TRIGGERS
from runbook.health.report import merge_top

#: An option larger than this (as JSON) is reported: the plugin writes a few hundred bytes.
OPTION_BYTES_LIMIT = 64 * 1024
#: The runbooks whose runs change what the plugin runs or how: the changes a suspect follows.
CHANGES = {
    "deploy-wave": "deploy",
    "restore-backup": "restore",
    "p0-rollback": "rollback",
    "p1-disable-feature": "flag change",
    "set-rollout": "percentage change",
}
LEVELS_SUSPECT = ("fatal", "parse", "error")


def _as_object(value: Any) -> Any:
    # WP-CLI's --format=json prints an empty object as [] (wp-cli-contract.md).
    return {} if value == [] else value


def _flags_problems(name: str, value: dict[str, Any], flags: list[str]) -> list[str]:
    problems = [f"{name} has no {key!r}" for key in flags if key not in value]
    return problems + [
        f"{name}[{key!r}] is {v!r}, not true/false"
        for key, v in value.items()
        if not isinstance(v, bool)
    ]


def _percentages_problems(name: str, value: dict[str, Any]) -> list[str]:
    return [
        f"{name}[{key!r}] is {v!r}, not a percentage 0-100"
        for key, v in value.items()
        if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= 100
    ]


def _settings_problems(name: str, value: dict[str, Any]) -> list[str]:
    return [
        f"{name}[{key!r}] is nested ({type(v).__name__})"
        for key, v in value.items()
        if isinstance(v, dict | list)
    ]


def check_option(kind: str, name: str, value: Any, flags: Iterable[str]) -> list[str]:
    """What is wrong with one stored option; [] when it looks right.

    kind: flags (flag -> true/false), percentages (feature -> 0..100) or settings (an object
    of scalars)."""
    value = _as_object(value)
    if isinstance(value, str):
        shown = value if len(value) <= 60 else value[:57] + "..."
        return [
            f"{name} holds a string ({shown!r}), not an object: written by hand as invalid "
            "JSON, or a serialized value WordPress could not read"
        ]
    if not isinstance(value, dict):
        return [f"{name} holds {type(value).__name__}, not an object"]
    problems: list[str] = []
    size = len(json.dumps(value))
    if size > OPTION_BYTES_LIMIT:
        problems.append(f"{name} is {size} bytes as JSON (more than {OPTION_BYTES_LIMIT})")
    if kind == "flags":
        return problems + _flags_problems(name, value, list(flags))
    if kind == "percentages":
        return problems + _percentages_problems(name, value)
    return problems + _settings_problems(name, value)


def check_options(
    site_options: Mapping[str, Any], kinds: Mapping[str, str], flags: Iterable[str]
) -> dict[str, Any]:
    """Each option's verdict (ok, corrupt, missing, unreadable) with its problems, and the
    manual rollback trigger corrupt options map to."""
    out: dict[str, Any] = {}
    flags = list(flags)
    for name, kind in kinds.items():
        read = site_options.get(name)
        if read is None:
            out[name] = {"status": "unread", "problems": ["not read (see the site's errors)"]}
        elif read.get("error"):
            out[name] = {"status": "unreadable", "problems": [read["error"]]}
        elif read.get("missing"):
            out[name] = {"status": "missing", "problems": [f"{name} does not exist"]}
        else:
            problems = check_option(kind, name, read.get("value"), flags)
            out[name] = {"status": "corrupt" if problems else "ok", "problems": problems}
    corrupt = [n for n, v in out.items() if v["status"] in ("corrupt", "missing")]
    return {
        "options": out,
        "corrupt": corrupt,
        "trigger": {"name": "data-integrity", "text": MANUAL_TRIGGERS["data-integrity"]}
        if corrupt
        else None,
    }


def disagreements(nodes: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """Where a site's nodes differ: WordPress, PHP or plugin version, the plugin's files."""
    out = []
    for label, key in (
        ("WordPress", "wordpress_version"),
        ("PHP", "php_version"),
        ("plugin version", "version"),
        ("plugin files", "sha256"),
    ):
        seen: dict[str, list[str]] = {}
        for host, node in sorted(nodes.items()):
            tree = node.get("plugin_tree") or {}
            value = tree.get(key) if key in ("version", "sha256") else node.get(key)
            seen.setdefault(str(value), []).append(host)
        if len(seen) > 1:
            parts = "; ".join(
                f"{', '.join(h)}: {v if key != 'sha256' else v[:12]}" for v, h in seen.items()
            )
            out.append(f"{label} differs: {parts}")
    return out


def fingerprints(
    hosts: Mapping[str, Mapping[str, Any]], baseline: Mapping[str, Iterable[str]]
) -> list[dict[str, Any]]:
    """Every top fingerprint of the window over the nodes (merged as `runbook logs top` merges
    them: counts added, earliest first and latest last sighting), with the logs it was read
    from, whether it is the plugin's, and whether it is new (not in a node's baseline)."""
    ordered = {host: logs or {} for host, logs in sorted(hosts.items())}
    tops = [(host, fp) for host, logs in ordered.items() for fp in logs.get("top") or []]
    merged = merge_top({host: {"logs": logs} for host, logs in ordered.items()}, len(tops))
    by_fingerprint = {item["fingerprint"]: item for item in merged}
    known = {host: set(baseline.get(host) or ()) for host in ordered}
    for item in merged:
        item.update(hosts=list(item["hosts"]), logs=[], plugin=False, new=True)
    for host, fp in tops:
        item = by_fingerprint[fp["fingerprint"]]
        if fp.get("where") and fp["where"] not in item["logs"]:
            item["logs"].append(fp["where"])
        item["plugin"] = item["plugin"] or bool(fp.get("plugin"))
        if fp["fingerprint"] in known[host]:
            item["new"] = False
    return merged


def where_in_code(fingerprint: str) -> tuple[str | None, int | None]:
    """The file and line a fingerprint names (level|file|line|message)."""
    parts = fingerprint.split("|", 3)
    if len(parts) < 4:
        return None, None
    path = parts[1] if parts[1] != "-" else None
    line = int(parts[2]) if parts[2].isdigit() else None
    return path, line


def _at(text: str) -> datetime | None:
    try:
        return clock.parse(text)
    except (ValueError, TypeError):
        return None


def last_change(
    runs: Iterable[Mapping[str, Any]], before: str | None = None
) -> dict[str, Any] | None:
    """The newest run that changed the plugin or its flags (and succeeded or partly did)."""
    limit = _at(before) if before else None
    for run in sorted(runs, key=lambda r: r["started_at"], reverse=True):
        kind = CHANGES.get(str(run.get("runbook")))
        if kind is None or run.get("check_mode"):
            continue
        if run.get("status") in ("refused", "failed-preflight"):
            continue
        started = _at(run["started_at"])
        if limit is not None and started is not None and started > limit:
            continue
        return {
            "kind": kind,
            "runbook": run["runbook"],
            "run_id": run["run_id"],
            "at": run["started_at"],
            "reason": run.get("reason"),
        }
    return None


def suspect(
    found: list[dict[str, Any]],
    runs: Iterable[Mapping[str, Any]],
    flag_for: Any,
) -> dict[str, Any] | None:
    """The fingerprint most likely behind the incident, with why and what would confirm it.

    The errors new since the baseline (all of them when none is new): fatal before error,
    then the most frequent. The change it follows is the newest one in the record before it
    first appeared (a rollback made after it is no cause)."""
    candidates = [f for f in found if f["level"] in LEVELS_SUSPECT]
    pool = [f for f in candidates if f["new"]] or candidates
    if not pool:
        return None
    order = {level: i for i, level in enumerate(LEVELS_SUSPECT)}
    best = sorted(pool, key=lambda f: (order[f["level"]], -f["count"], f["first_seen"]))[0]
    change = last_change(runs, before=best["first_seen"])
    path, line = where_in_code(best["fingerprint"])
    flag = flag_for(path) if path else None
    why = f"{'new since the baseline' if best['new'] else 'the most frequent error'}, first seen "
    why += f"{best['first_seen']}"
    if change is not None:
        why += f", after the last {change['kind']} ({change['runbook']} run {change['run_id']} "
        why += f"at {change['at']})"
    confirm = [
        "its raw lines in the bundle show the request and the stack trace",
        (
            f"turn {flag} off (runbook p1-disable-feature --feature {flag}) and watch it stop"
            if flag
            else "no flag guards this code: a restore of the previous version should stop it"
        ),
    ]
    if change is not None:
        confirm.append(f"it should not appear before {change['at']} on any node")
    return {
        "fingerprint": best["fingerprint"],
        "level": best["level"],
        "message": best["sample"],
        "file": path,
        "line": line,
        "flag": flag,
        "count": best["count"],
        "hosts": best["hosts"],
        "first_seen": best["first_seen"],
        "new": best["new"],
        "change": change,
        "why": why,
        "confirm": confirm,
    }
