#!/usr/bin/python
# -*- coding: utf-8 -*-
"""Read a WordPress node's state: core and plugin versions, options, backups."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: wp_site_info
short_description: Read WordPress and plugin state on one node, without changing anything
description:
  - Reads the WordPress version from C(wp-includes/version.php), as C(wp core version) does
    (it works with the database down),
    the plugin's version from its main file's header, the named options through
    C(wp option get --format=json), and the plugin's backups.
  - Options live in the site's database, so ask for them on one node per site.
  - Read-only (but for the site's lock, when asked to take it); never reports C(changed).
options:
  plugin:
    description: The plugin's slug (its folder under C(wp-content/plugins)).
    type: str
    required: true
  scope:
    description:
      - C(node) reads what lives on each node (versions, backups); C(site) reads only the
        options, which live in the site's database; C(both) reads the two in one go (on a
        site's first node, one round trip less).
    type: str
    choices: [node, site, both]
    default: node
  options:
    description:
      - Options to read as JSON (scope C(site) or C(both)); a missing option comes back as null.
    type: list
    elements: str
    default: []
  backup_dir:
    description: The folder holding the plugin's backups.
    type: path
  logs:
    description: Log files whose current size to report (scope C(node)), so that a later
      check reads only what was written after this point.
    type: list
    elements: path
    default: []
  lock_file:
    description: The site's lock file on this node; reported (holder, run, reason, until) if held.
    type: path
  lock:
    description:
      - Take the site's lock on this node in the same call, once everything asked for was read
        (a node that cannot be read takes no lock), as M(runbook.wordpress.site_lock) with
        C(state=present) does; a lock another run holds fails the call with C(lock_held=true).
      - The lock is bookkeeping, not the site's state, so the call still reports no change.
        Give it on the site's first node only.
    type: dict
    suboptions:
      lock_dir:
        description: Where lock files live on the node.
        type: path
        default: /var/lib/runbook/locks
      site:
        description: The site to lock.
        type: str
        required: true
      run_id:
        description: The run taking it.
        type: str
        required: true
      owner:
        description: Who runs it (the operator).
        type: str
        default: unknown
      reason:
        description: Why (the run's --reason).
        type: str
        default: ""
      runbook:
        description: Which runbook.
        type: str
        default: ""
      ttl:
        description: Seconds until the lock expires if never released.
        type: int
        default: 1800
      force:
        description: Break a lock another run holds.
        type: bool
        default: false
      ended_runs:
        description: Runs the controller knows are over (run id -> how it ended).
        type: dict
        default: {}
      controller:
        description: The machine and process running this run.
        type: str
        default: ""
extends_documentation_fragment:
  - runbook_wp
author:
  - runbook developers (@runbook)
"""

EXAMPLES = r"""
- name: Read the node's WordPress state
  wp_site_info:
    path: /var/www/example/htdocs
    plugin: mase
    backup_dir: /var/www/example/backups

- name: Read the site's feature flags (on one node per site)
  wp_site_info:
    path: /var/www/example/htdocs
    plugin: mase
    scope: site
    options: [mase_feature_flags]
"""

RETURN = r"""
plugin_version:
  description: The plugin's Version header, or null when the plugin is missing.
  type: str
  returned: when scope is node or both
options:
  description: Each asked-for option's value (null when it does not exist).
  type: dict
  returned: when scope is site or both
wordpress_version:
  description: The WordPress version, or null when it cannot be read.
  type: str
  returned: when scope is node or both
log_offsets:
  description: Each asked-for log file's size now (0 when it does not exist).
  type: dict
  returned: when scope is node or both
backups:
  description:
    - The plugin's backups, newest first (name, path, size, manifest - one beside it, bad -
      marked bad by a restore, never chosen again).
  type: list
  returned: when scope is node or both
errors:
  description: What could not be read, one message each (the database being down, say).
  type: list
  returned: always
lock_taken:
  description:
    - The lock taken (as M(runbook.wordpress.site_lock) returns it, C(lock_held) false), with
      C(release) - the lock_dir, site and run_id that release it.
  type: dict
  returned: when I(lock) was given and the lock was taken
lock_held:
  description: True when another run holds the site's lock (the call then fails).
  type: bool
  returned: when I(lock) was given and the lock is held by another run
runbook_report:
  description: The same facts shaped for runbook's run record (node and site parts).
  type: dict
  returned: always
"""

import json
import os

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.runbook_archive import list_backups
from ansible.module_utils.runbook_lock import (
    LOCK_SPEC,
    RELEASE_SPEC,
    LockError,
    split,
    take,
)
from ansible.module_utils.runbook_wp import (
    WpError,
    core_version,
    parse_json_output,
    plugin_version,
    wp_argument_spec,
    wp_runner,
)


