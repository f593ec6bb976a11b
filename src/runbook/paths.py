"""Where things live: the shipped content (catalog, playbooks, roles) and the user's state."""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent


@cache
def content_dir() -> Path:
    """The directory holding runbooks/, playbooks/, roles/ and ansible.cfg.

    An installed wheel carries them in ``runbook/content``; a checkout (editable install) has
    them at the repository root, two levels above this package.
    """
    shipped = PACKAGE_DIR / "content"
    if (shipped / "playbooks").is_dir():
        return shipped
    checkout = PACKAGE_DIR.parent.parent
    if (checkout / "playbooks").is_dir():
        return checkout
    raise FileNotFoundError(f"runbook's playbooks are missing: looked in {shipped} and {checkout}")


def ansible_plugin_dir() -> Path:
    return PACKAGE_DIR / "ansible"


def state_dir() -> Path:
    """The user's state directory: the run record and the run directories live here."""
    env = os.environ.get("RUNBOOK_STATE_DIR")
    if env:
        return Path(env)
    from platformdirs import user_state_dir

    return Path(user_state_dir("runbook", appauthor=False))


def private_dir(path: Path) -> Path:
    """`path` as a folder only its owner can enter (0700), made or tightened: the run record
    and the runs' artifacts hold who did what and why."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    if path.stat().st_mode & 0o077:
        path.chmod(0o700)
    return path


def sandbox_dir() -> Path:
    """The sandbox fleet's working directory (keys, inventory, per-host trees)."""
    return Path(os.environ.get("RUNBOOK_SANDBOX_DIR", "/var/lib/runbook-sandbox"))
