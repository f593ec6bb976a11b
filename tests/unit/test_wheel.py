"""The wheel carries the catalog, playbooks, roles and plugins: runbook works outside a checkout."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from tests.conftest import REPO


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel `pip wheel` builds from this checkout: a normal install, not an editable one."""
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(REPO)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    return next(out.glob("runbook-*.whl"))


def test_wheel_ships_the_content_and_finds_it(wheel: Path, tmp_path: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for needed in (
        "runbook/content/runbooks/status.yml",
        "runbook/content/playbooks/status.yml",
        "runbook/content/roles/site_status/tasks/main.yml",
        "runbook/content/ansible.cfg",
        "runbook/schemas/runbook.schema.json",
        "runbook/ansible/modules/wp_site_info.py",
        "runbook/ansible/module_utils/runbook_wp.py",
        "runbook/ansible/module_utils/runbook_scrub.py",
        "runbook/content/playbooks/gather-evidence.yml",
        "runbook/sandbox/files/wp",
        "runbook/sandbox/files/mase/mase.php",
        "runbook/content/targets/default.yml",
        "runbook/content/playbooks/common/lock.yml",
        "runbook/content/roles/runbook/vars/main.yml",
        "runbook/py.typed",
    ):
        assert needed in names, needed
    unpacked = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(unpacked)
    probe = (
        "from runbook.paths import content_dir; from runbook.catalog import load;"
        "books = load(); print(content_dir()); print(books['status'].playbook)"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(unpacked)},
    ).stdout.split()
    assert out[0] == str(unpacked / "runbook" / "content")
    assert out[1].startswith(str(unpacked))


def test_mypy_strict_passes_on_the_installed_package(wheel: Path, tmp_path: Path) -> None:
    """A client of the library, and the node code, type-check against a normal install."""
    unpacked = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(unpacked)
    client = tmp_path / "client.py"
    client.write_text(
        "from runbook.service import RunOptions, Workspace\n"
        "from runbook.service.logs import Window\n"
        "ws: Workspace = Workspace()\n"
        "options: RunOptions = RunOptions(reason='drill', limit='alpha')\n"
        "window: Window = Window(since='5m')\n"
    )
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--no-incremental",
            "--ignore-missing-imports",
            str(client),
            str(unpacked / "runbook" / "ansible" / "module_utils"),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "MYPYPATH": str(unpacked)},
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
