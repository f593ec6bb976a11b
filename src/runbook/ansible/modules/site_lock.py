#!/usr/bin/python
# -*- coding: utf-8 -*-
"""A lease on a site, held on its first node: one run at a time may change the site."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: site_lock
short_description: Take or release a site's lock (owner, run id, reason, expiry)
description:
  - The lock is a JSON file created with O_EXCL in I(lock_dir) on the site's first node.
  - Taking a lock another run holds fails at once with C(lock_held=true), naming the holder,
    its reason and since when. An expired lock is taken over (and said so).
  - I(force=true) breaks a held lock; the result names the run it was taken from.
  - Releasing removes the lock only when this run holds it.
options:
  lock_dir:
    description: Where lock files live on the node.
    type: path
    default: /var/lib/runbook/locks
  site:
    description: The site to lock.
    type: str
    required: true
  state:
    description: C(present) takes the lock, C(absent) releases it.
    type: str
    choices: [present, absent]
    default: present
  run_id:
    description: The run taking or releasing it.
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
    description:
      - Runs the controller knows are over (run id -> how it ended, such as C(failed) or
        C(abandoned) for a controller that died). A lock one of them still holds is taken
        over, and the result says so.
    type: dict
    default: {}
  controller:
    description: The machine and process running this run, kept in the lock for the next one.
    type: str
    default: ""
author:
  - runbook developers (@runbook)
"""

EXAMPLES = r"""
- name: Lock the site
  site_lock:
    site: shop
    run_id: 20261127T141500Z-3f9a1c
    owner: ops
    reason: "P0: admin crashes"
"""

RETURN = r"""
lock:
  description: The lock as it stands (holder, run id, reason, since, expires).
  type: dict
  returned: always
lock_held:
  description: True when another run holds the lock (the module then fails).
  type: bool
  returned: always
forced_from:
  description: The lock that was broken with force.
  type: dict
  returned: when force broke a lock
ended_from:
  description: The lock of a run that was over, taken over.
  type: dict
  returned: when a lock of an ended run was taken over
"""

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.runbook_lock import LOCK_SPEC, LockError, release, take


def main():
    module = AnsibleModule(
        argument_spec=dict(
            state=dict(type="str", choices=["present", "absent"], default="present"),
            **LOCK_SPEC,
        ),
        supports_check_mode=True,
    )
    p = module.params
    try:
        if p["state"] == "absent":
            module.exit_json(**release(p["lock_dir"], p["site"], p["run_id"], module.check_mode))
        module.exit_json(**take(p, module.check_mode))
    except LockError as exc:
        module.fail_json(msg=exc.msg, **exc.result)


if __name__ == "__main__":
    main()
