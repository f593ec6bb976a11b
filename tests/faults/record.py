"""The fault suite's cases record here what each cost; conftest prints the table.

(One module both import by the same name: conftest itself is imported by pytest under another.)
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tests.integration.conftest import Sandbox

NODES = ("alpha-1", "alpha-2", "beta-1")
RESULTS: list[dict[str, object]] = []
#: The folder the rows are shared in (set by the controller before its workers start).
ROWS_ENV = "RUNBOOK_FAULT_ROWS"


def plugin_tree(sandbox: Sandbox, node: str) -> Path:
    return sandbox.root / "hosts" / node / "wp-content" / "plugins" / "mase"


def site_dir(sandbox: Sandbox, node: str) -> Path:
    return sandbox.root / "hosts" / node / "www" / sandbox.node(node).site


def lost(sandbox: Sandbox, state_dir: Path) -> list[str]:
    """What a fault cost: half trees, held locks, runs the record still calls running."""
    from runbook.ansible.module_utils.runbook_archive import read_manifest, tree_digest, tree_files

    found = []
    for node in NODES:
        known = {tree_digest(tree_files(str(sandbox.root / "cache" / "plugin"), "mase")[0])}
        for archive in (site_dir(sandbox, node) / "backups").glob("*.tar.gz"):
            manifest = read_manifest(str(archive))
            if manifest:
                known.add(manifest["tree_sha256"])
        live = tree_digest(tree_files(str(plugin_tree(sandbox, node)), "mase")[0])
        if live not in known:
            found.append(f"{node}: the plugin tree is no known version (half a tree)")
        for lock in (site_dir(sandbox, node) / "locks").glob("*.lock"):
            found.append(f"{node}: a lock is still held ({lock.name})")
    db = state_dir / "runbook.sqlite3"
    if db.exists():
        with sqlite3.connect(db) as conn:
            running = [r[0] for r in conn.execute("SELECT id FROM runs WHERE status = 'running'")]
        found += [f"the record still calls run {r} running" for r in running]
    return found


@contextmanager
def fault(name: str, sandbox: Sandbox, state_dir: Path) -> Iterator[None]:
    """Record a case: survived when its own checks pass and nothing was lost."""
    row: dict[str, object] = {"fault": name, "survived": False, "lost": [], "at": time.time()}
    RESULTS.append(row)
    try:
        try:
            yield
        finally:
            row["lost"] = lost(sandbox, state_dir)
        assert not row["lost"], row["lost"]
        row["survived"] = True
    finally:
        share(row)


def share(row: dict[str, object]) -> None:
    """With pytest-xdist the table is printed by the controller, not by the worker that ran
    the case: each row also goes to a file in the folder the controller named."""
    folder = os.environ.get(ROWS_ENV)
    if folder:
        (Path(folder) / f"{uuid.uuid4().hex}.json").write_text(json.dumps(row, default=str))


def shared_rows() -> list[dict[str, object]]:
    """Every row the workers shared, in the order they were run (or this process's own)."""
    folder = os.environ.get(ROWS_ENV)
    if not folder or not Path(folder).is_dir():
        return RESULTS
    rows = [json.loads(p.read_text()) for p in Path(folder).glob("*.json")]
    return sorted(rows, key=lambda r: float(r.get("at") or 0))
