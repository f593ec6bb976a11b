#!/usr/bin/python
# -*- coding: utf-8 -*-
"""Flush a site's object cache and transients through WP-CLI; reset the node's OPcache."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: wp_site_caches
short_description: Flush a site's object cache and transients; reset a node's OPcache
description:
  - Runs both, as a full cache clear does, then resets the node's
    OPcache with C(opcache_reset_argv) (a php-fpm reload) when one is given. One call does a
    site's caches (C(site=true) on its first node) and each node's OPcache.
  - Flushing is an action, not a change of state; it never reports C(changed), so a second run
    stays idempotent.
  - Does nothing in check mode.
options:
  site:
    description: Flush the site's object cache (and transients); false on a site's other nodes.
    type: bool
    default: true
  opcache_reset_argv:
    description:
      - The command that resets this node's OPcache (a php-fpm reload), run as an argv list,
        never through a shell; empty - no reset.
    type: list
    elements: str
    default: []
  transients:
    description: Also delete every transient.
    type: bool
    default: true
  skip_plugins:
    description: The plugin to skip while WordPress boots.
    type: str
extends_documentation_fragment:
  - runbook_wp
author:
  - runbook developers (@runbook)
"""

EXAMPLES = r"""
- name: Flush the site's caches
  wp_site_caches:
    path: /var/www/example/htdocs
    skip_plugins: mase

- name: Reset OPcache only (a site's other nodes)
  wp_site_caches:
    path: /var/www/example/htdocs
    site: false
    opcache_reset_argv: [systemctl, reload, php8.2-fpm]
"""

RETURN = r"""
actions:
  description: What was run and what WP-CLI said.
  type: list
  returned: success
"""

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.runbook_wp import (
    WpError,
    flush_site_caches,
    site_cache_commands,
    wp_argument_spec,
    wp_runner,
)


def main():
    module = AnsibleModule(
        argument_spec=wp_argument_spec(
            site=dict(type="bool", default=True),
            transients=dict(type="bool", default=True),
            skip_plugins=dict(type="str"),
            opcache_reset_argv=dict(type="list", elements="str", default=[]),
        ),
        supports_check_mode=True,
    )
    p = module.params
    commands = site_cache_commands(p["transients"]) if p["site"] else []
    if module.check_mode:
        planned = [{"command": "wp " + " ".join(c), "said": "(check mode)"} for c in commands]
        if p["opcache_reset_argv"]:
            planned.append({"command": " ".join(p["opcache_reset_argv"]), "said": "(check mode)"})
        module.exit_json(changed=False, actions=planned)
    wp = wp_runner(p, p["skip_plugins"])
    actions = []
    if p["site"]:
        try:
            flush_site_caches(wp, p["transients"], actions)
        except WpError as exc:
            module.fail_json(msg=f"{exc} (in {p['path']})", actions=actions)
    report = {"site": {"caches": list(actions)}} if commands else {}
    if p["opcache_reset_argv"]:
        # An action, not a change of state, like the flushes.
        rc, out, err = module.run_command(p["opcache_reset_argv"])
        if rc != 0:
            module.fail_json(
                msg=f"OPcache reset failed ({' '.join(p['opcache_reset_argv'])}, rc {rc}): "
                + (err or out).strip()[:500],
                actions=actions,
                runbook_report=report,
            )
        actions.append({"command": " ".join(p["opcache_reset_argv"]), "said": "OPcache reset"})
        report["node"] = {"opcache_reset": True}
    module.exit_json(changed=False, actions=actions, runbook_report=report)


if __name__ == "__main__":
    main()
