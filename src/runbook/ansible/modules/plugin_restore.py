#!/usr/bin/python
# -*- coding: utf-8 -*-
"""Restore a plugin folder from a verified backup, swapping whole trees atomically."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: plugin_restore
short_description: Restore a plugin from its newest good backup, or a named one, safely
description:
  - Verifies the archive against its manifest (size, sha256), then checks every member before
    anything is written (no absolute paths, no C(..), no links or devices that escape, nothing
    outside C(slug/)).
  - Extracts into an empty staging folder in C(.runbook) beside the plugins folder (same
    filesystem, mode 0700, so no web server serves it), swaps it with the live one in one atomic
    step, keeps the old tree there as a snapshot, removes a stale C(.maintenance), and
    checks the restored version against the manifest.
  - A backup that fails verification is marked bad (a C(.bad) file beside it) and never chosen
    again; without a named backup the next newest good one is tried.
  - Needs no WordPress, so it works while the plugin fatals on load.
  - When the tree changed, runs C(reload_argv) (a php-fpm reload) so that PHP stops serving the
    replaced code from OPcache; the restore is not done until then.
options:
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
    description:
      - The command that resets OPcache after a swap (a php-fpm reload), run as an argv list,
        never through a shell; empty - none (then reset OPcache yourself).
    type: list
    elements: str
    default: []
  logs:
    description:
      - Log files whose sizes are returned, measured after the swap and the OPcache reset (as
        C(log_offsets)), so that a smoke test counts the fatal errors of the restored code
        only, not those the replaced code wrote while it still served requests.
    type: list
    elements: path
    default: []
author:
  - runbook developers (@runbook)
"""

EXAMPLES = r"""
- name: Restore the newest good backup
  plugin_restore:
    plugins_dir: /var/www/example/htdocs/wp-content/plugins
    backup_dir: /var/www/example/backups
    slug: mase
"""

RETURN = r"""
backup:
  description: The backup restored (or that would be, in check mode).
  type: str
  returned: success
version_before:
  description: The plugin version before the restore.
  type: str
  returned: success
version_after:
  description: The plugin version after it.
  type: str
  returned: success
snapshot:
  description:
    - Where the replaced tree was kept, in C(.runbook) beside the plugins folder (0700, out of
      the web server's and PHP's reach).
  type: str
  returned: when a tree was replaced
rejected:
  description: Backups that failed verification on the way, with the reason.
  type: list
  returned: success
opcache_reset:
  description: Whether C(reload_argv) ran (only after a swap).
  type: bool
  returned: success
log_offsets:
  description: Each of C(logs) and its size after the swap (0 when it does not exist).
  type: dict
  returned: when logs are given
"""

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.runbook_archive import RESTORE_SPEC, RestoreFailed, restore_and_reload


def main():
    module = AnsibleModule(argument_spec=RESTORE_SPEC, supports_check_mode=True)
    try:
        changed, result = restore_and_reload(module.params, module.check_mode, module.run_command)
    except RestoreFailed as exc:
        module.fail_json(msg=exc.msg, **exc.fields)
    module.exit_json(
        **{**result, "changed": changed, "runbook_report": {"node": {"restore": result}}}
    )


if __name__ == "__main__":
    main()
