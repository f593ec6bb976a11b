"""Each role's Molecule scenario (converge, idempotence, verify) against the sandbox fleet."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from tests.conftest import REPO

from runbook import collection

ROLES = sorted(
    p.parent.parent.parent.name for p in REPO.glob("roles/*/molecule/default/molecule.yml")
)


def test_every_rollback_role_has_a_scenario() -> None:
    assert {"feature_flags", "caches", "plugin_backup", "plugin_restore", "smoke_test"} <= set(
        ROLES
    )


@pytest.mark.parametrize("role", ROLES)
def test_molecule_scenario(sandbox, role: str) -> None:
    env = dict(os.environ)
    # molecule shells out to ansible-* and to runbook itself: the venv's come first.
    env["PATH"] = f"{Path(sys.executable).parent}:{env.get('PATH', '')}"
    env["ANSIBLE_HOST_KEY_CHECKING"] = "True"
    # The role under test as the playbooks run it: from the collection, assembled from here.
    env["RUNBOOK_COLLECTIONS_PATH"] = str(collection.installed())
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "molecule"), "test"],
        cwd=REPO / "roles" / role,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    tail = (proc.stdout + proc.stderr)[-4000:]
    assert proc.returncode == 0, tail
    for step in ("converge", "idempotence", "verify"):
        assert f"{step}: Executed: Successful" in _plain(proc.stdout + proc.stderr), tail


def _plain(text: str) -> str:
    import re

    return re.sub(r"\x1b\[[0-9;]*m", "", text).replace("➜ ", "")
