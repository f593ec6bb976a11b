"""A throwaway sandbox for a bench, beside any other: its own folder under /var/tmp (not a
0700 temporary parent, which keeps MariaDB out), interface prefix and subnet; taken down and
removed at the end, whatever happened."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def scratch_sandbox(prefix: str, subnet: str) -> Iterator[Path]:
    """The folder holding the sandbox (`sandbox/`) and whatever the bench keeps beside it;
    RUNBOOK_SANDBOX_* point runbook at it inside the block."""
    parent = Path(tempfile.mkdtemp(prefix="runbook-bench-", dir="/var/tmp"))
    parent.chmod(0o755)
    os.environ.update(
        {
            "RUNBOOK_SANDBOX_DIR": str(parent / "sandbox"),
            "RUNBOOK_SANDBOX_PREFIX": prefix,
            "RUNBOOK_SANDBOX_SUBNET": subnet,
        }
    )
    from runbook.sandbox import fleet

    try:
        yield parent
    finally:
        fleet.down()
        shutil.rmtree(parent, ignore_errors=True)
