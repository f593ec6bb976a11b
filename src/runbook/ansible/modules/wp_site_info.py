#!/usr/bin/python
# -*- coding: utf-8 -*-
"""Read a WordPress node's state: core and plugin versions, options, backups."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: wp_site_info
short_description: Read WordPress and plugin state on one node; lock and set the site there
description:
  - Reads the WordPress version from C(wp-includes/version.php), as C(wp core version) does
    (it works with the database down),
    the plugin's version from its main file's header, the named options through
    C(wp option get --format=json), and the plugin's backups.
  - Options live in the site's database, so ask for them on one node per site.
  - Read-only, but for the site's lock when asked to take it, and the options given in
    I(set_options); it reports C(changed) only when one of those options changed.
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
  set_options:
    description:
      - Once everything was read and the lock (when asked for) was taken, set keys of these
        JSON-object options, in order, as M(runbook.wordpress.wp_option_json) does (merged,
        written only when different, read back). A site's first node so reads, locks and
        writes in one call.
      - Values are checked before anything is read or locked; an invalid one fails the call.
      - A write that fails (the database down, say) does not fail the call, whose read and
        lock stand; I(set_error) says why, and the playbook decides what follows.
    type: list
    elements: dict
    suboptions:
      option:
        description: The option name.
        type: str
        required: true
      values:
        description: The keys to set and their values.
        type: dict
        required: true
      kind:
        description: What the values are (booleans, or whole numbers 0-100).
        type: str
        choices: [flags, percentages]
        default: flags
  flush_caches:
    description:
      - After I(set_options), flush the site's object cache (C(wp cache flush)) and, with
        I(transients), its transients (C(wp transient delete --all)); not in check mode.
    type: dict
    suboptions:
      transients:
        description: Delete the site's transients too.
        type: bool
        default: true
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
options_set:
  description: Each option of I(set_options) set (option, changed, before, after), in order.
  type: list
  returned: when I(set_options) was given
actions:
  description: The cache flushes run, each with what WP-CLI said.
  type: list
  returned: when I(flush_caches) was given and the options were set
set_error:
  description: Why I(set_options) or I(flush_caches) could not be done (the call still succeeds).
  type: str
  returned: when setting an option or flushing the caches failed
runbook_report:
  description: The same facts shaped for runbook's run record (node and site parts).
  type: dict
  returned: always
"""

import os

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.runbook_archive import read_node
from ansible.module_utils.runbook_lock import (
    LOCK_SPEC,
    RELEASE_SPEC,
    LockError,
    split,
    take,
)
from ansible.module_utils.runbook_wp import (
    OptionError,
    WpError,
    flush_site_caches,
    not_a_wordpress_root,
    option_change,
    option_values,
    parse_json_output,
    set_json_option,
    wp_argument_spec,
    wp_runner,
)

SET_SPEC = dict(
    option=dict(type="str", required=True),
    values=dict(type="dict", required=True),
    kind=dict(type="str", choices=["flags", "percentages"], default="flags"),
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
            set_options=dict(type="list", elements="dict", options=SET_SPEC),
            flush_caches=dict(
                type="dict", options=dict(transients=dict(type="bool", default=True))
            ),
        ),
        supports_check_mode=True,
    )
    p = module.params
    writes = []
    for write in p["set_options"] or []:
        values, invalid = option_values(write["values"], write["kind"])
        if invalid:
            said = "; ".join(invalid)
            module.fail_json(msg=f"{write['option']}: nothing read or written: {said}")
        writes.append((write["option"], values))
    problem = not_a_wordpress_root(p["path"])
    if problem:
        module.fail_json(msg=problem)
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
            module.exit_json(changed=set_options(module, wp, writes, result, report), **result)

    node, fields = read_node(p, wp, errors)
    report["node"] = node
    result.update(fields, runbook_report=report)
    if site_errors:
        # The site's options are unknown: a failure, naming what wp said (the node's facts
        # still go to the run record).
        module.fail_json(msg=cannot_read(p["path"], site_errors), **result)
    lock_site(module, result, report)
    module.exit_json(changed=set_options(module, wp, writes, result, report), **result)


def set_options(module, wp, writes, result, report):
    """The site's options set once it is read and locked, then its caches flushed (if asked):
    whether an option changed. A failure is said in set_error, the call going on."""
    p = module.params
    if not writes:
        return False
    site = report.setdefault("site", {})
    done = result["options_set"] = []
    try:
        for option, values in writes:
            outcome = set_json_option(wp, p["path"], option, values, check_mode=module.check_mode)
            done.append({"option": option, **outcome})
            site.setdefault("options_changed", {}).update(option_change(option, outcome))
        if p["flush_caches"] and not module.check_mode:
            actions = result["actions"] = []
            try:
                flush_site_caches(wp, p["flush_caches"]["transients"], actions)
            finally:
                site["caches"] = list(actions)
    except OptionError as exc:
        result["set_error"] = exc.msg
    except WpError as exc:
        result["set_error"] = (
            f"the options were set, but flushing the caches failed: {exc} (in {p['path']})"
        )
    return any(d["changed"] for d in done)


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


def cannot_read(path, errors):
    return f"cannot read the site's options in {path}: " + "; ".join(errors)


if __name__ == "__main__":
    main()
