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

import datetime
import json
import os
import re

from ansible.module_utils.basic import AnsibleModule

SITE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def now():
    return datetime.datetime.now(datetime.timezone.utc)


def read(path):
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return {"run_id": "?", "corrupt": True, "expires": "1970-01-01T00:00:00+00:00"}


def expired(lock):
    try:
        return datetime.datetime.fromisoformat(lock["expires"]) <= now()
    except (KeyError, ValueError, TypeError):
        return True


def main():
    module = AnsibleModule(
        argument_spec=dict(
            lock_dir=dict(type="path", default="/var/lib/runbook/locks"),
            site=dict(type="str", required=True),
            state=dict(type="str", choices=["present", "absent"], default="present"),
            run_id=dict(type="str", required=True),
            owner=dict(type="str", default="unknown"),
            reason=dict(type="str", default=""),
            runbook=dict(type="str", default=""),
            ttl=dict(type="int", default=1800),
            force=dict(type="bool", default=False),
            ended_runs=dict(type="dict", default={}),
            controller=dict(type="str", default=""),
        ),
        supports_check_mode=True,
    )
    p = module.params
    if not SITE.match(p["site"]):
        module.fail_json(msg=f"site {p['site']!r} is not a valid site name", lock_held=False)
    path = os.path.join(p["lock_dir"], f"{p['site']}.lock")
    current = read(path)

    if p["state"] == "absent":
        if current is None:
            module.exit_json(changed=False, lock_held=False, lock={})
        if current.get("run_id") != p["run_id"]:
            module.exit_json(
                changed=False,
                lock_held=True,
                lock=current,
                warnings=[f"{path} is held by run {current.get('run_id')}: left"],
            )
        if not module.check_mode:
            os.unlink(path)
        module.exit_json(
            changed=True,
            lock_held=False,
            lock=current,
            runbook_report={"site": {"lock_released": True}},
        )

    result = {"lock_held": False}
    if current is not None and current.get("run_id") == p["run_id"]:
        module.exit_json(changed=False, lock=current, **result)
    ended = p["ended_runs"].get(current.get("run_id")) if current is not None else None
    if current is not None and not expired(current) and not p["force"] and not ended:
        module.fail_json(
            msg=(
                f"site {p['site']} is locked by run {current.get('run_id')} "
                f"({current.get('runbook')}, by {current.get('owner')}: "
                f"{current.get('reason')!r}) since {current.get('since')} until "
                f"{current.get('expires')}, on controller {current.get('controller') or '?'}; "
                "that run is not over as far as this controller knows: wait for it, or pass "
                "--force-unlock if it is dead"
            ),
            lock_held=True,
            lock=current,
        )
    why = None
    if current is not None:
        if expired(current):
            result["expired_lock"], why = current, "expired"
        elif ended:
            result["ended_from"], why = current, f"its run is over ({ended})"
        else:
            result["forced_from"], why = current, "forced (--force-unlock)"
    started = now()
    lock = {
        "site": p["site"],
        "run_id": p["run_id"],
        "owner": p["owner"],
        "reason": p["reason"],
        "runbook": p["runbook"],
        "host": os.uname().nodename,
        "controller": p["controller"],
        "since": started.isoformat(timespec="seconds"),
        "expires": (started + datetime.timedelta(seconds=p["ttl"])).isoformat(timespec="seconds"),
    }
    if module.check_mode:
        module.exit_json(changed=True, lock=lock, **result)
    os.makedirs(p["lock_dir"], mode=0o700, exist_ok=True)
    if current is not None:
        os.unlink(path)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        module.fail_json(
            msg=f"site {p['site']} was locked by another run just now",
            lock_held=True,
            lock=read(path) or {},
        )
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(lock, handle)
    site_report = {"lock": lock}
    if current is not None:
        # Every takeover is evidence: whose lock, and why it could be taken.
        site_report["lock_taken_over"] = {"from": current, "why": why}
    module.exit_json(changed=True, lock=lock, runbook_report={"site": site_report}, **result)


if __name__ == "__main__":
    main()
