#!/usr/bin/python
# -*- coding: utf-8 -*-
"""Flush a site's object cache and delete its transients through WP-CLI."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: wp_site_caches
short_description: C(wp cache flush) and C(wp transient delete --all), once per site
description:
  - Runs both, as the workflow document's "Clear all caches" does. Flushing is an action, not
    a change of state: it never reports C(changed), so a second run stays idempotent.
  - Does nothing in check mode.
options:
  path:
    description: The WordPress root (C(--path)).
    type: path
    required: true
  transients:
    description: Also delete every transient.
    type: bool
    default: true
  skip_plugins:
    description: The plugin to skip while WordPress boots.
    type: str
  wp_bin:
    description: The WP-CLI executable.
    type: str
    default: wp
  allow_root:
    description: Pass C(--allow-root).
    type: bool
    default: false
  url:
    description: The site URL (C(--url)).
    type: str
author:
  - runbook developers
"""

EXAMPLES = r"""
- name: Flush the site's caches
  wp_site_caches:
    path: /var/www/example/htdocs
    skip_plugins: mase
"""

RETURN = r"""
actions:
  description: What was run and what WP-CLI said.
  type: list
  returned: success
"""

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.runbook_wp import WpError, run_wp, wp_argument_spec, wp_argv


def main():
    module = AnsibleModule(
        argument_spec=wp_argument_spec(
            transients=dict(type="bool", default=True),
            skip_plugins=dict(type="str"),
        ),
        supports_check_mode=True,
    )
    p = module.params
    commands = [["cache", "flush"]]
    if p["transients"]:
        commands.append(["transient", "delete", "--all"])
    if module.check_mode:
        module.exit_json(
            changed=False,
            actions=[{"command": " ".join(c), "said": "(check mode)"} for c in commands],
        )
    actions = []
    for command in commands:
        argv = wp_argv(
            p["wp_bin"],
            p["path"],
            command,
            allow_root=p["allow_root"],
            skip_plugins=p["skip_plugins"],
            url=p["url"],
        )
        try:
            said = run_wp(argv).strip()
        except WpError as exc:
            module.fail_json(msg=f"{exc} (in {p['path']})", actions=actions)
        actions.append({"command": "wp " + " ".join(command), "said": said})
    module.exit_json(changed=False, actions=actions, runbook_report={"site": {"caches": actions}})


if __name__ == "__main__":
    main()
