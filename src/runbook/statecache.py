"""Answers kept between commands in the state directory's cache/ folder (0700, files 0600):
what costs a fraction of a second to work out at every start (reading the inventory through
Ansible's own code, validating the catalog's files) and changes only with files whose identity
says when. Each entry holds the identity it was worked out for and is given back only for that
identity; an entry that cannot be read, or is damaged, is worked out again and written over.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from runbook.paths import state_dir

#: A cache never takes the room the run record needs: on a file system with less free space
#: than this, nothing is kept (and what is kept is only ever a few kilobytes).
MIN_FREE_BYTES = 64 * 1024 * 1024


def folder() -> Path | None:
    """The cache folder in the state directory, or None while there is no state directory (a
    command that only reads makes none)."""
    try:
        state = state_dir()
        return state / "cache" if state.is_dir() else None
    except OSError:
        return None


def get(where: Path, name: str, identity: Any) -> Any:
    """The value kept under `name` for `identity`, or None."""
    try:
        kept = json.loads((where / name).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(kept, dict) or kept.get("identity") != identity:
        return None
    return kept.get("value")


def put(where: Path, name: str, identity: Any, value: Any) -> None:
    """Keep `value` under `name` for `identity`: only a value JSON gives back unchanged (else
    it is worked out each time); a failure to write only means it is worked out next time."""
    try:
        text = json.dumps({"identity": identity, "value": value})
        if json.loads(text) != {"identity": identity, "value": value}:
            return
        room = os.statvfs(where if where.is_dir() else where.parent)
        if room.f_bavail * room.f_frsize < MIN_FREE_BYTES:
            return
        where.mkdir(parents=True, exist_ok=True, mode=0o700)
    except (OSError, TypeError, ValueError):
        return
    scratch = where / f".{name}.{os.getpid()}"
    try:
        with open(os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as out:
            out.write(text)
        os.replace(scratch, where / name)
    except OSError:
        scratch.unlink(missing_ok=True)
