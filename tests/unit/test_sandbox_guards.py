from __future__ import annotations

import pytest

from runbook.errors import ExitCode, RunbookError
from runbook.sandbox import fleet, system, topology


def test_needs_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("os.geteuid", lambda: 1000)
    with pytest.raises(RunbookError, match="needs root") as err:
        fleet.up(topology.build())
    assert err.value.code == ExitCode.ENVIRONMENT


def test_needs_linux(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.platform", "darwin")
    with pytest.raises(RunbookError, match="needs Linux"):
        system.require_linux_root()


def test_failed_command_names_command_and_output() -> None:
    with pytest.raises(RunbookError, match=r"`ls /nonexistent-rb` failed \(exit 2\)"):
        system.run(["ls", "/nonexistent-rb"])
