#!/usr/bin/python
# -*- coding: utf-8 -*-
"""Verify legacy functionality, as the workflow document lists it, on a node or a site."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: mase_smoke_test
short_description: Verify the mase plugin works after a rollback (read-only in effect)
description:
  - C(scope=node), on every node, through its own nginx (bypassing page caches) - the login
    page and C(/wp-json/) answer 200; the plugin's version is the expected one; no new PHP
    fatal error in the node's logs since the given offsets.
  - C(scope=site), once per site, through the plugin itself - the flags read back as intended
    (C(/wp-json/mase/v1/status)); a colour change, a template application and a settings
    save/load round trip, each read back; then the site's settings are put back as they were.
  - C(scope=both) runs the node checks then the site checks, on a site's first node (one round
    trip instead of two).
  - Fails with C(verification_failed=true) naming every check that failed.
  - In check mode the site checks (which write settings and put them back) are skipped.
options:
  scope:
    description: Node checks, site checks, or both.
    type: str
    choices: [node, site, both]
    required: true
  base_url:
    description: Where the node's web server answers.
    type: str
    default: http://127.0.0.1
  host_header:
    description: The site's host name (the Host header).
    type: str
    required: true
  token:
    description: The site's API token (X-MASE-Token), for the settings routes.
    type: str
  expected_version:
    description: The plugin version the node must run (node scope).
    type: str
  plugin_dir:
    description: The plugin folder, to read its version (node scope).
    type: path
  expected_flags:
    description: Flag values the site must report (site scope).
    type: dict
    default: {}
  log_offsets:
    description: Log files and the offset from which to look for new fatal errors.
    type: dict
    default: {}
  timeout:
    description: Seconds per HTTP request.
    type: int
    default: 15
  release_lock:
    description:
      - Release the site's lock this run holds on this node once the checks are done, passed or
        failed, as M(runbook.wordpress.site_lock) with C(state=absent) does (one round trip less
        at the end of a run). A lock another run holds is left.
    type: dict
    suboptions:
      lock_dir:
        description: Where lock files live on the node.
        type: path
        default: /var/lib/runbook/locks
      site:
        description: The site whose lock to release.
        type: str
        required: true
      run_id:
        description: The run that took it.
        type: str
        required: true
  restore:
    description:
      - Restore the plugin first, as M(runbook.wordpress.plugin_restore) does with these
        options, then check what it restored, in the same round trip (one module start per
        node instead of two).
      - The node's expected version is then the restored one, and new fatal errors count from
        where the logs ended after the swap and the OPcache reset.
      - After the OPcache reset (a php-fpm reload) the web server answers 502 until PHP is
        back, so the node's first request waits for it, I(timeout) seconds at most.
      - When the restore fails, no check runs and the task fails with the restore's message
        (the lock, if I(release_lock) says so, is released all the same).
    type: dict
    suboptions:
      plugins_dir:
        description: The folder holding the plugin folder (C(wp-content/plugins)).
        type: path
        required: true
      backup_dir:
        description: Where backups live.
        type: path
        required: true
      slug:
        description: The plugin's slug.
        type: str
        required: true
      backup:
        description: A backup file name, or C(latest) for the newest good one.
        type: str
        default: latest
      run_id:
        description: Names the staging folder and the snapshot, for the evidence trail.
        type: str
        default: manual
      wp_root:
        description: The WordPress root, where a stale C(.maintenance) is removed.
        type: path
      reload_argv:
        description: The command that resets OPcache after a swap, as an argv list.
        type: list
        elements: str
        default: []
      logs:
        description: Log files whose sizes after the swap start the search for new fatal errors.
        type: list
        elements: path
        default: []
  read:
    description:
      - Before anything else, read what the node holds, as M(runbook.wordpress.wp_site_info)
        with C(scope=node) does with these options (WordPress and plugin versions, backups,
        log sizes, a lock file) - what the run record keeps of the node before the restore, in
        the same round trip (for a node the run did not read before).
      - A node that is not a WordPress root fails the call before anything is restored.
    type: dict
    suboptions:
      path:
        description: The WordPress root.
        type: path
        required: true
      plugin:
        description: The plugin's slug (its folder under C(wp-content/plugins)).
        type: str
        required: true
      backup_dir:
        description: The folder holding the plugin's backups.
        type: path
      logs:
        description: Log files whose current size to report.
        type: list
        elements: path
        default: []
      lock_file:
        description: The site's lock file on this node; reported if there is one.
        type: path
      wp_bin:
        description: The WP-CLI executable, for C(wp core version) when version.php cannot be read.
        type: str
        default: wp
      allow_root:
        description: Pass C(--allow-root) to WP-CLI.
        type: bool
        default: false
      url:
        description: The site URL for WP-CLI (C(--url)).
        type: str
author:
  - runbook developers (@runbook)
"""

