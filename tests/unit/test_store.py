from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from runbook.errors import ExitCode, RunbookError
from runbook.events import HostOutcome
from runbook.store import MIGRATIONS, Store


def new_run(
    store: Store, run_id: str, started: str = "2026-11-27T10:00:00Z", **fields: object
) -> None:
    """A run in the record, as execution starts one (`fields` override the defaults)."""
    store.start_run(
        **{
            "run_id": run_id,
            "runbook": "status",
            "parameters": {"feature": "x"},
            "reason": "because",
            "operator": "ops",
            "inventory": "inv.yml",
            "host_limit": None,
            "check_mode": False,
            "started_at": started,
            "artifact_dir": "/tmp/a",
            **fields,
        }  # type: ignore[arg-type]
    )


def test_migrates_fresh_database_to_latest(tmp_path: Path) -> None:
    store = Store(tmp_path / "db.sqlite3")
    assert store.version == len(MIGRATIONS)
    # Opening again applies nothing and keeps the data.
    new_run(store, "r1")
    store.close()
    again = Store(tmp_path / "db.sqlite3")
    assert again.run("r1")["reason"] == "because"


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 5}")
    db.close()
    with pytest.raises(RunbookError, match="newer than this runbook") as err:
        Store(path)
    assert err.value.code == ExitCode.ENVIRONMENT


def test_corrupt_database_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(RunbookError, match="not a usable SQLite database"):
        Store(path)


def test_run_lifecycle_and_hosts(tmp_path: Path) -> None:
    store = Store(tmp_path / "db.sqlite3")
    new_run(store, "20261127T100000Z-aaaaaa")
    assert store.run("20261127T100000Z-aaaaaa")["status"] == "running"
    store.finish_run(
        "20261127T100000Z-aaaaaa",
        status="failed",
        exit_code=4,
        ended_at="2026-11-27T10:01:00Z",
        hosts=[
            HostOutcome("web-1", "alpha", "ok", ok=3),
            HostOutcome("web-2", "alpha", "unreachable", unreachable=1, message="timeout"),
        ],
        summary={"counts": {"ok": 1}},
    )
    run = store.run("20261127T100000Z")  # a unique prefix is enough
    assert run["exit_code"] == 4
    assert run["parameters"] == {"feature": "x"}
    assert [h["outcome"] for h in run["hosts"]] == ["ok", "unreachable"]
    assert run["hosts"][1]["message"] == "timeout"


def test_runs_newest_first_and_filters(tmp_path: Path) -> None:
    store = Store(tmp_path / "db.sqlite3")
    new_run(store, "a", "2026-11-27T10:00:00Z")
    new_run(store, "b", "2026-11-27T11:00:00Z")
    assert [r["run_id"] for r in store.runs()] == ["b", "a"]
    assert store.runs(runbook="other") == []
    assert len(store.runs(limit=1)) == 1


def test_unknown_and_ambiguous_ids(tmp_path: Path) -> None:
    store = Store(tmp_path / "db.sqlite3")
    new_run(store, "abc1")
    new_run(store, "abc2")
    with pytest.raises(RunbookError, match="no run 'zzz'"):
        store.run("zzz")
    with pytest.raises(RunbookError, match="more than one run"):
        store.run("abc")


def test_last_and_a_store_closes_itself(tmp_path: Path) -> None:
    with Store(tmp_path / "db.sqlite3") as store:
        new_run(store, "20261127T100000Z-aaaaaa", "2026-11-27T10:00:00Z")
        new_run(store, "20261127T110000Z-bbbbbb", "2026-11-27T11:00:00Z")
        assert store.run("last")["run_id"] == "20261127T110000Z-bbbbbb"
    with pytest.raises(sqlite3.ProgrammingError):
        store.db.execute("SELECT 1")  # closed when the block ended


def test_one_timestamp_format_and_old_stamps_migrated(tmp_path: Path) -> None:
    """Every time is written as ...Z; stamps an older runbook wrote as +00:00 are rewritten,
    so the text sorts as the times do."""
    path = tmp_path / "db.sqlite3"
    db = sqlite3.connect(path)
    timestamps = MIGRATIONS.index(next(m for m in MIGRATIONS if "replace(" in m))
    for number, migration in enumerate(MIGRATIONS[:timestamps]):
        db.executescript(migration)
        db.execute(f"PRAGMA user_version = {number + 1}")
    db.execute(
        "INSERT INTO incidents (title, priority, status, opened_at) "
        "VALUES ('old', 'P1', 'investigating', '2026-11-27T10:00:00+00:00')"
    )
    db.commit()
    db.close()
    with Store(path) as store:
        assert store.version == len(MIGRATIONS)
        [row] = store.db.execute("SELECT opened_at FROM incidents").fetchall()
        assert row[0] == "2026-11-27T10:00:00Z"
        new_run(store, "r1", "2026-11-27T10:00:00+00:00")
        assert store.run("r1")["started_at"] == "2026-11-27T10:00:00Z"


def test_the_record_and_the_state_folder_are_private(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """runbook.sqlite3 was 0644, and an existing 0755 state folder was left as it was."""
    state = tmp_path / "state"
    state.mkdir(mode=0o755)
    state.chmod(0o755)
    monkeypatch.setenv("RUNBOOK_STATE_DIR", str(state))
    monkeypatch.delenv("RUNBOOK_DB", raising=False)
    with Store() as store:
        assert store.path.parent == state
    assert state.stat().st_mode & 0o777 == 0o700
    assert (state / "runbook.sqlite3").stat().st_mode & 0o777 == 0o600


def test_extra_vars_are_recorded_with_secrets_redacted(tmp_path: Path) -> None:
    with Store(tmp_path / "db.sqlite3") as store:
        store.start_run(
            run_id="r1",
            runbook="status",
            parameters={},
            reason=None,
            operator="ops",
            inventory="inv",
            host_limit=None,
            check_mode=False,
            started_at="2026-11-27T10:00:00Z",
            artifact_dir="/tmp/a",
            extra_vars={"runbook_serial": "2", "db_password": "hunter2", "api": {"token": "t"}},
        )
        run = store.run("r1")
    assert run["extra_vars"] == {
        "runbook_serial": "2",
        "db_password": "<redacted>",
        "api": {"token": "<redacted>"},
    }
    assert run["controller"] and run["pid"]


def test_runs_whose_process_is_gone_are_abandoned(tmp_path: Path) -> None:
    """A run killed with SIGKILL stayed "running" forever."""
    import subprocess
    import sys

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)", "runbook"])
    try:
        with Store(tmp_path / "db.sqlite3") as store:
            for run_id in ("killed", "going"):
                new_run(store, run_id)
            store.db.execute("UPDATE runs SET pid = ? WHERE id = 'killed'", (dead.pid,))
            store.db.execute("UPDATE runs SET pid = ? WHERE id = 'going'", (alive.pid,))
            assert store.mark_abandoned() == ["killed"]
            assert store.run("killed")["status"] == "abandoned"
            assert store.run("killed")["ended_at"]
            assert store.run("going")["status"] == "running"
    finally:
        alive.kill()
        alive.wait()
