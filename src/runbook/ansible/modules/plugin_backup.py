#!/usr/bin/python
# -*- coding: utf-8 -*-
"""Back a WordPress plugin folder up, with a sha256 manifest beside the archive."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: plugin_backup
short_description: Back a plugin folder up as slug-backup-YYYYMMDD-HHMMSS.tar.gz with a manifest
description:
  - Writes the archive (members under C(slug/)) and C(slug-backup-...manifest.json) beside it
    (the archive's sha256 and size, the plugin version, every file's path, size and sha256).
  - Skips, unchanged, when the newest good backup already holds an identical tree.
  - Refuses with a message naming the folder when free space is short; keeps the newest N.
options:
  plugin_dir:
    description: The plugin folder, for example C(wp-content/plugins/mase).
    type: path
    required: true
  backup_dir:
    description: Where backups live.
    type: path
    required: true
  slug:
    description: The plugin's slug (archive member prefix and file name prefix).
    type: str
    required: true
  keep:
    description: How many backups to keep (newest first); 0 keeps all.
    type: int
    default: 10
author:
  - runbook developers (@runbook)
"""

EXAMPLES = r"""
- name: Back the plugin up
  plugin_backup:
    plugin_dir: /var/www/example/htdocs/wp-content/plugins/mase
    backup_dir: /var/www/example/backups
    slug: mase
    keep: 10
"""

RETURN = r"""
name:
  description: The backup written, or the identical one that made this run skip.
  type: str
  returned: success
version:
  description: The plugin version backed up.
  type: str
  returned: success
skipped_reason:
  description: Why no backup was written (an identical tree is backed up already).
  type: str
  returned: success
pruned:
  description: Backups removed to keep the newest N.
  type: list
  returned: success
"""

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.runbook_archive import ArchiveError, create_backup


def main():
    module = AnsibleModule(
        argument_spec=dict(
            plugin_dir=dict(type="path", required=True),
            backup_dir=dict(type="path", required=True),
            slug=dict(type="str", required=True),
            keep=dict(type="int", default=10),
        ),
        supports_check_mode=True,
    )
    p = module.params
    try:
        result = create_backup(
            p["plugin_dir"],
            p["backup_dir"],
            p["slug"],
            keep=p["keep"],
            check_mode=module.check_mode,
        )
    except (ArchiveError, OSError) as exc:
        module.fail_json(msg=f"backup of {p['plugin_dir']} failed: {exc}")
    module.exit_json(
        changed=result["created"],
        name=result["name"],
        version=result["version"],
        skipped_reason=result["skipped"],
        pruned=result["pruned"],
        runbook_report={"node": {"backup": result}},
    )


if __name__ == "__main__":
    main()