EXAMPLES = r"""
- name: Verify the node
  mase_smoke_test:
    scope: node
    host_header: shop.example.com
    plugin_dir: /var/www/shop/htdocs/wp-content/plugins/mase
    expected_version: 2.0.1
    log_offsets: {/var/log/php/error.log: 1024}
"""

RETURN = r"""
checks:
  description: Every check with its result (name, ok, detail).
  type: list
  returned: always
verification_failed:
  description: True when a check failed.
  type: bool
  returned: always
lock_released:
  description: True when this run's lock on the site was released here.
  type: bool
  returned: when I(release_lock) was given
restore:
  description: What the restore did, as M(runbook.wordpress.plugin_restore) returns it.
  type: dict
  returned: when I(restore) was given
read:
  description:
    - What the node held before (as M(runbook.wordpress.wp_site_info) returns it - log_offsets,
      wordpress_version, plugin_version, backups, errors).
  type: dict
  returned: when I(read) was given
"""

import json
import os
import time
import urllib.error
import urllib.request

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.runbook_archive import (
    NODE_READ_SPEC,
    RESTORE_SPEC,
    RestoreFailed,
    read_node,
    restore_and_reload,
)
from ansible.module_utils.runbook_lock import RELEASE_SPEC, LockError, release
from ansible.module_utils.runbook_wp import not_a_wordpress_root, plugin_version, wp_runner

FATAL_MARKERS = (b"PHP Fatal error", b"PHP Parse error")
# What the web server answers while PHP restarts (or no answer at all).
GATEWAY_DOWN = (None, 502, 503, 504)


class Http:
    def __init__(self, base, host, token, timeout):
        if not base.startswith(("http://", "https://")):
            raise ValueError(f"base_url must be http(s)://..., not {base!r}")
        self.base = base.rstrip("/")
        self.host = host
        self.token = token
        self.timeout = timeout

    def call(self, method, path, body=None):
        sep = "&" if "?" in path else "?"
        url = f"{self.base}{path}{sep}_rb={time.time_ns()}"  # no page cache may answer
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(url, data=data, method=method)  # noqa: S310 (http(s) only)
        request.add_header("Host", self.host)
        request.add_header("Cache-Control", "no-cache")
        request.add_header("Pragma", "no-cache")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        if self.token:
            request.add_header("X-MASE-Token", self.token)
        opener = urllib.request.build_opener(NoRedirect)
        try:
            with opener.open(request, timeout=self.timeout) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()
        except (urllib.error.URLError, OSError) as exc:
            return None, str(exc).encode()


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def new_fatals(offsets):
    found = []
    for path, offset in offsets.items():
        try:
            size = os.path.getsize(path)
        except OSError:
            continue
        start = int(offset) if int(offset) <= size else 0  # rotated or truncated: from the top
        with open(path, "rb") as handle:
            handle.seek(start)
            for line in handle:
                if any(marker in line for marker in FATAL_MARKERS):
                    found.append(f"{path}: {line[:300].decode('utf-8', 'replace').strip()}")
    return found


