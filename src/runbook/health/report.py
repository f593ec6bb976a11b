"""What the log scans say, summed up over the fleet. Pure: per-host scan results in, reports out.

The input is one entry per host as `logs_by_host` makes it from a log-scan run: its site, the
`log_scan_info` result (`logs`, None when the host was not scanned), its outcome and message,
and its clock skew.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any

#: PHP's levels, and `crit` for the web server's own emerg/alert/crit (never a PHP fatal).
LEVELS = ("fatal", "parse", "crit", "error", "warning", "notice", "deprecated")
#: The log sources every node has; the target plugin's own records are a source too.
BASE_SOURCES = ("php", "wordpress", "nginx", "php-fpm")


def clock_skew(node_time: str | None, observed_at: str | None) -> float | None:
    """Seconds the node's clock is ahead of the controller's (negative: behind)."""
    if not node_time or not observed_at:
        return None
    try:
        node = datetime.datetime.fromisoformat(node_time)
        seen = datetime.datetime.fromisoformat(observed_at)
    except ValueError:
        return None
    if seen.tzinfo is None:
        seen = seen.replace(tzinfo=datetime.UTC)
    if node.tzinfo is None:
        node = node.replace(tzinfo=datetime.UTC)
    return round((node - seen).total_seconds(), 1)


def not_scanned(hosts: Mapping[str, Mapping[str, Any]]) -> dict[str, str]:
    """Hosts whose logs could not be read, and why (unreachable, failed)."""
    return {
        h: f"{n['outcome']}: {n.get('message') or ''}".strip()
        for h, n in hosts.items()
        if not n.get("logs")
    }


def unrecognised(hosts: Mapping[str, Mapping[str, Any]]) -> dict[str, list[str]]:
    """host -> the logs most of whose lines the scanner could not read: an unknown format,
    never to be read as a clean log."""
    return {
        h: list((n.get("logs") or {}).get("format_unrecognised") or [])
        for h, n in hosts.items()
        if (n.get("logs") or {}).get("format_unrecognised")
    }


def older_than_window(hosts: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, str]]:
    """host -> log path -> its newest record's time, for logs whose newest record is older
    than the window's start: nothing in the window, because nothing was written in it."""
    found: dict[str, dict[str, str]] = {}
    for host, node in hosts.items():
        logs = node.get("logs") or {}
        since = (logs.get("window") or {}).get("since")
        for source in logs.get("sources") or []:
            newest = source.get("newest")
            if since and newest and newest < since:
                found.setdefault(host, {})[source["path"]] = newest
    return found


def count_errors(
    hosts: Mapping[str, Mapping[str, Any]], source: str | None, plugin: str
) -> dict[str, dict[str, int]]:
    """Records per host and level, from every source or only `source`.

    The plugin's own records (source `plugin`) are counted under their own source too, so
    they are left out of the total of all sources.
    """
    rows: dict[str, dict[str, int]] = {}
    for host, node in hosts.items():
        counts = (node.get("logs") or {}).get("counts", {})
        rows[host] = dict.fromkeys(LEVELS, 0)
        for key, n in counts.items():
            src, _, level = key.partition(":")
            if level not in rows[host] or source not in (None, src):
                continue
            if src == plugin and source != plugin:
                continue
            rows[host][level] += n
    return rows


def totals(rows: Mapping[str, Mapping[str, int]]) -> dict[str, int]:
    return {level: sum(r[level] for r in rows.values()) for level in LEVELS}


def merge_top(hosts: Mapping[str, Mapping[str, Any]], count: int) -> list[dict[str, Any]]:
    """The most common fingerprints over the fleet: counts added, where each was seen, and
    the earliest first and latest last sighting."""
    merged: dict[str, dict[str, Any]] = {}
    for host, node in hosts.items():
        for entry in (node.get("logs") or {}).get("top", []):
            item = merged.setdefault(
                entry["fingerprint"],
                {
                    "fingerprint": entry["fingerprint"],
                    "level": entry["level"],
                    "count": 0,
                    "hosts": {},
                    "first_seen": entry["first_seen"],
                    "last_seen": entry["last_seen"],
                    "sample": entry["sample"],
                },
            )
            item["count"] += entry["count"]
            item["hosts"][host] = item["hosts"].get(host, 0) + entry["count"]
            item["first_seen"] = min(item["first_seen"], entry["first_seen"])
            item["last_seen"] = max(item["last_seen"], entry["last_seen"])
    return sorted(merged.values(), key=lambda e: (-e["count"], e["fingerprint"]))[:count]


def baseline_fingerprints(logs: Mapping[str, Any]) -> list[str]:
    """The error fingerprints a host already has: the novelty rule ignores these."""
    return sorted(
        {e["fingerprint"] for e in logs.get("top", [])} | set(logs.get("fatal_fingerprints", {}))
    )


def stack_thresholds(*layers: Mapping[str, Any] | None) -> dict[str, Any]:
    """Threshold overrides (table -> metric -> row) merged, later layers winning per field."""
    stacked: dict[str, Any] = {}
    for layer in layers:
        for table, metrics in (layer or {}).items():
            for metric, row in (metrics or {}).items():
                stacked.setdefault(table, {}).setdefault(metric, {}).update(row)
    return stacked