def main():
    module = AnsibleModule(
        argument_spec=wp_argument_spec(
            plugin=dict(type="str", required=True),
            scope=dict(type="str", choices=["node", "site", "both"], default="node"),
            options=dict(type="list", elements="str", default=[]),
            backup_dir=dict(type="path"),
            logs=dict(type="list", elements="path", default=[]),
            lock_file=dict(type="path"),
            lock=dict(type="dict", options=LOCK_SPEC),
        ),
        supports_check_mode=True,
    )
    p = module.params
    if not os.path.isfile(os.path.join(p["path"], "wp-load.php")):
        module.fail_json(msg=f"{p['path']} is not a WordPress root (no wp-load.php)")
    errors = []

    wp = wp_runner(p, p["plugin"])

    result = {}
    report = {}
    site_errors = []
    if p["scope"] in ("site", "both"):
        options = {}
        for name in p["options"]:
            try:
                options[name] = parse_json_output(wp(["option", "get", name, "--format=json"]))
            except WpError as exc:
                options[name] = None
                if "Could not get" not in (exc.stderr or ""):
                    errors.append(str(exc))
                    break  # the database is down or WordPress cannot boot: the rest fail alike
            except ValueError as exc:
                options[name] = None
                errors.append(f"option {name}: {exc}")
        site_errors = list(errors)
        result["options"] = options
        report["site"] = {
            "options": options,
            "read_on": os.uname().nodename,
            "errors": site_errors,
        }
        if p["scope"] == "site":
            result.update(errors=errors, runbook_report=report)
            if site_errors:
                # The site's options are unknown: say so as a failure, naming what wp said.
                module.fail_json(msg=cannot_read(p["path"], site_errors), **result)
            lock_site(module, result, report)
            module.exit_json(changed=False, **result)

    # What `wp core version` does (it reads version.php without booting WordPress), without
    # starting PHP: one process less per node; WP-CLI only when the file cannot be parsed.
    wordpress_version = core_version(p["path"])
    if wordpress_version is None:
        try:
            wordpress_version = wp(["core", "version"]).strip() or None
        except (WpError, OSError) as exc:
            errors.append(str(exc))
    plugin_dir = os.path.join(p["path"], "wp-content", "plugins", p["plugin"])
    version = plugin_version(plugin_dir, p["plugin"])
    # The same list plugin_restore chooses from: a backup it marked bad is never "newest".
    try:
        backups = list_backups(p["backup_dir"], p["plugin"]) if p["backup_dir"] else []
    except OSError as exc:  # not a missing folder (that is no backups): unreadable
        backups = []
        errors.append(f"cannot list the backups in {p['backup_dir']}: {exc}")
    good = [b for b in backups if not b["bad"]]
    node = {
        "wordpress_version": wordpress_version,
        "plugin": p["plugin"],
        "plugin_version": version,
        "newest_backup": good[0]["name"] if good else None,
        "backups": len(backups),
        "bad_backups": len(backups) - len(good),
        "errors": errors,
        "lock": read_lock(p["lock_file"]) if p["lock_file"] else None,
    }
    log_offsets = {}
    for log in p["logs"]:
        try:
            log_offsets[log] = os.path.getsize(log)
        except OSError:
            log_offsets[log] = 0
    report["node"] = node
    result.update(
        log_offsets=log_offsets,
        wordpress_version=wordpress_version,
        plugin_version=version,
        backups=backups,
        errors=errors,
        runbook_report=report,
    )
    if site_errors:
        # The site's options are unknown: a failure, naming what wp said (the node's facts
        # still go to the run record).
        module.fail_json(msg=cannot_read(p["path"], site_errors), **result)
    lock_site(module, result, report)
    module.exit_json(changed=False, **result)


def lock_site(module, result, report):
    """Take the site's lock if asked (everything read, so a node that failed takes none)."""
    if not module.params["lock"]:
        return
    try:
        taken, said = split(take(module.params["lock"], module.check_mode))
    except LockError as exc:
        module.fail_json(msg=exc.msg, **result, **exc.result)
    lock = module.params["lock"]
    # What releasing it takes, for the call that ends the run (mase_smoke_test's release_lock).
    taken["release"] = {k: lock[k] for k in RELEASE_SPEC}
    result["lock_taken"] = taken
    for part, facts in said.items():
        report.setdefault(part, {}).update(facts)


def read_lock(path):
    """The site lock kept on this node, if any (it lives on the site's first node)."""
    try:
        with open(path, encoding="utf-8") as handle:
            lock = json.load(handle)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        return {"path": path, "unreadable": str(exc)}
    return lock if isinstance(lock, dict) else {"path": path, "unreadable": "not a JSON object"}


def cannot_read(path, errors):
    return f"cannot read the site's options in {path}: " + "; ".join(errors)


if __name__ == "__main__":
    main()
