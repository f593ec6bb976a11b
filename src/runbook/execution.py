"""Running one runbook through ansible-runner: run directory, clean environment, events, signals."""

from __future__ import annotations

import getpass
import os
import secrets
import shlex
import shutil
import signal
import socket
import sqlite3
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

import yaml

from runbook import clock, collection
from runbook.catalog import Runbook
from runbook.errors import ExitCode, RunbookError
from runbook.events import HostOutcome, RunModel
from runbook.inventory import Inventory
from runbook.paths import content_dir, private_dir, state_dir
from runbook.store import Store, process_alive

#: The only variables of the operator's environment that reach Ansible: nothing secret.
PASSTHROUGH_ENV = ("HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "TZ", "SSH_AUTH_SOCK", "TMPDIR")

SCHEMA_VERSION = 1


def new_run_id() -> str:
    """Sortable by time, unique without coordination: 20261127T141500Z-3f9a1c."""
    return f"{clock.now():%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


def operator_name() -> str:
    try:
        return os.environ.get("RUNBOOK_OPERATOR") or getpass.getuser()
    except (KeyError, OSError):
        return f"uid{os.getuid()}"


class _Unsafe(str):
    """A string Ansible must never template: written with YAML's !unsafe tag."""


def _unsafe_representer(dumper: yaml.SafeDumper, value: _Unsafe) -> yaml.Node:
    return dumper.represent_scalar("!unsafe", str(value), style="'")


class _VarsDumper(yaml.SafeDumper):
    pass


_VarsDumper.add_representer(_Unsafe, _unsafe_representer)


JINJA_MARKERS = ("{{", "{%", "{#")


def mark_unsafe(value: Any) -> Any:
    """Every string in `value` becomes data Jinja never evaluates (operator text, parameters).

    A string with no Jinja delimiter cannot be evaluated and is written as a plain quoted
    string; one with a delimiter is tagged !unsafe. (Ansible 2.19 resolves an !unsafe
    scalar's type again, quoted or not: tagging every string turned an ISO time into a
    datetime and `yes` into a boolean.)
    """
    if isinstance(value, str):
        return _Unsafe(value) if any(m in value for m in JINJA_MARKERS) else value
    if isinstance(value, dict):
        return {str(k): mark_unsafe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [mark_unsafe(v) for v in value]
    return value


def ansible_env() -> dict[str, str]:
    """The whole environment Ansible gets: a short allow-list plus runbook's own settings."""
    env = {k: os.environ[k] for k in PASSTHROUGH_ENV if k in os.environ}
    bindir = str(Path(sys.executable).parent)
    env["PATH"] = f"{bindir}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    env.setdefault("LANG", "C.UTF-8")
    content = content_dir()
    env.update(
        {
            "ANSIBLE_CONFIG": str(content / "ansible.cfg"),
            # The roles, modules and filters: the runbook.wordpress collection, assembled from
            # this package's content (the same collection ansible-playbook and AWX install).
            "ANSIBLE_COLLECTIONS_PATH": str(collection.installed()),
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_FORCE_COLOR": "0",
            "ANSIBLE_RETRY_FILES_ENABLED": "0",
            # ansible-runner turns host key checking off unless told otherwise: keep it on.
            "ANSIBLE_HOST_KEY_CHECKING": "True",
            "PYTHONDONTWRITEBYTECODE": "1",
            # The runbook_record callback (enabled by ansible.cfg for plain ansible-playbook
            # runs) stays quiet: this process keeps the record itself.
            "RUNBOOK_WRAPPED": "1",
        }
    )
    env.pop("RUNBOOK_RUN_ID", None)
    env.update(strategy_env())
    return env


def strategy_env() -> dict[str, str]:
    """Mitogen's strategy when asked for (RUNBOOK_MITOGEN=1) and installed (`runbook[fast]`).

    It cuts Ansible's controller CPU per task and host on these machines; it stays optional
    because ansible-core deprecates third-party strategy plugins.
    """
    if os.environ.get("RUNBOOK_MITOGEN", "") in ("", "0"):
        return {}
    try:
        import ansible_mitogen
    except ImportError:
        raise RunbookError(
            "RUNBOOK_MITOGEN is set but mitogen is not installed: pip install 'runbook[fast]'"
        ) from None
    plugins = Path(ansible_mitogen.__file__).parent / "plugins" / "strategy"
    return {"ANSIBLE_STRATEGY_PLUGINS": str(plugins), "ANSIBLE_STRATEGY": "mitogen_linear"}


@contextmanager
def only_environment(env: dict[str, str]) -> Iterator[None]:
    """ansible-runner seeds the job's environment (and artifacts/command) from os.environ:
    hand it exactly `env` for the length of the run, then put the operator's back."""
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


class Interrupts:
    """Ctrl-C once: finish the current task, then stop. Twice (or SIGTERM twice): stop now."""

    def __init__(self, warn: Callable[[str], None]) -> None:
        self.warn = warn
        self.count = 0
        self.tasks_at_first = -1
        self.model: RunModel | None = None
        self._saved: dict[int, Any] = {}

    def _handler(self, signum: int, _frame: FrameType | None) -> None:
        self.count += 1
        name = signal.Signals(signum).name
        if self.count == 1:
            self.tasks_at_first = self.model.tasks_started if self.model else 0
            self.warn(
                f"runbook: {name}: stopping after the current task; "
                "press Ctrl-C again to cancel now"
            )
        else:
            self.warn(f"runbook: {name} again: cancelling now")

    def cancel(self) -> bool:
        if self.count >= 2:
            return True
        return bool(
            self.count == 1 and self.model and self.model.tasks_started > self.tasks_at_first
        )

    def __enter__(self) -> Interrupts:
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._saved[sig] = signal.signal(sig, self._handler)
        return self

    def __exit__(self, *_: object) -> None:
        for sig, handler in self._saved.items():
            signal.signal(sig, handler)


@dataclass
class RunRequest:
    runbook: Runbook
    params: dict[str, Any]
    inventory: Inventory
    hosts: dict[str, str | None]
    reason: str | None = None
    limit: str | None = None
    extra_vars: dict[str, Any] = field(default_factory=dict)
    check: bool = False
    diff: bool = False
    verbosity: int = 0
    forks: int | None = None


@dataclass
class RunResult:
    run_id: str
    request: RunRequest
    model: RunModel
    status: str
    exit_code: ExitCode
    started_at: str
    ended_at: str
    duration: float
    artifact_dir: Path
    rc: int | None
    interrupted: bool
    #: The incident the run was filed on (set by the service layer after the run).
    incident_id: int | None = None
    #: Why the run's end could not be recorded, if it could not (the summary says so).
    record_error: str | None = None

    def to_json(self) -> dict[str, Any]:
        hosts = {
            name: {
                **HostOutcome.of(s).to_dict(),
                **({"report": s.report} if s.report else {}),
            }
            for name, s in self.model.hosts.items()
        }
        return {
            "schema_version": SCHEMA_VERSION,
            "run_id": self.run_id,
            "runbook": self.request.runbook.name,
            "parameters": self.request.params,
            "reason": self.request.reason,
            "check": self.request.check,
            "inventory": str(self.request.inventory),
            "limit": self.request.limit,
            "status": self.status,
            "exit_code": int(self.exit_code),
            "interrupted": self.interrupted,
            "started_at": self.started_at,
            "ended_at": self.ended_at,
            "duration_seconds": round(self.duration, 3),
            "counts": self.model.counts(),
            "error": self.model.error,
            "hosts": hosts,
            "sites": self.model.site_reports,
            "artifact_dir": str(self.artifact_dir),
            "incident": self.incident_id,
            **({"record_error": self.record_error} if self.record_error else {}),
        }


def exit_code_for(model: RunModel, runner_status: str, interrupted: bool) -> tuple[str, ExitCode]:
    """The project's exit code from per-host outcomes, never from ansible-playbook's rc."""
    if interrupted:
        return "interrupted", ExitCode.INTERRUPTED
    states = list(model.hosts.values())
    if any(s.lock_held for s in states):
        return "failed", ExitCode.LOCK_HELD
    if any(s.unreachable for s in states):
        return "failed", ExitCode.HOSTS_UNREACHABLE
    if any(s.verification_failed for s in states):
        return "failed", ExitCode.VERIFICATION_FAILED
    if any(s.failed for s in states):
        return "failed", ExitCode.HOSTS_FAILED
    if runner_status != "successful":
        # ansible-playbook failed before any host did: a playbook or inventory error.
        return "error", ExitCode.USAGE
    # Plays over runbook's own groups match no host on purpose (lock.yml's stand-ins): only a
    # run that reached no host at all is an inventory or --limit error.
    if not any(s.seen for s in states):
        return "error", ExitCode.USAGE
    return "successful", ExitCode.OK


def _run_dir(run_id: str) -> Path:
    private_dir(state_dir())
    runs = private_dir(state_dir() / "runs")
    path = runs / run_id
    path.mkdir(mode=0o700)
    (path / "env").mkdir(mode=0o700)
    return path


def execute(
    request: RunRequest,
    store: Store,
    on_event: Callable[[RunModel, dict[str, Any]], None] | None = None,
    warn: Callable[[str], None] = lambda m: print(m, file=sys.stderr),
) -> RunResult:
    """Run the request's playbook; every outcome (failure included) is a RunResult, recorded."""
    import ansible_runner

    run_id = new_run_id()
    run_dir = _new_run_dir(run_id)
    started_at = clock.stamp()
    started = time.monotonic()
    book = request.runbook
    context: dict[str, Any] = {
        "run_id": run_id,
        "runbook": book.name,
        "priority": book.priority,
        "reason": request.reason or "",
        "operator": operator_name(),
        "started_at": started_at,
        "check": request.check,
        "params": request.params,
        "controller": f"{socket.gethostname()} pid {os.getpid()}",
    }
    # Runs of this controller still "running" whose process is gone were killed (kill -9, a
    # crash): say so in the record before this one starts, so that their locks are known to
    # be over and taken over, recorded, without --force-unlock.
    with suppress(sqlite3.Error):  # the start below reports a record that cannot be written
        store.mark_abandoned()
    ended: dict[str, str] = {}
    with suppress(sqlite3.Error):
        ended = store.ended_runs(LOCK_MEMORY_SECONDS)
    extravars = {**_extravars(request, context), "runbook_ended_runs": ended}
    # ansible-runner passes env/extravars as `-e @file`: every string in it is !unsafe.
    (run_dir / "env" / "extravars").write_text(
        yaml.dump(mark_unsafe(extravars), Dumper=_VarsDumper, sort_keys=True)
    )
    cmdline = []
    if request.check:
        cmdline.append("--check")
    if request.diff:
        cmdline.append("--diff")
    model = RunModel.for_hosts(request.hosts)
    # Before anything is locked or changed: a record that cannot be written stops here (exit 8).
    _recorded_start(
        store,
        run_id=run_id,
        runbook=book.name,
        parameters=request.params,
        reason=request.reason,
        operator=context["operator"],
        inventory=str(request.inventory),
        host_limit=request.limit,
        check_mode=request.check,
        started_at=started_at,
        artifact_dir=str(run_dir / "artifacts" / run_id),
        # What the operator gave with -e (and --force-unlock), secrets redacted by the store.
        extra_vars={k: v for k, v in request.extra_vars.items() if k != "runbook_target"},
    )

    def handle(event: dict[str, Any]) -> bool:
        model.handle(event)
        if on_event:
            on_event(model, event)
        return True

    runner = None
    with Interrupts(warn) as interrupts:
        interrupts.model = model
        try:
            with only_environment(ansible_env()):
                runner = ansible_runner.run(
                    private_data_dir=str(run_dir),
                    ident=run_id,
                    playbook=str(book.playbook),
                    project_dir=str(book.playbook.parent),
                    inventory=[str(s) for s in request.inventory.sources],
                    limit=request.limit,
                    cmdline=" ".join(shlex.quote(a) for a in cmdline) or None,
                    verbosity=request.verbosity or None,
                    forks=request.forks or max(5, min(50, len(request.hosts))),
                    event_handler=handle,
                    cancel_callback=interrupts.cancel,
                    quiet=True,
                    rotate_artifacts=0,
                    # The runner checks the cancel callback between reads of the job's
                    # output; its default 5 s wait made a second Ctrl-C feel ignored.
                    settings={"pexpect_timeout": 0.2},
                )
        except Exception as exc:  # the runner could not start at all: still a recorded run
            _finish(store, run_id, model, "error", ExitCode.INTERNAL, {"error": str(exc)})
            raise RunbookError(
                f"ansible-runner could not run {book.playbook}: {exc}", ExitCode.INTERNAL
            ) from exc
        interrupted = runner.status == "canceled" or (
            interrupts.count > 0 and runner.status != "successful"
        )
    # Every site this run locked is released, whatever failed: when every host failed a play,
    # Ansible ended the playbook before its release play, and a Ctrl-C stops it anywhere.
    release_leftover_locks(request, run_dir, run_id, model, warn)
    say_lock_holders(model, store)
    status, code = exit_code_for(model, runner.status, interrupted)
    if status == "error":
        # The playbook failed before any host did (syntax, undefined variable, inventory):
        # Ansible's own last words are the only explanation there is.
        reached = any(s.seen for s in model.hosts.values())
        model.error = _ansible_said(run_dir / "artifacts" / run_id, reached)
    ended_at = clock.stamp()
    result = RunResult(
        run_id=run_id,
        request=request,
        model=model,
        status=status,
        exit_code=code,
        started_at=started_at,
        ended_at=ended_at,
        duration=time.monotonic() - started,
        artifact_dir=run_dir / "artifacts" / run_id,
        rc=runner.rc,
        interrupted=interrupted,
    )
    result.record_error = _finish(
        store,
        run_id,
        model,
        status,
        code,
        {
            "counts": model.counts(),
            "runner_status": runner.status,
            "rc": runner.rc,
            "error": model.error,
            "sites": model.site_reports,
            "hosts": {h: s.report for h, s in model.hosts.items() if s.report},
        },
        ended_at,
    )
    return result


#: How far back the record is searched for ended runs whose locks may be taken over (a lock
#: expires after 30 minutes anyway).
LOCK_MEMORY_SECONDS = 6 * 3600
RELEASE_PLAYBOOK = ("playbooks", "common", "release.yml")


def release_leftover_locks(
    request: RunRequest,
    run_dir: Path,
    run_id: str,
    model: RunModel,
    warn: Callable[[str], None],
) -> None:
    """Release, from the controller, the locks this run took and its playbook did not release.

    The release playbook runs on the hosts of those sites only, in its own model (so that the
    main run's per-host outcomes stay as they were); what it released, or could not, goes in
    the sites' reports.
    """
    import ansible_runner

    left = sorted(
        site
        for site, report in model.site_reports.items()
        if (report.get("lock") or {}).get("run_id") == run_id and not report.get("lock_released")
    )
    if not left or request.check:
        return
    hosts = [h for h, site in request.hosts.items() if site in left]
    release = RunModel.for_hosts({h: request.hosts[h] for h in hosts})
    playbook = content_dir().joinpath(*RELEASE_PLAYBOOK)

    def seen(event: dict[str, Any]) -> bool:
        release.handle(event)
        return True

    try:
        with only_environment(ansible_env()):
            ansible_runner.run(
                private_data_dir=str(run_dir),
                ident=f"{run_id}-release",
                playbook=str(playbook),
                project_dir=str(playbook.parent),
                inventory=[str(s) for s in request.inventory.sources],
                limit=",".join(hosts),
                forks=max(5, min(50, len(hosts))),
                event_handler=seen,
                quiet=True,
                rotate_artifacts=0,
            )
    except Exception as exc:  # said below, site by site
        warn(f"runbook: the locks could not be released: {exc}")
    for site in left:
        report = model.site_reports.setdefault(site, {})
        if release.site_reports.get(site, {}).get("lock_released"):
            report["lock_released"] = True
            report["lock_released_by"] = "the controller, after the playbook stopped"
        else:
            report["lock_left"] = "could not be released: it expires on its own"
            warn(f"runbook: the lock on site {site} could not be released; it expires on its own")


def say_lock_holders(model: RunModel, store: Store) -> None:
    """A lock message names the run holding it and whether that run is still alive, as far
    as this controller's record knows."""
    here = socket.gethostname()
    for state in model.hosts.values():
        lock = state.report.get("lock_held_by")
        if not lock or not state.message:
            continue
        holder = str(lock.get("run_id"))
        try:
            run = store.run(holder)
        except (RunbookError, sqlite3.Error):
            state.message += (
                f" [run {holder} is not in this controller's record: it runs, or ran, on "
                f"{lock.get('controller') or 'another controller'}]"
            )
            continue
        if run["status"] != "running":
            state.message += f" [run {holder} is over here ({run['status']})]"
        elif run.get("controller") == here and process_alive(run.get("pid")):
            state.message += f" [run {holder} is alive: still running here, pid {run['pid']}]"
        else:
            state.message += f" [run {holder} is running on {run.get('controller')}]"


def _new_run_dir(run_id: str) -> Path:
    """The run's private folder, once the state folder has room for its record."""
    check_state_space()
    try:
        return _run_dir(run_id)
    except OSError as exc:
        raise RunbookError(
            f"cannot make the run's folder in {state_dir()}: {exc.strerror or exc}; "
            "nothing was run",
            ExitCode.ENVIRONMENT,
        ) from None


def _extravars(request: RunRequest, context: dict[str, Any]) -> dict[str, Any]:
    """What the playbook gets. The parameters go in one namespace: a catalog parameter can
    never become an Ansible connection or magic variable, or a role's own."""
    book = request.runbook
    extravars: dict[str, Any] = {
        **request.extra_vars,
        "runbook_params": request.params,
        "runbook_run": context,
        # The parameters matched their patterns and the reason was checked (check_reason)
        # before the run: common/lock.yml does not check them again.
        "runbook_inputs_checked": True,
    }
    if book.serial is not None:
        extravars.setdefault("runbook_serial", book.serial)
    if book.max_fail_percentage is not None:
        extravars.setdefault("runbook_max_fail_percentage", book.max_fail_percentage)
    return extravars


def _ansible_said(artifacts: Path, reached: bool, lines: int = 12) -> str:
    try:
        text = (artifacts / "stdout").read_text(errors="replace")
    except OSError:
        return "ansible-playbook said nothing"
    if not reached and "skipping: no hosts matched" in text:
        return "no hosts matched"
    kept = [line for line in text.strip().splitlines() if line.strip()]
    return "\n".join(kept[-lines:]) or "ansible-playbook said nothing"


def _finish(
    store: Store,
    run_id: str,
    model: RunModel,
    status: str,
    code: ExitCode,
    summary: dict[str, Any],
    ended_at: str | None = None,
) -> str | None:
    """Record how the run ended. The fleet work is done whatever happens here: a record that
    cannot be written (disk full, database gone) is said, not raised, so that the summary and
    --json still reach the operator. Returns what went wrong, if anything."""
    try:
        store.finish_run(
            run_id,
            status=status,
            exit_code=int(code),
            ended_at=ended_at or clock.stamp(),
            hosts=model.outcomes(),
            summary=summary,
        )
    except (sqlite3.Error, OSError) as exc:
        return f"the run record {store.path} could not be written: {exc}"
    return None


#: Free space the state folder needs before a run starts: the record, the artifacts.
MIN_FREE_BYTES = 32 << 20


def check_state_space() -> None:
    """Refuse to start a run (exit 8) when the state folder cannot hold its record."""
    folder = state_dir()
    probe = folder if folder.exists() else folder.parent
    try:
        free = shutil.disk_usage(probe).free
    except OSError:
        return  # an unknown size is not a reason to refuse; the record's write will tell
    if free < MIN_FREE_BYTES:
        raise RunbookError(
            f"the state folder {folder} has {free // 1024} KiB free, less than "
            f"{MIN_FREE_BYTES >> 20} MiB: free some space; nothing was run",
            ExitCode.ENVIRONMENT,
        )


def _recorded_start(store: Store, **fields: Any) -> None:
    try:
        store.start_run(**fields)
    except (sqlite3.Error, OSError) as exc:
        raise RunbookError(
            f"the run record {store.path} cannot be written ({exc}): nothing was run",
            ExitCode.ENVIRONMENT,
        ) from None
