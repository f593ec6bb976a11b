# -*- coding: utf-8 -*-
"""A site's lock file: taking and releasing it, for the site_lock module and for the modules
that take or release it in the same call as their own work (wp_site_info, mase_smoke_test),
so a run spends no round trip of its own on its lock."""

from __future__ import annotations

import datetime
import json
import os
import re
from typing import Any, Dict, Optional, Tuple

SITE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")

#: The options of a lock taken by another module (its `lock` option's suboptions).
LOCK_SPEC: Dict[str, Dict[str, Any]] = dict(
    lock_dir=dict(type="path", default="/var/lib/runbook/locks"),
    site=dict(type="str", required=True),
    run_id=dict(type="str", required=True),
    owner=dict(type="str", default="unknown"),
    reason=dict(type="str", default=""),
    runbook=dict(type="str", default=""),
    ttl=dict(type="int", default=1800),
    force=dict(type="bool", default=False),
    ended_runs=dict(type="dict", default={}),
    controller=dict(type="str", default=""),
)


#: What releasing a lock takes (mase_smoke_test's `release_lock`, wp_site_info's `release`).
RELEASE_SPEC: Dict[str, Dict[str, Any]] = {k: LOCK_SPEC[k] for k in ("lock_dir", "site", "run_id")}


class LockError(Exception):
    """The lock could not be taken: `result` is what the module returns with the failure."""

    def __init__(self, msg: str, result: Dict[str, Any]) -> None:
        super().__init__(msg)
        self.msg = msg
        self.result = result


def now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def lock_path(lock_dir: str, site: str) -> str:
    if not SITE.match(site):
        raise LockError(f"site {site!r} is not a valid site name", {"lock_held": False})
    return os.path.join(lock_dir, f"{site}.lock")


def read(path: str) -> Optional[Dict[str, Any]]:
    try:
        with open(path, encoding="utf-8") as handle:
            lock = json.load(handle)
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        lock = None
    if not isinstance(lock, dict):  # unreadable, or not what a lock holds: an expired lock
        return {"run_id": "?", "corrupt": True, "expires": "1970-01-01T00:00:00+00:00"}
    return lock


def describe(path: str) -> Optional[Dict[str, Any]]:
    """The site lock kept at `path` as a node's read reports it: None when there is none, what
    was wrong when it cannot be read (the lock lives on the site's first node)."""
    try:
        with open(path, encoding="utf-8") as handle:
            lock = json.load(handle)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        return {"path": path, "unreadable": str(exc)}
    return lock if isinstance(lock, dict) else {"path": path, "unreadable": "not a JSON object"}


def expired(lock: Dict[str, Any]) -> bool:
    try:
        return datetime.datetime.fromisoformat(lock["expires"]) <= now()
    except (KeyError, ValueError, TypeError):
        return True


def release(lock_dir: str, site: str, run_id: str, check_mode: bool) -> Dict[str, Any]:
    """Remove the lock if `run_id` holds it: the module's result (changed, lock_held, ...)."""
    path = lock_path(lock_dir, site)
    current = read(path)
    if current is None:
        return {"changed": False, "lock_held": False, "lock": {}}
    if current.get("run_id") != run_id:
        return {
            "changed": False,
            "lock_held": True,
            "lock": current,
            "warnings": [f"{path} is held by run {current.get('run_id')}: left"],
        }
    if not check_mode:
        os.unlink(path)
    return {
        "changed": True,
        "lock_held": False,
        "lock": current,
        "runbook_report": {"site": {"lock_released": True}},
    }


def take(p: Dict[str, Any], check_mode: bool) -> Dict[str, Any]:
    """Take the lock `p` describes (LOCK_SPEC's options): the module's result, or LockError
    naming the run that holds it."""
    path = lock_path(p["lock_dir"], p["site"])
    current = read(path)
    result: Dict[str, Any] = {"lock_held": False}
    if current is not None and current.get("run_id") == p["run_id"]:
        return {"changed": False, "lock": current, **result}
    ended = p["ended_runs"].get(current.get("run_id")) if current is not None else None
    if current is not None and not expired(current) and not p["force"] and not ended:
        raise LockError(
            f"site {p['site']} is locked by run {current.get('run_id')} "
            f"({current.get('runbook')}, by {current.get('owner')}: "
            f"{current.get('reason')!r}) since {current.get('since')} until "
            f"{current.get('expires')}, on controller {current.get('controller') or '?'}; "
            "that run is not over as far as this controller knows: wait for it, or pass "
            "--force-unlock if it is dead",
            {"lock_held": True, "lock": current},
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
    if check_mode:
        return {"changed": True, "lock": lock, **result}
    os.makedirs(p["lock_dir"], mode=0o700, exist_ok=True)
    if current is not None:
        os.unlink(path)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise LockError(
            f"site {p['site']} was locked by another run just now",
            {"lock_held": True, "lock": read(path) or {}},
        ) from None
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(lock, handle)
    site_report: Dict[str, Any] = {"lock": lock}
    if current is not None:
        # Every takeover is evidence: whose lock, and why it could be taken.
        site_report["lock_taken_over"] = {"from": current, "why": why}
    return {"changed": True, "lock": lock, "runbook_report": {"site": site_report}, **result}


def split(result: Dict[str, Any]) -> Tuple[Dict[str, Any], Dict[str, Any]]:
    """A take's result as (what the caller returns under `lock_taken`, its runbook_report)."""
    taken = {k: v for k, v in result.items() if k != "runbook_report"}
    return taken, result.get("runbook_report", {})
