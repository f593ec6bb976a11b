"""The embedded run record: SQLite, with numbered migrations (PRAGMA user_version)."""

from __future__ import annotations

import json
import os
import re
import socket
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any, cast

from runbook import clock
from runbook.errors import ExitCode, RunbookError
from runbook.events import HostOutcome
from runbook.paths import private_dir, state_dir

#: Append-only: migration N brings a database from user_version N to N + 1. Never edit one.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE runs (
        id            TEXT PRIMARY KEY,
        runbook       TEXT NOT NULL,
        parameters    TEXT NOT NULL,          -- JSON object
        reason        TEXT,
        operator      TEXT NOT NULL,
        inventory     TEXT NOT NULL,
        host_limit    TEXT,
        check_mode    INTEGER NOT NULL DEFAULT 0,
        started_at    TEXT NOT NULL,          -- UTC, ISO 8601
        ended_at      TEXT,
        status        TEXT NOT NULL,          -- running, successful, failed, interrupted, error
        exit_code     INTEGER,
        artifact_dir  TEXT,
        summary       TEXT                    -- JSON object
    );
    CREATE INDEX runs_started ON runs (started_at);
    CREATE TABLE run_hosts (
        run_id       TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
        host         TEXT NOT NULL,
        site         TEXT,
        outcome      TEXT NOT NULL,           -- ok, changed, failed, unreachable, skipped
        ok           INTEGER NOT NULL DEFAULT 0,
        changed      INTEGER NOT NULL DEFAULT 0,
        failed       INTEGER NOT NULL DEFAULT 0,
        unreachable  INTEGER NOT NULL DEFAULT 0,
        skipped      INTEGER NOT NULL DEFAULT 0,
        last_task    TEXT,
        message      TEXT,
        PRIMARY KEY (run_id, host)
    );
    """,
    """
    CREATE TABLE decisions (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        run_id      TEXT REFERENCES runs (id) ON DELETE SET NULL,
        created_at  TEXT NOT NULL,
        verdict     TEXT NOT NULL,            -- green, yellow, red, inconclusive
        rollback    INTEGER NOT NULL,         -- an automatic trigger fired
        fired       TEXT NOT NULL,            -- JSON list of rule names
        rules       TEXT NOT NULL,            -- JSON: every rule with its result and evidence
        inputs      TEXT NOT NULL             -- JSON: window, counts, rates, baseline, thresholds
    );
    CREATE INDEX decisions_created ON decisions (created_at);
    CREATE TABLE baselines (
        host         TEXT PRIMARY KEY,
        site         TEXT,
        captured_at  TEXT NOT NULL,
        run_id       TEXT,
        metrics      TEXT NOT NULL,           -- JSON: metric -> value
        fingerprints TEXT NOT NULL            -- JSON list: the error fingerprints seen
    );
    """,
    """
    CREATE TABLE scan_state (
        host        TEXT NOT NULL,
        path        TEXT NOT NULL,
        state       TEXT NOT NULL,            -- JSON: inode, head fingerprint, offset
        updated_at  TEXT NOT NULL,
        PRIMARY KEY (host, path)
    );
    """,
    """
    CREATE TABLE incidents (
        id               INTEGER PRIMARY KEY AUTOINCREMENT,
        title            TEXT NOT NULL,
        priority         TEXT NOT NULL,       -- P0 .. P3
        status           TEXT NOT NULL,       -- investigating, mitigating, monitoring, resolved
        impact           TEXT,
        action_taken     TEXT,
        eta              TEXT,
        owner            TEXT,
        level            INTEGER NOT NULL DEFAULT 1,   -- escalation: 1 on-call, 2 lead, 3 CTO
        classification   TEXT,                -- which of the document's examples matched
        opened_at        TEXT NOT NULL,
        acknowledged_at  TEXT,
        mitigated_at     TEXT,
        resolved_at      TEXT,
        root_cause       TEXT,
        resolution       TEXT,
        prevention       TEXT,
        lessons          TEXT,
        last_reminder_at TEXT
    );
    CREATE TABLE incident_events (
        id           INTEGER PRIMARY KEY AUTOINCREMENT,
        incident_id  INTEGER NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
        at           TEXT NOT NULL,           -- UTC, ISO 8601
        kind         TEXT NOT NULL,           -- opened, status, escalated, run, host, flags ...
        summary      TEXT NOT NULL,
        data         TEXT                     -- JSON: the evidence
    );
    CREATE INDEX incident_events_at ON incident_events (incident_id, at);
    ALTER TABLE runs ADD COLUMN incident_id INTEGER REFERENCES incidents (id)
    """,
    """
    CREATE TABLE checklist_ticks (
        id        INTEGER PRIMARY KEY AUTOINCREMENT,
        schedule  TEXT NOT NULL,              -- daily, weekly, monthly
        period    TEXT NOT NULL,              -- the day, ISO week or month it counts for
        item      TEXT NOT NULL,
        who       TEXT NOT NULL,
        at        TEXT NOT NULL,
        note      TEXT,
        UNIQUE (schedule, period, item)
    );
    """,
    # One timestamp format (runbook.clock): incidents were written as ...+00:00, runs as ...Z,
    # and the text sorted wrongly across the two.
    "".join(
        f"UPDATE {table} SET {column} = replace({column}, '+00:00', 'Z') "  # noqa: S608
        f"WHERE {column} LIKE '%+00:00';"
        for table, column in (
            ("incidents", "opened_at"),
            ("incidents", "acknowledged_at"),
            ("incidents", "mitigated_at"),
            ("incidents", "resolved_at"),
            ("incidents", "last_reminder_at"),
            ("incident_events", "at"),
            ("checklist_ticks", "at"),
            ("runs", "started_at"),
            ("runs", "ended_at"),
            ("decisions", "created_at"),
        )
    ),
    # -e as given (JSON, secrets redacted by name); the machine and process that ran it (a run
    # still "running" whose process is gone is abandoned). No SQL comments in ALTER TABLE:
    # SQLite keeps them in the table's schema text.
    "ALTER TABLE runs ADD COLUMN extra_vars TEXT;"
    "ALTER TABLE runs ADD COLUMN controller TEXT;"
    "ALTER TABLE runs ADD COLUMN pid INTEGER",
    # The monitor: who runs it for a fleet (one at a time), each cycle's measurements (a time
    # series), each site's loop-protection state, where its scans stopped, what it decided.
    """
    CREATE TABLE monitor_lease (
        fleet          TEXT PRIMARY KEY,      -- the inventory and limit it watches
        owner          TEXT NOT NULL,         -- the operator
        controller     TEXT NOT NULL,         -- the machine
        pid            INTEGER NOT NULL,
        started_at     TEXT NOT NULL,
        heartbeat_at   TEXT NOT NULL,
        last_cycle_at  TEXT
    );
    CREATE TABLE monitor_cycles (
        id        INTEGER PRIMARY KEY AUTOINCREMENT,
        fleet     TEXT NOT NULL,
        at        TEXT NOT NULL,
        dry_run   INTEGER NOT NULL,
        run_id    TEXT,                       -- the log-scan run
        verdict   TEXT NOT NULL,
        sites     TEXT NOT NULL               -- JSON: per site and host, values and verdicts
    );
    CREATE INDEX monitor_cycles_at ON monitor_cycles (fleet, at);
    CREATE TABLE monitor_sites (
        fleet       TEXT NOT NULL,
        site        TEXT NOT NULL,
        state       TEXT NOT NULL,            -- JSON: streaks, actions, cooldown, breaker
        updated_at  TEXT NOT NULL,
        PRIMARY KEY (fleet, site)
    );
    CREATE TABLE monitor_offsets (
        fleet       TEXT NOT NULL,
        host        TEXT NOT NULL,
        state       TEXT NOT NULL,            -- JSON: log path -> inode, head, offset
        updated_at  TEXT NOT NULL,
        PRIMARY KEY (fleet, host)
    );
    CREATE TABLE monitor_events (
        id           INTEGER PRIMARY KEY AUTOINCREMENT,
        fleet        TEXT NOT NULL,
        site         TEXT,
        at           TEXT NOT NULL,
        kind         TEXT NOT NULL,           -- decision, would, action, verified, escalated ...
        summary      TEXT NOT NULL,
        data         TEXT,                    -- JSON: the evidence
        incident_id  INTEGER,
        run_id       TEXT
    );
    CREATE INDEX monitor_events_at ON monitor_events (fleet, at);
    """,
    # Progressive delivery: a rollout's plan and where it stands (it survives its process),
    # and what happened at each step (every write, gate and decision, with evidence).
    """
    CREATE TABLE rollouts (
        id           INTEGER PRIMARY KEY AUTOINCREMENT,
        kind         TEXT NOT NULL,           -- rollout (a feature's percentage) or deploy
        subject      TEXT NOT NULL,           -- the feature, or the package's version
        sites        TEXT NOT NULL,           -- JSON list, in waves order
        status       TEXT NOT NULL,           -- running, paused, completed, aborted, failed
        plan         TEXT NOT NULL,           -- JSON: steps, waves, analysis, min samples
        state        TEXT NOT NULL,           -- JSON: the step, the wave, the phase, written
        reason       TEXT NOT NULL,
        operator     TEXT NOT NULL,
        inventory    TEXT NOT NULL,
        created_at   TEXT NOT NULL,
        updated_at   TEXT NOT NULL,
        controller   TEXT,
        pid          INTEGER,
        incident_id  INTEGER
    );
    CREATE TABLE rollout_events (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        rollout_id  INTEGER NOT NULL REFERENCES rollouts (id) ON DELETE CASCADE,
        at          TEXT NOT NULL,
        kind        TEXT NOT NULL,            -- started, wrote, gate, paused, promoted ...
        summary     TEXT NOT NULL,
        data        TEXT,
        run_id      TEXT
    );
    CREATE INDEX rollout_events_at ON rollout_events (rollout_id, at);
    """,
    # Investigations: what `runbook investigate` gathered (the bundle on disk), its suspect.
    """
    CREATE TABLE investigations (
        id           INTEGER PRIMARY KEY AUTOINCREMENT,
        at           TEXT NOT NULL,
        incident_id  INTEGER,
        since        TEXT NOT NULL,
        run_id       TEXT,
        summary      TEXT NOT NULL,
        suspect      TEXT,                    -- JSON, or NULL when none was found
        bundle       TEXT,                    -- the evidence bundle's path
        bundle_sha256 TEXT
    );
    CREATE INDEX investigations_incident ON investigations (incident_id, at);
    """,
)


SECRET_NAME = re.compile(r"pass|secret|token|key|credential|auth|cookie", re.IGNORECASE)


def redact(values: Any) -> Any:
    """`values` with every value under a secret-looking name replaced (nested too)."""
    if isinstance(values, dict):
        return {
            k: "<redacted>" if SECRET_NAME.search(str(k)) else redact(v) for k, v in values.items()
        }
    if isinstance(values, list):
        return [redact(v) for v in values]
    return values


def process_alive(pid: int | None) -> bool:
    """Whether `pid` is a live runbook process on this machine (a reused pid is not)."""
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            return b"runbook" in handle.read()
    except OSError:
        return True  # no /proc: the signal said it exists


def default_path() -> Path:
    env = os.environ.get("RUNBOOK_DB")
    return Path(env) if env else state_dir() / "runbook.sqlite3"


class Store:
    """The run record. One connection per Store; every write is its own transaction.

    A context manager: `with Store(path) as store: ...` closes the connection however the
    block ends.
    """

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or default_path()
        try:
            if self.path.parent == state_dir():
                private_dir(self.path.parent)
            else:
                self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            # 0600 from the first byte: the record holds reasons, operators and incidents.
            os.close(os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600))
            if self.path.stat().st_mode & 0o077:
                self.path.chmod(0o600)
            self.db = sqlite3.connect(self.path, timeout=10, isolation_level=None)
        except (OSError, sqlite3.Error) as exc:
            raise RunbookError(
                f"cannot open the run record {self.path}: {exc}", ExitCode.ENVIRONMENT
            ) from None
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA foreign_keys = ON")
        self.db.execute("PRAGMA busy_timeout = 10000")
        try:
            self.db.execute("PRAGMA journal_mode = WAL")
            self.migrate()
        except sqlite3.DatabaseError as exc:
            raise RunbookError(
                f"the run record {self.path} is not a usable SQLite database: {exc}",
                ExitCode.ENVIRONMENT,
            ) from None

    @property
    def version(self) -> int:
        row = self.db.execute("PRAGMA user_version").fetchone()
        return int(row[0])

    def migrate(self) -> None:
        current = self.version
        if current > len(MIGRATIONS):
            raise RunbookError(
                f"the run record {self.path} is at schema {current}, newer than this runbook "
                f"({len(MIGRATIONS)}): upgrade runbook",
                ExitCode.ENVIRONMENT,
            )
        for number in range(current, len(MIGRATIONS)):
            # One transaction per migration: the schema and its version move together.
            with self.transaction():
                for statement in MIGRATIONS[number].split(";"):
                    if statement.strip():
                        self.db.execute(statement)
                self.db.execute(f"PRAGMA user_version = {number + 1}")

    @contextmanager
    def transaction(self) -> Iterator[None]:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # -- runs ------------------------------------------------------------------------------

    def start_run(
        self,
        *,
        run_id: str,
        runbook: str,
        parameters: dict[str, Any],
        reason: str | None,
        operator: str,
        inventory: str,
        host_limit: str | None,
        check_mode: bool,
        started_at: str,
        artifact_dir: str,
        extra_vars: dict[str, Any] | None = None,
    ) -> None:
        with self.transaction():
            self.db.execute(
                "INSERT INTO runs (id, runbook, parameters, reason, operator, inventory, "
                "host_limit, check_mode, started_at, status, artifact_dir, extra_vars, "
                "controller, pid) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'running', ?, ?, ?, ?)",
                (
                    run_id,
                    runbook,
                    json.dumps(parameters),
                    reason,
                    operator,
                    inventory,
                    host_limit,
                    int(check_mode),
                    clock.stamp(started_at),
                    artifact_dir,
                    json.dumps(redact(extra_vars or {}), default=str),
                    socket.gethostname(),
                    os.getpid(),
                ),
            )

    def finish_run(
        self,
        run_id: str,
        *,
        status: str,
        exit_code: int,
        ended_at: str,
        hosts: list[HostOutcome],
        summary: dict[str, Any],
    ) -> None:
        with self.transaction():
            self.db.execute(
                "UPDATE runs SET status = ?, exit_code = ?, ended_at = ?, summary = ? WHERE id = ?",
                (status, exit_code, clock.stamp(ended_at), json.dumps(summary), run_id),
            )
            self.db.execute("DELETE FROM run_hosts WHERE run_id = ?", (run_id,))
            self.db.executemany(
                "INSERT INTO run_hosts (run_id, host, site, outcome, ok, changed, failed, "
                "unreachable, skipped, last_task, message) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                [
                    (
                        run_id,
                        h.host,
                        h.site,
                        h.outcome,
                        h.ok,
                        h.changed,
                        h.failed,
                        h.unreachable,
                        h.skipped,
                        h.last_task,
                        h.message,
                    )
                    for h in hosts
                ],
            )

    def mark_abandoned(self) -> list[str]:
        """Runs of this controller still "running" whose process is gone: `abandoned`, with
        the time it was noticed. Returns their ids."""
        here = socket.gethostname()
        gone = [
            row["id"]
            for row in self.db.execute(
                "SELECT id, pid FROM runs WHERE status = 'running' AND controller = ?", (here,)
            )
            if not process_alive(row["pid"])
        ]
        if gone:
            with self.transaction():
                self.db.executemany(
                    "UPDATE runs SET status = 'abandoned', ended_at = ? WHERE id = ?",
                    [(clock.stamp(), run_id) for run_id in gone],
                )
        return gone

    def ended_runs(self, within_seconds: float) -> dict[str, str]:
        """Runs started in the last `within_seconds` that are over: run id -> status."""
        cutoff = clock.stamp(clock.now() - timedelta(seconds=within_seconds))
        return {
            row["id"]: row["status"]
            for row in self.db.execute(
                "SELECT id, status FROM runs WHERE status != 'running' AND started_at >= ?",
                (cutoff,),
            )
        }

    def runs(self, limit: int = 20, runbook: str | None = None) -> list[dict[str, Any]]:
        query = "SELECT * FROM runs"
        args: list[Any] = []
        if runbook:
            query += " WHERE runbook = ?"
            args.append(runbook)
        query += " ORDER BY started_at DESC, rowid DESC LIMIT ?"
        args.append(limit)
        return [self._run_dict(r) for r in self.db.execute(query, args)]

    def run(self, run_id: str) -> dict[str, Any]:
        """One run by its id, any unique prefix of it, or `last` (the newest)."""
        if run_id == "last":
            newest = self.runs(1)
            if not newest:
                raise RunbookError(f"no runs yet in the run record {self.path}")
            run_id = newest[0]["run_id"]
        rows = self.db.execute(
            "SELECT * FROM runs WHERE id = ? OR id LIKE ? ORDER BY started_at DESC LIMIT 2",
            (run_id, run_id.replace("%", "").replace("_", r"\_") + "%"),
        ).fetchall()
        exact = [r for r in rows if r["id"] == run_id]
        if exact:
            rows = exact
        if not rows:
            raise RunbookError(f"no run {run_id!r} in the run record {self.path}")
        if len(rows) > 1:
            raise RunbookError(
                f"{run_id!r} matches more than one run ({rows[0]['id']}, {rows[1]['id']}, ...): "
                "give more of the id, or `last`"
            )
        run = self._run_dict(rows[0])
        run["hosts"] = [
            dict(h)
            for h in self.db.execute(
                "SELECT host, site, outcome, ok, changed, failed, unreachable, skipped, "
                "last_task, message FROM run_hosts WHERE run_id = ? ORDER BY host",
                (run["run_id"],),
            )
        ]
        return run

    @staticmethod
    def _run_dict(row: sqlite3.Row) -> dict[str, Any]:
        run = dict(row)
        # One name for a run's id everywhere: run documents say run_id.
        run = {"run_id": run.pop("id"), **run}
        run["parameters"] = json.loads(run["parameters"])
        run["summary"] = json.loads(run["summary"]) if run["summary"] else None
        run["extra_vars"] = json.loads(run["extra_vars"]) if run.get("extra_vars") else {}
        run["check_mode"] = bool(run["check_mode"])
        return run

    # -- health -------------------------------------------------------------------------------

    def add_decision(
        self,
        *,
        run_id: str | None,
        created_at: str,
        verdict: str,
        rollback: bool,
        fired: list[str],
        rules: list[dict[str, Any]],
        inputs: dict[str, Any],
    ) -> int:
        with self.transaction():
            cursor = self.db.execute(
                "INSERT INTO decisions (run_id, created_at, verdict, rollback, fired, rules, "
                "inputs) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    run_id,
                    clock.stamp(created_at),
                    verdict,
                    int(rollback),
                    json.dumps(fired),
                    json.dumps(rules, default=str),
                    json.dumps(inputs, default=str),
                ),
            )
        return int(cursor.lastrowid or 0)

    def decisions(self, limit: int = 20) -> list[dict[str, Any]]:
        rows = self.db.execute(
            "SELECT * FROM decisions ORDER BY id DESC LIMIT ?", (limit,)
        ).fetchall()
        out = []
        for row in rows:
            item = dict(row)
            for key in ("fired", "rules", "inputs"):
                item[key] = json.loads(item[key])
            item["rollback"] = bool(item["rollback"])
            out.append(item)
        return out

    def set_baseline(
        self,
        *,
        host: str,
        site: str | None,
        captured_at: str,
        run_id: str,
        metrics: dict[str, Any],
        fingerprints: list[str],
    ) -> None:
        with self.transaction():
            self.db.execute(
                "INSERT OR REPLACE INTO baselines (host, site, captured_at, run_id, metrics, "
                "fingerprints) VALUES (?, ?, ?, ?, ?, ?)",
                (
                    host,
                    site,
                    clock.stamp(captured_at),
                    run_id,
                    json.dumps(metrics),
                    json.dumps(fingerprints),
                ),
            )

    def baselines(self) -> dict[str, dict[str, Any]]:
        out = {}
        for row in self.db.execute("SELECT * FROM baselines"):
            item = dict(row)
            item["metrics"] = json.loads(item["metrics"])
            item["fingerprints"] = json.loads(item["fingerprints"])
            out[item["host"]] = item
        return out

    def scan_states(self) -> dict[str, dict[str, Any]]:
        """host -> log path -> where the last incremental scan stopped."""
        out: dict[str, dict[str, Any]] = {}
        for row in self.db.execute("SELECT host, path, state FROM scan_state"):
            out.setdefault(row["host"], {})[row["path"]] = json.loads(row["state"])
        return out

    def set_scan_states(self, host: str, states: dict[str, Any], updated_at: str) -> None:
        with self.transaction():
            self.db.executemany(
                "INSERT OR REPLACE INTO scan_state (host, path, state, updated_at) "
                "VALUES (?, ?, ?, ?)",
                [
                    (host, path, json.dumps(state), clock.stamp(updated_at))
                    for path, state in states.items()
                ],
            )

    # -- checklists ------------------------------------------------------------------------------

    def tick_checklist(
        self, schedule: str, period: str, items: list[str], who: str, note: str | None
    ) -> None:
        """Tick items done for a period; an item ticked already keeps its first tick."""
        at = clock.stamp()
        with self.transaction():
            self.db.executemany(
                "INSERT OR IGNORE INTO checklist_ticks (schedule, period, item, who, at, note) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [(schedule, period, item, who, at, note) for item in items],
            )

    def checklist_ticks(self, schedule: str, period: str) -> dict[str, dict[str, Any]]:
        """item -> who ticked it, when, with which note."""
        return {
            row["item"]: dict(row)
            for row in self.db.execute(
                "SELECT item, who, at, note FROM checklist_ticks WHERE schedule = ? AND period = ?",
                (schedule, period),
            )
        }

    # -- the monitor ----------------------------------------------------------------------------

    def take_lease(
        self, fleet: str, owner: str, stale_seconds: float
    ) -> tuple[bool, dict[str, Any] | None]:
        """Hold the fleet's monitor lease. Returns (taken, the holder before): taken False
        means a live monitor holds it; taken with a holder means a stale one was taken over.
        A holder on this machine whose process is gone is stale at once."""
        now = clock.now()
        here = socket.gethostname()
        with self.transaction():
            row = self.db.execute(
                "SELECT * FROM monitor_lease WHERE fleet = ?", (fleet,)
            ).fetchone()
            holder = dict(row) if row else None
            if holder is not None:
                if holder["controller"] == here and holder["pid"] == os.getpid():
                    holder = None  # ours already
                else:
                    age = (now - clock.parse(holder["heartbeat_at"])).total_seconds()
                    gone = holder["controller"] == here and not process_alive(holder["pid"])
                    if age < stale_seconds and not gone:
                        holder["heartbeat_age_seconds"] = round(age, 1)
                        return False, holder
                    holder["heartbeat_age_seconds"] = round(age, 1)
            self.db.execute(
                "INSERT OR REPLACE INTO monitor_lease (fleet, owner, controller, pid, "
                "started_at, heartbeat_at, last_cycle_at) VALUES (?, ?, ?, ?, ?, ?, NULL)",
                (fleet, owner, here, os.getpid(), clock.stamp(now), clock.stamp(now)),
            )
        return True, holder

    def heartbeat(self, fleet: str, cycle: bool = False) -> bool:
        """Renew our lease (and, with `cycle`, say a cycle ended). False: it is not ours."""
        now = clock.stamp()
        with self.transaction():
            cursor = self.db.execute(
                "UPDATE monitor_lease SET heartbeat_at = ?, "
                "last_cycle_at = CASE WHEN ? THEN ? ELSE last_cycle_at END "
                "WHERE fleet = ? AND controller = ? AND pid = ?",
                (now, int(cycle), now, fleet, socket.gethostname(), os.getpid()),
            )
        return cursor.rowcount == 1

    def release_lease(self, fleet: str) -> None:
        with self.transaction():
            self.db.execute(
                "DELETE FROM monitor_lease WHERE fleet = ? AND controller = ? AND pid = ?",
                (fleet, socket.gethostname(), os.getpid()),
            )

    def leases(self) -> list[dict[str, Any]]:
        return [dict(r) for r in self.db.execute("SELECT * FROM monitor_lease ORDER BY fleet")]

    def finish_cycle(
        self,
        *,
        fleet: str,
        at: str,
        dry_run: bool,
        run_id: str | None,
        verdict: str,
        sites: dict[str, Any],
        offsets: dict[str, dict[str, Any]],
    ) -> int:
        """Store a cycle and where its scans stopped, together: a cycle that is not stored
        has not moved the offsets, so its lines are read again."""
        with self.transaction():
            cursor = self.db.execute(
                "INSERT INTO monitor_cycles (fleet, at, dry_run, run_id, verdict, sites) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (fleet, clock.stamp(at), int(dry_run), run_id, verdict, json.dumps(sites)),
            )
            self.db.executemany(
                "INSERT OR REPLACE INTO monitor_offsets (fleet, host, state, updated_at) "
                "VALUES (?, ?, ?, ?)",
                [(fleet, h, json.dumps(st), clock.stamp(at)) for h, st in offsets.items()],
            )
        return int(cursor.lastrowid or 0)

    def cycles(
        self, fleet: str | None = None, since: str | None = None, limit: int = 1000
    ) -> list[dict[str, Any]]:
        """Cycles, oldest first (of one fleet, since a time)."""
        out = []
        for item in self._newest("monitor_cycles", limit, fleet=fleet, since=since):
            item["sites"] = json.loads(item["sites"])
            item["dry_run"] = bool(item["dry_run"])
            out.append(item)
        return out

    def _newest(
        self, table: str, limit: int, since: str | None = None, **equal: str | None
    ) -> list[dict[str, Any]]:
        """The newest `limit` rows of a monitor table, oldest first, filtered by its `at`
        and by columns equal to the values given (None: not filtered)."""
        query, args = f"SELECT * FROM {table} WHERE 1 = 1", []  # noqa: S608 (our names)
        for column, value in equal.items():
            if value is not None:
                query += f" AND {column} = ?"
                args.append(value)
        if since is not None:
            query += " AND at >= ?"
            args.append(clock.stamp(since))
        rows = self.db.execute(
            f"SELECT * FROM ({query} ORDER BY id DESC LIMIT ?) ORDER BY id",  # noqa: S608
            (*args, limit),
        ).fetchall()
        return [dict(row) for row in rows]

    def monitor_offsets(self, fleet: str) -> dict[str, dict[str, Any]]:
        return {
            row["host"]: json.loads(row["state"])
            for row in self.db.execute(
                "SELECT host, state FROM monitor_offsets WHERE fleet = ?", (fleet,)
            )
        }

    def site_states(self, fleet: str) -> dict[str, dict[str, Any]]:
        return {
            row["site"]: json.loads(row["state"])
            for row in self.db.execute(
                "SELECT site, state FROM monitor_sites WHERE fleet = ?", (fleet,)
            )
        }

    def set_site_state(self, fleet: str, site: str, state: dict[str, Any]) -> None:
        with self.transaction():
            self.db.execute(
                "INSERT OR REPLACE INTO monitor_sites (fleet, site, state, updated_at) "
                "VALUES (?, ?, ?, ?)",
                (fleet, site, json.dumps(state, default=str), clock.stamp()),
            )

    def add_monitor_event(
        self,
        *,
        fleet: str,
        site: str | None,
        kind: str,
        summary: str,
        data: dict[str, Any] | None = None,
        incident_id: int | None = None,
        run_id: str | None = None,
        at: str | None = None,
    ) -> int:
        with self.transaction():
            cursor = self.db.execute(
                "INSERT INTO monitor_events (fleet, site, at, kind, summary, data, "
                "incident_id, run_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    fleet,
                    site,
                    clock.stamp(at),
                    kind,
                    summary,
                    json.dumps(data or {}, default=str),
                    incident_id,
                    run_id,
                ),
            )
        return int(cursor.lastrowid or 0)

    def monitor_events(
        self,
        fleet: str | None = None,
        since: str | None = None,
        limit: int = 200,
        run_id: str | None = None,
    ) -> list[dict[str, Any]]:
        """The monitor's decisions and actions, oldest first (of a fleet, since a time, of
        one run: the cycle's scan or the action's run)."""
        out = []
        for item in self._newest("monitor_events", limit, fleet=fleet, since=since, run_id=run_id):
            item["data"] = json.loads(item["data"]) if item["data"] else {}
            out.append(item)
        return out

    # -- rollouts -------------------------------------------------------------------------------

    def start_rollout(
        self,
        *,
        kind: str,
        subject: str,
        sites: list[str],
        plan: dict[str, Any],
        state: dict[str, Any],
        reason: str,
        operator: str,
        inventory: str,
    ) -> int:
        """A new rollout, held by this process. One per subject and site at a time: an active
        one on any of these sites refuses, naming itself."""
        now = clock.stamp()
        with self.transaction():
            for row in self.db.execute(
                "SELECT id, sites, status, operator FROM rollouts WHERE kind = ? AND subject = ? "
                "AND status IN ('running', 'paused')",
                (kind, subject),
            ):
                overlap = sorted(set(json.loads(row["sites"])) & set(sites))
                if overlap:
                    raise RunbookError(
                        f"{kind} {row['id']} of {subject} is {row['status']} on "
                        f"{', '.join(overlap)} (started by {row['operator']}): resume, promote "
                        f"or abort it first (runbook rollout status {row['id']})",
                        ExitCode.LOCK_HELD,
                    )
            cursor = self.db.execute(
                "INSERT INTO rollouts (kind, subject, sites, status, plan, state, reason, "
                "operator, inventory, created_at, updated_at, controller, pid) "
                "VALUES (?, ?, ?, 'running', ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    kind,
                    subject,
                    json.dumps(sites),
                    json.dumps(plan),
                    json.dumps(state),
                    reason,
                    operator,
                    inventory,
                    now,
                    now,
                    socket.gethostname(),
                    os.getpid(),
                ),
            )
        return int(cursor.lastrowid or 0)

    def rollout(self, rollout_id: int) -> dict[str, Any]:
        row = self.db.execute("SELECT * FROM rollouts WHERE id = ?", (rollout_id,)).fetchone()
        if row is None:
            raise RunbookError(f"no rollout {rollout_id} in the run record {self.path}")
        return self._rollout_dict(row)

    def rollouts(self, limit: int = 50) -> list[dict[str, Any]]:
        return [
            self._rollout_dict(r)
            for r in self.db.execute("SELECT * FROM rollouts ORDER BY id DESC LIMIT ?", (limit,))
        ]

    @staticmethod
    def _rollout_dict(row: sqlite3.Row) -> dict[str, Any]:
        item = dict(row)
        for key in ("sites", "plan", "state"):
            item[key] = json.loads(item[key])
        return item

    def hold_rollout(self, rollout_id: int) -> dict[str, Any]:
        """Make this process the rollout's driver (resume). A live driver on this machine
        refuses."""
        with self.transaction():
            current = self.rollout(rollout_id)
            here = socket.gethostname()
            if (
                current["controller"] == here
                and current["pid"] != os.getpid()
                and process_alive(current["pid"])
            ):
                raise RunbookError(
                    f"rollout {rollout_id} is being driven by pid {current['pid']} on {here}",
                    ExitCode.LOCK_HELD,
                )
            self.db.execute(
                "UPDATE rollouts SET controller = ?, pid = ?, updated_at = ? WHERE id = ?",
                (here, os.getpid(), clock.stamp(), rollout_id),
            )
        return self.rollout(rollout_id)

    def update_rollout(
        self,
        rollout_id: int,
        *,
        status: str | None = None,
        state: dict[str, Any] | None = None,
        incident_id: int | None = None,
        expect: tuple[str, ...] | None = None,
        event: tuple[str, str, dict[str, Any] | None, str | None] | None = None,
    ) -> dict[str, Any]:
        """Change a rollout's status and/or state in one transaction. With `expect`, the status
        changes only from those (another process may have paused or aborted it meanwhile);
        the state is always written: what was done stays recorded."""
        with self.transaction():
            current = self.rollout(rollout_id)
            if expect is not None and current["status"] not in expect:
                status = None
            self.db.execute(
                "UPDATE rollouts SET status = ?, state = ?, incident_id = ?, updated_at = ? "
                "WHERE id = ?",
                (
                    status or current["status"],
                    json.dumps(state if state is not None else current["state"]),
                    incident_id if incident_id is not None else current["incident_id"],
                    clock.stamp(),
                    rollout_id,
                ),
            )
            if event is not None:
                # The event and the state it describes together: a process killed between
                # them must not leave a write recorded as not done (or the reverse).
                self._insert_rollout_event(rollout_id, *event)
        return self.rollout(rollout_id)

    def add_rollout_event(
        self,
        rollout_id: int,
        kind: str,
        summary: str,
        data: dict[str, Any] | None = None,
        run_id: str | None = None,
    ) -> None:
        with self.transaction():
            self._insert_rollout_event(rollout_id, kind, summary, data, run_id)

    def _insert_rollout_event(
        self,
        rollout_id: int,
        kind: str,
        summary: str,
        data: dict[str, Any] | None,
        run_id: str | None,
    ) -> None:
        """One event row, inside the caller's transaction."""
        self.db.execute(
            "INSERT INTO rollout_events (rollout_id, at, kind, summary, data, run_id) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (rollout_id, clock.stamp(), kind, summary, json.dumps(data or {}, default=str), run_id),
        )

    def add_investigation(
        self,
        *,
        incident_id: int | None,
        since: str,
        run_id: str | None,
        summary: str,
        suspect: dict[str, Any] | None,
    ) -> int:
        with self.transaction():
            cursor = self.db.execute(
                "INSERT INTO investigations (at, incident_id, since, run_id, summary, suspect) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (
                    clock.stamp(),
                    incident_id,
                    since,
                    run_id,
                    summary,
                    json.dumps(suspect) if suspect is not None else None,
                ),
            )
        return int(cursor.lastrowid or 0)

    def set_investigation_bundle(self, investigation_id: int, bundle: str, sha256: str) -> None:
        with self.transaction():
            self.db.execute(
                "UPDATE investigations SET bundle = ?, bundle_sha256 = ? WHERE id = ?",
                (bundle, sha256, investigation_id),
            )

    def investigations(self, incident_id: int | None = None) -> list[dict[str, Any]]:
        """Investigations, newest first (of one incident, when given)."""
        query, args = "SELECT * FROM investigations", cast(tuple[Any, ...], ())
        if incident_id is not None:
            query, args = query + " WHERE incident_id = ?", (incident_id,)
        out = []
        for row in self.db.execute(query + " ORDER BY id DESC", args):
            item = dict(row)
            item["suspect"] = json.loads(item["suspect"]) if item["suspect"] else None
            out.append(item)
        return out

    def rollout_events(self, rollout_id: int) -> list[dict[str, Any]]:
        out = []
        for row in self.db.execute(
            "SELECT * FROM rollout_events WHERE rollout_id = ? ORDER BY id", (rollout_id,)
        ):
            item = dict(row)
            item["data"] = json.loads(item["data"]) if item["data"] else {}
            out.append(item)
        return out