def node_checks(p, http, settle=0.0):
    """The node's checks. `settle`: seconds the first request may wait for PHP to answer
    again after a php-fpm reload in this call (the web server says 502 until it does)."""
    checks = []
    for path in ("/wp-login.php", "/wp-json/"):
        status, _unused = http.call("GET", path)
        deadline = time.monotonic() + settle
        while status in GATEWAY_DOWN and time.monotonic() < deadline:
            time.sleep(0.1)
            status, _unused = http.call("GET", path)
        settle = 0.0
        checks.append({"name": f"GET {path}", "ok": status == 200, "detail": f"HTTP {status}"})
    if p["expected_version"]:
        version = plugin_version(p["plugin_dir"], os.path.basename(p["plugin_dir"].rstrip("/")))
        checks.append(
            {
                "name": "plugin version",
                "ok": version == p["expected_version"],
                "detail": f"{version} (expected {p['expected_version']})",
            }
        )
    fatals = new_fatals(p["log_offsets"])
    checks.append(
        {
            "name": "no new PHP fatal error",
            "ok": not fatals,
            "detail": "; ".join(fatals[:3]) or "none since the run began",
        }
    )
    return checks


def site_checks(p, http):
    checks = []

    def check(name, ok, detail):
        checks.append({"name": name, "ok": bool(ok), "detail": detail})
        return ok

    def json_call(method, path, body=None):
        status, raw = http.call(method, path, body)
        try:
            return status, json.loads(raw)
        except ValueError:
            return status, raw[:200].decode("utf-8", "replace")

    status, info = json_call("GET", "/wp-json/mase/v1/status")
    if check(
        "GET /wp-json/mase/v1/status", status == 200 and isinstance(info, dict), f"HTTP {status}"
    ):
        flags = info.get("flags") or {}
        wrong = {k: flags.get(k) for k, v in p["expected_flags"].items() if flags.get(k) != v}
        check(
            "flags read back as intended",
            not wrong,
            f"differ: {wrong}" if wrong else json.dumps(p["expected_flags"], sort_keys=True),
        )
    status, original = json_call("GET", "/wp-json/mase/v1/settings")
    if not check("settings load", status == 200 and isinstance(original, dict), f"HTTP {status}"):
        return checks
    try:
        colour = "#123456" if original.get("menu_background") != "#123456" else "#654321"
        status, _unused = json_call(
            "POST", "/wp-json/mase/v1/settings", {"menu_background": colour}
        )
        _unused, loaded = json_call("GET", "/wp-json/mase/v1/settings")
        seen = loaded.get("menu_background") if isinstance(loaded, dict) else loaded
        check(
            "colour change",
            status == 200 and seen == colour,
            f"saved HTTP {status}, read back {seen!r}",
        )
        status, _unused = json_call("POST", "/wp-json/mase/v1/templates/ocean/apply")
        _unused, loaded = json_call("GET", "/wp-json/mase/v1/settings")
        check(
            "template application",
            status == 200
            and isinstance(loaded, dict)
            and loaded.get("template") == "ocean"
            and loaded.get("menu_background") == "#0b3954",
            f"applied HTTP {status}, read back {loaded!r}"[:300],
        )
    finally:
        restore = {k: v for k, v in original.items() if k != "template"}
        status, _unused = json_call(
            "POST",
            "/wp-json/mase/v1/settings",
            {**restore, "template": original.get("template", "default")},
        )
        _unused, loaded = json_call("GET", "/wp-json/mase/v1/settings")
        check(
            "settings save/load round trip",
            status == 200 and loaded == original,
            "put back as they were" if loaded == original else f"read back {loaded!r}"[:300],
        )
    return checks


