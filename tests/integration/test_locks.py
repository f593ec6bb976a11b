"""No run leaves its site locks held, whatever failed; a lock whose run is over is taken over,
recorded, without --force-unlock; locks show in `runbook status`."""

from __future__ import annotations

from pathlib import Path

from tests.integration.streamed import RESTORE_STARTS, Streamed, kill_controller
from tests.integration.test_rollback import NODES, backups, fleet_, held_lock, p0, version

from runbook.errors import ExitCode

__all__ = ["fleet_"]


def held_locks(sandbox) -> list[Path]:
    return [p for n in NODES for p in (backups(sandbox, n).parent / "locks").glob("*.lock")]


def test_a_run_that_fails_everywhere_releases_its_locks(fleet_, runbook_cli) -> None:
    """A mistyped backup name fails every host's restore, Ansible ends the playbook before its
    release play, and the next P0 rollback stopped with exit 6 for 30 minutes."""
    failed = p0(runbook_cli, "--backup", "mase-backup-20000101-000000.tar.gz")
    assert failed.code == ExitCode.HOSTS_FAILED, failed.err + failed.out
    sites = failed.json()["sites"]
    assert sites["alpha"]["lock_released"] and sites["beta"]["lock_released"]
    assert held_locks(fleet_) == []
    again = p0(runbook_cli)
    assert again.code == 0, again.err + again.out
    assert {version(fleet_, n) for n in NODES} == {"2.0.1"}


def test_a_run_whose_database_is_down_releases_its_locks(fleet_, sandbox, runbook_cli) -> None:
    with sandbox.broken("db-stop", "beta"):
        broken = p0(runbook_cli)
        assert broken.code != 0
        assert held_locks(fleet_) == []


def test_a_dead_controllers_lock_is_taken_over_and_recorded(fleet_, runbook_cli) -> None:
    """kill -9 of the controller left the locks held and the run "running" forever."""
    stream = Streamed("p0-rollback", "--reason", "dies", "--yes", "-e", "runbook_serial=1")
    stream.wait_for(RESTORE_STARTS)
    kill_controller(stream)
    assert held_locks(fleet_), "the killed run held its locks"
    again = p0(runbook_cli)
    assert again.code == 0, again.err + again.out
    taken = again.json()["sites"]["alpha"]["lock_taken_over"]
    assert taken["why"] == "its run is over (abandoned)"
    dead = taken["from"]["run_id"]
    assert runbook_cli("runs", "show", dead, "--json").json()["status"] == "abandoned"
    assert held_locks(fleet_) == []
    assert {version(fleet_, n) for n in NODES} == {"2.0.1"}


def test_status_shows_held_locks(fleet_, runbook_cli) -> None:
    held_lock(fleet_)
    shown = runbook_cli("status", "--json")
    assert shown.code == 0, shown.err
    [lock] = shown.json()["report"]["sites"]["alpha"]["locks"]
    assert lock["run_id"] == "20261127T090000Z-other" and lock["node"] == "alpha-1"
    assert "locks" not in shown.json()["report"]["sites"]["beta"]
    text = runbook_cli("status")
    assert "LOCKED: site alpha by run 20261127T090000Z-other" in text.out
