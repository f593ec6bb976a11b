"""The Ansible collection (runbook.wordpress) as a use case: build its tarball, install it
where a checkout's ansible.cfg looks (./collections), or elsewhere."""

from __future__ import annotations

import tempfile
from pathlib import Path

from runbook import collection
from runbook.paths import content_dir


def build(output: Path) -> Path:
    return collection.build(output)


def install(into: Path | None = None) -> tuple[Path, Path]:
    """Build and install; returns (the tarball's name in a scratch folder, where it went)."""
    into = into or content_dir() / "collections"
    with tempfile.TemporaryDirectory(prefix="runbook-collection-") as scratch:
        tarball = collection.build(Path(scratch))
        collection.install(tarball, into)
    return Path(tarball.name), into / "ansible_collections" / collection.NAMESPACE / collection.NAME
