"""The sandbox fleet: beside the product, for trying and testing it; never imported by it."""

from __future__ import annotations

from pathlib import Path

from runbook.paths import sandbox_dir


def inventory_path(root: Path | None = None) -> Path:
    """The running sandbox's inventory (it may not exist: the sandbox may be down)."""
    return (root or sandbox_dir()) / "inventory" / "hosts.yml"
