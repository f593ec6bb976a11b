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
  - runbook developers (@runbook)
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
import time

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.runbook_logscan import ScanError, scan_node


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
    tz = local_zone(p["local_tz"])
    if tz is None:
        module.fail_json(msg=f"log_scan_info: local_tz {p['local_tz']!r} is not a known zone")
    try:
        out = scan_node(
            p["sources"],
            since=p["since"],
            until=p["until"],
            critical_window=p["critical_window"],
            top=p["top"],
            api_prefix=p["api_prefix"],
            plugin=p["plugin"],
            plugin_prefix=p["plugin_prefix"],
            local_tz=tz,
            incremental=p["incremental"],
            state=p["state"],
        )
    except ScanError as exc:
        module.fail_json(msg=f"log_scan_info: {exc}")
    out["changed"] = False
    out["runbook_report"] = {"node": {"logs": {k: v for k, v in out.items() if k != "changed"}}}
    module.exit_json(**out)


if __name__ == "__main__":
    main()
