#!/usr/bin/python
# -*- coding: utf-8 -*-
"""Gather one node's evidence for an investigation, read-only, secrets scrubbed."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: wp_investigate_info
short_description: Gather a WordPress node's evidence for an incident investigation
description:
  - Reads, without changing anything, what the workflow's investigation hour asks for. On every
    node, the WordPress, PHP and plugin versions, a checksum of the plugin's tree (so that the
    nodes of a site can be compared), the newest backups with their verification, and raw log
    lines for the fingerprints asked for, capped in lines and bytes.
  - On the site's leader (scope C(both)) also the site's database facts. These are the active
    plugins, the plugin's options as stored, and C(wp db check) (WP-CLI runs C(mysqlcheck)).
  - Works with the database down. Whatever needs the database is reported as an error, and
    everything else is still gathered. Never fails for what it could not read.
  - Secrets never leave the host. Options with a secret-sounding name are masked, and so are
    their values and credentials wherever log lines show them. wp-config.php is never read.
options:
  plugin:
    description: The plugin's slug (its folder under C(wp-content/plugins)).
    type: str
    required: true
  scope:
    description: C(node) gathers the node's facts; C(both) adds the site's database facts.
    type: str
    choices: [node, both]
    default: node
  options:
    description: The plugin's options to read back (scope C(both)); missing ones are null.
    type: list
    elements: str
    default: []
  backup_dir:
    description: The folder holding the plugin's backups.
    type: path
  verify_backups:
    description: How many of the newest backups to verify against their manifests.
    type: int
    default: 2
  logs:
    description:
      - The logs to take raw lines from (each a path and a kind, as log_scan_info's sources).
    type: list
    elements: dict
    default: []
  since:
    description: The window's start (ISO 8601); raw lines are taken from there on.
    type: str
  needles:
    description: Texts whose lines are sampled (a fingerprint's sample message, say).
    type: list
    elements: str
    default: []
  sample_lines:
    description: At most this many raw records per needle (a record keeps its stack trace).
    type: int
    default: 3
  sample_bytes:
    description: At most this many bytes of raw lines from this node in all.
    type: int
    default: 65536
  scan_bytes:
    description: At most this many bytes of each log are read for samples (from the window's start).
    type: int
    default: 67108864
extends_documentation_fragment:
  - runbook_wp
author:
  - runbook developers (@runbook)
"""

EXAMPLES = r"""
- name: Gather the node's evidence
  wp_investigate_info:
    path: /var/www/example/htdocs
    plugin: mase
    scope: both
    options: [mase_feature_flags, mase_feature_rollout_percentages, mase_settings]
    backup_dir: /var/www/example/backups
    logs:
      - {path: /var/www/example/htdocs/wp-content/debug.log, kind: wordpress}
    since: "2026-11-30T10:00:00+00:00"
    needles: ["Uncaught Error: Call to undefined function mase_modern_client_dispatch()"]
"""

RETURN = r"""
runbook_report:
  description:
    - C(node.investigate) holds the node's facts (versions, plugin_tree, backups, samples,
      errors). C(site.investigate) holds the site's (active_plugins, options, db_check, errors).
  type: dict
  returned: always
"""

import datetime
import os
import subprocess

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.runbook_archive import (
    ArchiveError,
    list_backups,
    tree_digest,
    tree_files,
    verify_archive,
)
from ansible.module_utils.runbook_logscan import KINDS, MAX_LINE, seek_time
from ansible.module_utils.runbook_scrub import scrub, scrub_value
from ansible.module_utils.runbook_wp import (
    WpError,
    core_version,
    error_line,
    not_a_wordpress_root,
    parse_json_output,
    wp_argument_spec,
    wp_runner,
)

#: How a continuation line (a stack trace) starts: it stays with its record.
CONTINUATIONS = (b"Stack trace:", b"#", b" ", b"\t", b"PHP ", b"thrown in")
MAX_RECORD_LINES = 12
MAX_RECORD_BYTES = 4096


