#!/usr/bin/python
# -*- coding: utf-8 -*-
"""Merge keys into a JSON option through WP-CLI, validated, compared, and read back."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: wp_option_json
short_description: Set keys of a JSON-object option (feature flags, rollout percentages)
description:
  - Reads the option with C(wp option get --format=json), merges the given keys, and writes it
    with C(wp option update --format=json) only when a value differs; then reads it back and
    fails unless it holds what was written.
  - Keys keep their order; new keys follow in sorted order, so the same input always writes
    the same value and a second run reports no change (WP-CLI compares strictly, order too).
  - Names must match C(^[a-z][a-z0-9_]{0,63}$); values must be booleans (C(kind=flags)) or
    whole numbers 0-100 (C(kind=percentages)). Nothing is written when one is invalid.
  - Options live in the site's database, so run it on one node per site.
options:
  option:
    description: The option name.
    type: str
    required: true
  values:
    description: The keys to set and their values.
    type: dict
    required: true
  kind:
    description: What the values are.
    type: str
    choices: [flags, percentages]
    default: flags
  create:
    description: Create the option when it does not exist.
    type: bool
    default: false
  skip_plugins:
    description: The plugin to skip while WordPress boots (so its fatal cannot stop this).
    type: str
  flush_caches:
    description:
      - Then flush the site's object cache (C(wp cache flush)) and, with I(transients), its
        transients (C(wp transient delete --all)), as M(runbook.wordpress.wp_site_caches) does,
        in the same call (one round trip less when a change of flags must reach visitors).
      - They are flushed whether or not the option changed; not in check mode.
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
- name: Turn the modern engines off, legacy on
  wp_option_json:
    path: /var/www/example/htdocs
    option: mase_feature_flags
    values: {modern_preview_engine: false, legacy_fallback: true}
    skip_plugins: mase
"""

RETURN = r"""
before:
  description: The option's value before.
  type: dict
  returned: success
after:
  description: The option's value after (as read back).
  type: dict
  returned: success
actions:
  description: The cache flushes run, each with what WP-CLI said.
  type: list
  returned: when I(flush_caches) was given
"""

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.runbook_wp import (
    OptionError,
    WpError,
    flush_site_caches,
    option_change,
    option_values,
    set_json_option,
    wp_argument_spec,
    wp_runner,
)


def main():
    module = AnsibleModule(
        argument_spec=wp_argument_spec(
            option=dict(type="str", required=True),
            values=dict(type="dict", required=True),
            kind=dict(type="str", choices=["flags", "percentages"], default="flags"),
            create=dict(type="bool", default=False),
            skip_plugins=dict(type="str"),
            flush_caches=dict(
                type="dict", options=dict(transients=dict(type="bool", default=True))
            ),
        ),
        supports_check_mode=True,
    )
    p = module.params
    values, errors = option_values(p["values"], p["kind"])
    if errors:
        module.fail_json(msg=f"{p['option']}: nothing written: " + "; ".join(errors))

    wp = wp_runner(p, p["skip_plugins"])
    try:
        result = set_json_option(wp, p["path"], p["option"], values, p["create"], module.check_mode)
    except OptionError as exc:
        module.fail_json(msg=exc.msg, **exc.facts)
    report = {"site": {"options_changed": option_change(p["option"], result)}}
    result["runbook_report"] = report
    if p["flush_caches"] and not module.check_mode:
        actions = []
        try:
            flush_site_caches(wp, p["flush_caches"]["transients"], actions)
        except WpError as exc:
            module.fail_json(
                msg=f"{p['option']} was set, but flushing the caches failed: {exc} "
                f"(in {p['path']})",
                actions=actions,
                **result,
            )
        result["actions"] = actions
        report["site"]["caches"] = list(actions)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