def main():
    module = AnsibleModule(
        argument_spec=dict(
            scope=dict(type="str", choices=["node", "site", "both"], required=True),
            base_url=dict(type="str", default="http://127.0.0.1"),
            host_header=dict(type="str", required=True),
            token=dict(type="str", no_log=True),
            expected_version=dict(type="str"),
            plugin_dir=dict(type="path"),
            expected_flags=dict(type="dict", default={}),
            log_offsets=dict(type="dict", default={}),
            timeout=dict(type="int", default=15),
            release_lock=dict(type="dict", options=RELEASE_SPEC),
            restore=dict(type="dict", options=RESTORE_SPEC),
            read=dict(type="dict", options=NODE_READ_SPEC),
        ),
        supports_check_mode=True,
    )
    p = module.params
    # What the run record keeps of the node, read before anything changes it.
    report, extra = read_first(module) if p["read"] else ({}, {})
    changed, restored = restore_first(module, report, extra) if p["restore"] else (False, None)
    scopes = ["node", "site"] if p["scope"] == "both" else [p["scope"]]
    if module.check_mode:
        # The site's round trips write settings (and put them back): not in check mode. After
        # a restore (a dry run here) nothing it did can be checked either.
        scopes = [] if p["restore"] else [s for s in scopes if s != "site"]
        if not scopes:
            module.exit_json(
                changed=changed,
                checks=[],
                verification_failed=False,
                # With a restore (a dry run here) the call did something: not a skip.
                skipped=restored is None and not p["read"],
                runbook_report=report,
                **extra,
                **restored_fields(restored, report),
            )
    checks = []
    extra.update(restored_fields(restored, report))
    try:
        http = Http(p["base_url"], p["host_header"], p["token"], p["timeout"])
    except ValueError as exc:
        error = str(exc)
    else:
        error = None
        for scope in scopes:
            if scope == "node":
                # PHP was reloaded in this call: wait for it, as long as one request may take.
                reloaded = bool(restored and restored.get("opcache_reset"))
                done = node_checks(p, http, settle=p["timeout"] if reloaded else 0.0)
            else:
                done = site_checks(p, http)
            checks.extend(done)
            report.setdefault(scope, {})[f"smoke_test_{scope}"] = done
    # The lock goes whatever the checks found.
    if p["release_lock"]:
        extra.update(release_lock(module, report))
    if error is not None:
        module.fail_json(
            msg=error, changed=changed, verification_failed=False, runbook_report=report, **extra
        )
    failed = [c for c in checks if not c["ok"]]
    if failed:
        module.fail_json(
            msg="verification failed: " + "; ".join(f"{c['name']}: {c['detail']}" for c in failed),
            changed=changed,
            checks=checks,
            verification_failed=True,
            runbook_report=report,
            **extra,
        )
    module.exit_json(
        changed=changed, checks=checks, verification_failed=False, runbook_report=report, **extra
    )


def read_first(module):
    """The node's read (read), before the restore: the call's report (its node part) and
    result fields. A node that is not a WordPress root fails the call, nothing done."""
    p = module.params["read"]
    problem = not_a_wordpress_root(p["path"])
    if problem:
        module.fail_json(msg=problem, verification_failed=False)
    node, fields = read_node(p, wp_runner(p, p["plugin"]))
    return {"node": node}, {"read": fields}


def restore_first(module, report, extra):
    """The restore before the checks (restore): (changed, result). The node's checks then
    expect the restored version and count fatal errors from where the logs ended after the
    swap. A failed restore fails the call at once (what was read kept in its report), the
    lock released if asked."""
    p = module.params
    try:
        changed, result = restore_and_reload(p["restore"], module.check_mode, module.run_command)
    except RestoreFailed as exc:
        fields = dict(exc.fields)
        said = fields.pop("runbook_report", {})
        for part, facts in said.items():
            report.setdefault(part, {}).update(facts)
        extra = dict(extra, **release_lock(module, report)) if p["release_lock"] else extra
        module.fail_json(
            msg=exc.msg, verification_failed=False, runbook_report=report, **fields, **extra
        )
    if not p["expected_version"]:
        p["expected_version"] = result.get("version_after")
    if "log_offsets" in result:
        p["log_offsets"] = result["log_offsets"]
    return changed, result


def restored_fields(restored, report):
    """The restore's result in the call's result and its report (the node's `restore`)."""
    if restored is None:
        return {}
    report.setdefault("node", {})["restore"] = restored
    return {"restore": restored}


def release_lock(module, report):
    """Release this run's lock on the site (the run's last change): what the result says."""
    lock = module.params["release_lock"]
    try:
        done = release(lock["lock_dir"], lock["site"], lock["run_id"], module.check_mode)
    except (LockError, OSError) as exc:  # left for the release play, which says so
        module.warn(f"the site's lock was not released here: {exc}")
        return {"lock_released": False}
    report.setdefault("site", {}).update(done.get("runbook_report", {}).get("site", {}))
    for warning in done.get("warnings", []):
        module.warn(warning)
    return {"lock_released": bool(done["changed"])}


if __name__ == "__main__":
    main()