def php_version():
    try:
        proc = subprocess.run(
            ["php", "-r", "echo PHP_VERSION;"],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    out = proc.stdout.decode("utf-8", "replace").strip()
    return out if proc.returncode == 0 and out else None


def wp_cli_info(wp):
    """Which WP-CLI the node runs (`wp cli info`: its version and where it lives; the
    sandbox's stand-in says it is one)."""
    try:
        info = parse_json_output(wp(["cli", "info", "--format=json"]))
    except (WpError, OSError, ValueError) as exc:
        return {"error": str(exc)}
    if not isinstance(info, dict):
        return {"error": "wp cli info printed no object"}
    return {"version": info.get("wp_cli_version"), "dir": info.get("wp_cli_dir_path")}


def plugin_tree(plugin_dir, slug):
    if not os.path.isdir(plugin_dir):
        return {"present": False}
    files, version = tree_files(plugin_dir, slug)
    return {
        "present": True,
        "files": len(files),
        "bytes": sum(f["size"] for f in files),
        "sha256": tree_digest(files),
        "version": version,
    }


def backups_of(backup_dir, slug, verify):
    out = []
    for i, backup in enumerate(list_backups(backup_dir, slug) if backup_dir else []):
        entry = {k: backup[k] for k in ("name", "size", "manifest", "bad")}
        if i < verify:
            try:
                entry["verified"] = verify_archive(backup["path"]) is not None
                if not entry["verified"]:
                    entry["problem"] = "no manifest beside it"
            except (ArchiveError, OSError) as exc:
                entry["verified"] = False
                entry["problem"] = str(exc)
        out.append(entry)
        if i >= 4:
            break
    return out


def records_matching(handle, needles, per_needle, budget, scan_bytes):
    """Raw records (head line and its continuation lines) holding each needle."""
    found = {n: [] for n in needles}
    used = 0
    read = 0
    current = None
    current_needle = None

    def close():
        nonlocal used
        if current is None or current_needle is None:
            return
        text = b"\n".join(current)[:MAX_RECORD_BYTES].decode("utf-8", "replace")
        if used + len(text) <= budget and len(found[current_needle]) < per_needle:
            found[current_needle].append(text)
            used += len(text)

    for raw in iter(lambda: handle.readline(MAX_LINE + 1), b""):
        read += len(raw)
        if read > scan_bytes or used >= budget:
            break
        line = raw.rstrip(b"\r\n")
        if current is not None and line.startswith(CONTINUATIONS):
            if len(current) < MAX_RECORD_LINES:
                current.append(line)
            continue
        close()
        current, current_needle = None, None
        text = line.decode("utf-8", "replace")
        for needle in needles:
            if needle in text and len(found[needle]) < per_needle:
                current, current_needle = [line], needle
                break
    close()
    return found, read


def samples_of(params, errors):
    needles = [n for n in params["needles"] if n][:20]
    if not needles or not params["logs"]:
        return {}
    since = None
    if params["since"]:
        try:
            since = datetime.datetime.fromisoformat(params["since"].replace("Z", "+00:00"))
        except ValueError:
            errors.append(f"since {params['since']!r} is not an ISO 8601 time")
    merged = {n: [] for n in needles}
    budget = params["sample_bytes"]
    for source in params["logs"]:
        path, kind = source.get("path"), source.get("kind")
        if kind not in KINDS or not path or not os.path.isfile(path):
            continue
        try:
            with open(path, "rb") as handle:
                if since is not None:
                    seek_time(handle, os.path.getsize(path), since, kind)
                found, _unused = records_matching(
                    handle, needles, params["sample_lines"], budget, params["scan_bytes"]
                )
        except OSError as exc:
            errors.append(f"cannot read {path}: {exc.strerror or exc}")
            continue
        for needle, records in found.items():
            room = params["sample_lines"] - len(merged[needle])
            for record in records[:room]:
                merged[needle].append({"log": path, "lines": record})
                budget -= len(record)
    return {n: r for n, r in merged.items() if r}


def db_check(wp):
    """`wp db check`: mysqlcheck's verdict per table, and the tables that are not OK."""
    try:
        out = wp(["db", "check"])
    except WpError as exc:
        said = (exc.stderr or exc.stdout or "").strip()
        return {"ok": False, "error": error_line(said), "output": said[-2000:]}
    except OSError as exc:
        return {"ok": False, "error": f"cannot run wp: {exc}"}
    tables = {}
    problems = []
    last = None
    for line in out.splitlines():
        if not line.strip() or line.startswith("Success:"):
            continue
        head, _unused, rest = line.partition(" ")
        if "." in head and not line.startswith((" ", "\t")) and rest.strip():
            last = head
            tables[head] = rest.strip()
            if rest.strip() != "OK":
                problems.append(f"{head}: {rest.strip()}")
        elif last is not None:
            tables[last] = (tables[last] + "; " + line.strip()).strip("; ")
            problems.append(f"{last}: {line.strip()}")
    return {
        "ok": not problems and "Success: Database checked." in out,
        "tables": len(tables),
        "problems": problems[:50],
    }


def site_facts(wp, params, known):
    errors = []
    site = {"errors": errors}
    try:
        names = [
            n.strip()
            for n in wp(
                ["plugin", "list", "--status=active", "--field=name", "--skip-update-check"]
            ).splitlines()
            if n.strip()
        ]
        site["active_plugins"] = names
    except WpError as exc:
        site["active_plugins"] = None
        errors.append(str(exc))
    except OSError as exc:
        site["active_plugins"] = None
        errors.append(f"cannot run wp: {exc}")
    options = {}
    if site["active_plugins"] is not None:
        for name in params["options"]:
            try:
                raw = parse_json_output(wp(["option", "get", name, "--format=json"]))
                options[name] = {"value": scrub_value(raw, known, name)}
            except WpError as exc:
                if "Could not get" in (exc.stderr or ""):
                    options[name] = {"value": None, "missing": True}
                else:
                    options[name] = {"value": None, "error": str(exc)}
            except ValueError as exc:
                options[name] = {"value": None, "error": scrub(str(exc), known)}
    site["options"] = options
    site["db_check"] = db_check(wp)
    return site


def main():
    module = AnsibleModule(
        argument_spec=wp_argument_spec(
            plugin=dict(type="str", required=True),
            scope=dict(type="str", choices=["node", "both"], default="node"),
            options=dict(type="list", elements="str", default=[]),
            backup_dir=dict(type="path"),
            verify_backups=dict(type="int", default=2),
            logs=dict(type="list", elements="dict", default=[]),
            since=dict(type="str"),
            needles=dict(type="list", elements="str", default=[], no_log=False),
            sample_lines=dict(type="int", default=3),
            sample_bytes=dict(type="int", default=65536),
            scan_bytes=dict(type="int", default=64 * 1024 * 1024),
        ),
        supports_check_mode=True,
    )
    p = module.params
    problem = not_a_wordpress_root(p["path"])
    if problem:
        module.fail_json(msg=problem)
    wp = wp_runner(p, p["plugin"])
    errors = []
    known = []
    report = {}
    if p["scope"] == "both":
        report["site"] = {"investigate": site_facts(wp, p, known)}
    plugin_dir = os.path.join(p["path"], "wp-content", "plugins", p["plugin"])
    try:
        backups = backups_of(p["backup_dir"], p["plugin"], p["verify_backups"])
    except OSError as exc:
        backups = []
        errors.append(f"cannot list the backups in {p['backup_dir']}: {exc}")
    samples = {
        needle: [{**r, "lines": scrub(r["lines"], known)} for r in records]
        for needle, records in samples_of(p, errors).items()
    }
    node = {
        "wordpress_version": core_version(p["path"]),
        "php_version": php_version(),
        "wp_cli": wp_cli_info(wp),
        "plugin": p["plugin"],
        "plugin_tree": plugin_tree(plugin_dir, p["plugin"]),
        "backups": backups,
        "samples": samples,
        "sample_bytes": sum(len(r["lines"]) for rs in samples.values() for r in rs),
        "errors": errors,
        "node_time": datetime.datetime.now(datetime.timezone.utc).isoformat(),
    }
    report["node"] = {"investigate": node}
    module.exit_json(changed=False, runbook_report=report)


if __name__ == "__main__":
    main()
