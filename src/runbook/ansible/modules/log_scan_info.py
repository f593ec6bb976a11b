#!/usr/bin/python
# -*- coding: utf-8 -*-
"""Scan a node's logs where they are: counts, fingerprints, API error rate, response times."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: log_scan_info
short_description: Scan WordPress, PHP and nginx logs on the node, within a time window
description:
  - Reads each log on the node, without copying it anywhere. A time window's start is found by
    binary search over the time-ordered file, so the cost follows the window, not the file.
  - Returns counts per level and source, error fingerprints (level, file, line and the message
    with numbers, ids and quoted values normalised) with first/last seen and counts, the top N,
    the critical errors of the last minutes, access-log request counts, 5xx, the plugin API's
    error rate and response-time percentiles, and how many lines could not be parsed.
  - Read-only; never reports C(changed).
options:
  sources:
    description:
      - The logs, each C(path) and C(kind) (C(wordpress), C(php), C(php_fpm), C(nginx_error),
        C(nginx_access), C(nginx_access_json), C(apache_error), C(apache_access)).
      - Access logs take C(time_unit) (C(s), or C(us) for Apache's %D, its default) and JSON
        ones C(fields) (the keys for C(time), C(request), C(status), C(request_time)).
      - A missing file is reported, not an error.
    type: list
    elements: dict
    required: true
  since:
    description: The window's start, C(5m), C(1h), C(2d) or an ISO 8601 time.
    type: str
    default: 1h
  until:
    description: The window's end (ISO 8601); default now.
    type: str
  critical_window:
    description: The recent window in which fatal and parse errors are counted apart.
    type: str
    default: 5m
  top:
    description: How many fingerprints to return, most frequent first.
    type: int
    default: 10
  api_prefix:
    description: The target plugin's REST routes, for the API error rate (C(/wp-json/SLUG/)).
    type: str
    required: true
  plugin:
    description:
      - The target plugin's slug. Records that name its folder or REST routes, or start with
        its log prefix, are counted again under the slug as their source (C(SLUG:fatal)).
    type: str
    required: true
  plugin_prefix:
    description: "How the plugin's own log lines begin: C(MASE) for C(MASE: ...)."
    type: str
    required: true
  local_tz:
    description: The zone of logs that carry none (nginx error.log); default the node's.
    type: str
  incremental:
    description:
      - Read only what was written since the previous scan, whose C(state) is passed back in
        (inode, a fingerprint of the first bytes, the offset), across rotation and
        copy-truncate. The window then does not apply; the new state is returned.
    type: bool
    default: false
  state:
    description: The C(state) a previous incremental scan returned, per log path.
    type: dict
    default: {}
author:
  - runbook developers
"""

EXAMPLES = r"""
- name: Scan the last hour
  log_scan_info:
    since: 1h
    api_prefix: /wp-json/mase/
    plugin: mase
    plugin_prefix: MASE
    sources:
      - {path: /var/www/shop/htdocs/wp-content/debug.log, kind: wordpress}
      - {path: /var/log/nginx/access.log, kind: nginx_access}
"""

RETURN = r"""
sources:
  description:
    - Per log, what was scanned and found; C(newest) is the time of its newest record (a
      window after it shows nothing, and says why), C(records) and C(unparsed) its counts.
  type: list
  returned: always
counts:
  description: Records per source and level in the window (C(php:fatal), C(SLUG:warning), ...).
  type: dict
  returned: always
critical_recent:
  description: Fatal and parse errors in the critical window.
  type: int
  returned: always
top:
  description: The most frequent fingerprints (fingerprint, level, count, first/last seen).
  type: list
  returned: always
fatal_fingerprints:
  description: Every fatal fingerprint in the window, with its count.
  type: dict
  returned: always
access:
  description: Requests, 5xx, API error rate, response-time percentiles (seconds).
  type: dict
  returned: when an access log was scanned
state:
  description: Per log path, where an incremental scan stopped (pass it back next time).
  type: dict
  returned: when incremental
node_time:
  description: The node's clock when it scanned (UTC), to tell clock skew between nodes.
  type: str
  returned: always
format_unrecognised:
  description:
    - The logs most of whose lines could not be read (at least 5, more than their records),
      a format this scanner does not know, never to be taken for a clean log.
  type: list
  returned: always
unparsed_samples:
  description: The first few lines that could not be read, as text.
  type: list
  returned: always
"""

import datetime
import os
import time

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.runbook_logscan import (
    ACCESS_KINDS,
    PluginMarkers,
    Summary,
    access_options,
    access_stats,
    fast_scan,
    newest_time,
    parse_since,
    scan_incremental,
    scan_records,
    seek_time,
)

KINDS = (
    "wordpress",
    "php",
    "nginx_error",
    "nginx_access",
    "php_fpm",
    "apache_error",
    "apache_access",
    "nginx_access_json",
)


def local_zone(name):
    if name:
        import zoneinfo

        try:
            return zoneinfo.ZoneInfo(name)
        except (ValueError, zoneinfo.ZoneInfoNotFoundError):
            return None  # the caller names the bad zone
    offset = -time.altzone if time.daylight and time.localtime().tm_isdst else -time.timezone
    return datetime.timezone(datetime.timedelta(seconds=offset))


