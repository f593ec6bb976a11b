"""Confirmation on a real terminal (a pty), as an operator sees it."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pexpect

from runbook.errors import ExitCode

RUNBOOK = """
name: wipe
description: Wipe things. Used by the tests.
priority: P0
playbook: status.yml
destructive: true
"""


def test_destructive_runbook_asks_and_no_means_nothing_runs(
    tmp_path: Path, state_dir: Path
) -> None:
    (tmp_path / "runbooks").mkdir()
    (tmp_path / "runbooks" / "wipe.yml").write_text(RUNBOOK)
    (tmp_path / "hosts.yml").write_text(
        "all:\n  children:\n    a:\n      hosts:\n"
        "        web-1: {site: a}\n        web-2: {site: a}\n"
    )
    child = pexpect.spawn(
        sys.executable,
        [
            "-m",
            "runbook",
            "--project",
            str(tmp_path),
            "wipe",
            "--reason",
            "testing",
            "-i",
            str(tmp_path / "hosts.yml"),
        ],
        env=dict(os.environ),
        encoding="utf-8",
        timeout=30,
    )
    child.expect(r"wipe will change 2 hosts in 1 sites \(a\)\. Go ahead\? \[y/N\]")
    child.sendline("n")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == ExitCode.ABORTED
    assert "not confirmed: nothing was run" in (child.before or "")
    assert not (state_dir / "runs").exists()