def main():
    module = AnsibleModule(
        argument_spec=dict(
            sources=dict(type="list", elements="dict", required=True),
            since=dict(type="str", default="1h"),
            until=dict(type="str"),
            critical_window=dict(type="str", default="5m"),
            top=dict(type="int", default=10),
            api_prefix=dict(type="str", required=True),
            plugin=dict(type="str", required=True),
            plugin_prefix=dict(type="str", required=True),
            local_tz=dict(type="str"),
            incremental=dict(type="bool", default=False),
            state=dict(type="dict", default={}),
        ),
        supports_check_mode=True,
    )
    p = module.params
    now = datetime.datetime.now(datetime.timezone.utc)
    try:
        since = parse_since(p["since"], now)
        until = parse_since(p["until"], now) if p["until"] else None
        critical_since = parse_since(p["critical_window"], now)
    except ValueError as exc:
        module.fail_json(msg=f"log_scan_info: {exc}")
    tz = local_zone(p["local_tz"])
    if tz is None:
        module.fail_json(msg=f"log_scan_info: local_tz {p['local_tz']!r} is not a known zone")
    markers = PluginMarkers(p["plugin"], p["plugin_prefix"])
    summary = Summary(top=p["top"], plugin=markers)
    new_state = {}
    critical = Summary(top=0, plugin=markers)
    reports = []
    access = None
    for source in p["sources"]:
        path, kind = source.get("path"), source.get("kind")
        if kind not in KINDS or not path:
            module.fail_json(
                msg=f"log_scan_info: source {source!r} needs a path and a kind "
                f"(one of {', '.join(KINDS)})"
            )
        report = {"path": path, "kind": kind, "exists": os.path.exists(path)}
        reports.append(report)
        if not report["exists"]:
            continue
        before = (summary.records, summary.unparsed)
        try:
            size = os.path.getsize(path)
            with open(path, "rb") as tail:
                newest = newest_time(tail, size, kind, tz)
            # A file whose newest record is older than the window shows nothing in it: said.
            report["newest"] = newest.isoformat() if newest else None
            if p["incremental"]:
                stats = []
                new_state[path], report["resumed"] = scan_incremental(
                    path, kind, p["state"].get(path), summary, tz, stats
                )
                for part in stats:
                    access = part if access is None else _merge_access(access, part)
                    report["access"] = (
                        part if "access" not in report else _merge_access(report["access"], part)
                    )
                account(report, summary, before)
                continue
            with open(path, "rb") as handle:
                start = seek_time(handle, size, since, kind, tz)
                report.update(size=size, start_offset=start)
                if kind in ACCESS_KINDS:
                    stats = access_stats(
                        handle, since, until, p["api_prefix"], **access_options(kind, source)
                    )
                    report["access"] = stats
                    access = stats if access is None else _merge_access(access, stats)
                else:
                    # PHP and WordPress logs to their end go the fast way; the rest by line.
                    fast = kind in ("php", "wordpress") and until is None
                    if fast:
                        fast_scan(handle, kind, summary, path, tz)
                    else:
                        scan_records(handle, kind, summary, path, since, until, tz)
                    handle.seek(seek_time(handle, size, critical_since, kind, tz))
                    if fast:
                        fast_scan(handle, kind, critical, path, tz)
                    else:
                        scan_records(handle, kind, critical, path, critical_since, until, tz)
                report["scanned_bytes"] = handle.tell() - start
        except OSError as exc:
            report["error"] = f"{path}: {exc.strerror or exc}"
        account(report, summary, before)
    result = summary.result()
    unrecognised = [r["path"] for r in reports if r.get("format_unrecognised")]
    crit = critical.result()["counts"]
    critical_count = sum(
        n
        for key, n in crit.items()
        if key.split(":")[1] in ("fatal", "parse") and not key.startswith(f"{p['plugin']}:")
    )
    fatal = {
        fp: e["count"] for fp, e in summary.fingerprints.items() if e["level"] in ("fatal", "parse")
    }
    out = dict(
        changed=False,
        sources=reports,
        counts=result["counts"],
        records=result["records"],
        plugin_records=result["plugin_records"],
        unparsed_lines=result["unparsed_lines"],
        overlong_lines=result["overlong_lines"],
        top=result["top"],
        distinct_fingerprints=result["distinct_fingerprints"],
        fatal_fingerprints=fatal,
        critical_recent=critical_count,
        critical_window=p["critical_window"],
        window={"since": since.isoformat(), "until": (until or now).isoformat()},
        format_unrecognised=unrecognised,
        unparsed_samples=result["unparsed_samples"],
    )
    if access is not None:
        out["access"] = access
    out["node_time"] = datetime.datetime.now(datetime.timezone.utc).isoformat()
    if p["incremental"]:
        out["state"] = new_state
    out["runbook_report"] = {"node": {"logs": {k: v for k, v in out.items() if k != "changed"}}}
    module.exit_json(**out)


def account(report, summary, before):
    """What one source gave: records and unparsed lines; most of it unparsed (at least 5
    lines, more than the records) is a format this scanner does not know, said out loud."""
    if report["kind"] in ACCESS_KINDS:
        stats = report.get("access") or {}
        records, unparsed = stats.get("requests") or 0, stats.get("unparsed_lines") or 0
    else:
        records, unparsed = summary.records - before[0], summary.unparsed - before[1]
    report["records"], report["unparsed"] = records, unparsed
    report["format_unrecognised"] = unparsed >= 5 and unparsed > records


def _merge_access(a, b):
    merged = {
        k: (a.get(k) or 0) + (b.get(k) or 0)
        for k in (
            "requests",
            "errors_5xx",
            "api_requests",
            "api_errors",
            "timed_requests",
            "unparsed_lines",
        )
    }
    merged["error_rate"] = merged["errors_5xx"] / merged["requests"] if merged["requests"] else None
    merged["api_error_rate"] = (
        merged["api_errors"] / merged["api_requests"] if merged["api_requests"] else None
    )
    for key in ("response_time_p50", "response_time_p95", "response_time_p99"):
        merged[key] = max(x for x in (a.get(key), b.get(key), -1) if x is not None)
        if merged[key] < 0:
            merged[key] = None
    return merged


if __name__ == "__main__":
    main()
