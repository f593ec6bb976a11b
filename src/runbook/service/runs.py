"""Running a runbook as a use case: check the inputs, resolve the inventory, confirm, execute,
put the run on its incident and tell people. The CLI, the monitor and the rollout call this."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runbook import inventory as inv
from runbook import statecache, yamlfile
from runbook.catalog import COMMON_OPTIONS, Runbook, extra_var_problem
from runbook.errors import ExitCode, RunbookError
from runbook.events import RunModel
from runbook.execution import RunRequest, RunResult, execute
from runbook.incidents import contacts_file
from runbook.incidents.records import Incidents
from runbook.service.workspace import Workspace

MAX_REASON = 2000
#: How long all the notices of one run may take together.
NOTICES_SECONDS = 45.0

#: Called with (model, event) for each ansible-runner event: the progress view.
OnEvent = Callable[[RunModel, dict[str, Any]], None]
#: Asked the confirmation question; None when nobody can answer (no terminal).
Confirm = Callable[[str], bool] | None


@dataclass
class RunOptions:
    """The options every runbook takes (catalog.COMMON_OPTIONS), typed."""

    reason: str | None = None
    incident: int | None = None
    inventory: tuple[str, ...] = ()
    limit: str | None = None
    extra_vars: dict[str, Any] = field(default_factory=dict)
    check: bool = False
    diff: bool = False
    yes: bool = False
    verbose: int = 0
    force_unlock: bool = False
    forks: int | None = None

    @classmethod
    def split(cls, values: dict[str, Any]) -> tuple[RunOptions, dict[str, Any]]:
        """A command line's values: the common options, and the rest (the parameters)."""
        names = {o.dest for o in COMMON_OPTIONS}
        common = {k: v for k, v in values.items() if k in names and v is not None}
        if "extra_vars" in common:
            common["extra_vars"] = parse_extra_vars(tuple(common["extra_vars"]))
        if "inventory" in common:
            common["inventory"] = tuple(common["inventory"])
        rest = {k: v for k, v in values.items() if k not in names}
        return cls(**common), rest


def parse_extra_vars(items: tuple[str, ...]) -> dict[str, Any]:
    """-e as ansible-playbook takes it: key=value pairs, a JSON/YAML mapping, or @file."""
    merged: dict[str, Any] = {}
    for item in items:
        if item.startswith("@"):
            path = Path(item[1:])
            data = yamlfile.load(path, f"-e {item}:")
            if not isinstance(data, dict):
                raise RunbookError(f"-e {item}: {path} must hold a mapping")
            merged.update(data)
        elif item.lstrip().startswith("{"):
            try:
                data = json.loads(item)
            except ValueError as exc:
                raise RunbookError(f"-e {item!r}: not valid JSON: {exc}") from None
            if not isinstance(data, dict):
                raise RunbookError(f"-e {item!r}: must be a JSON object")
            merged.update(data)
        else:
            for pair in item.split():
                key, sep, value = pair.partition("=")
                if not sep or not key.isidentifier():
                    raise RunbookError(f"-e {pair!r}: expected key=value, JSON or @file")
                merged[key] = value
    return merged


def check_reason(book: Runbook, reason: str | None) -> str | None:
    if reason is not None:
        if not reason.strip():
            raise RunbookError("--reason is empty: say why you are running this")
        if len(reason) > MAX_REASON:
            raise RunbookError(f"--reason is {len(reason)} characters; at most {MAX_REASON}")
        if any(ord(c) < 32 and c not in "\t\n" for c in reason):
            raise RunbookError("--reason holds control characters; write it as plain text")
    elif book.destructive:
        raise RunbookError(
            f"{book.name} changes hosts: --reason is required (say why, for the run record)"
        )
    return reason


def collect_params(book: Runbook, raw: dict[str, Any]) -> dict[str, Any]:
    """The catalog parameters' values, checked; a missing optional one takes its default."""
    values: dict[str, Any] = {}
    for p in book.parameters:
        value = raw.get(p.var)
        if value is None:
            value = p.default
        if value is None:
            if p.required:
                raise RunbookError(f"{book.name} needs --{p.name}: {p.help}")
            continue
        values[p.var] = p.convert(value)
    return values


def _confirm(
    book: Runbook, hosts: dict[str, str | None], options: RunOptions, ask: Confirm
) -> None:
    if not book.destructive or options.yes or options.check:
        return
    sites = sorted({s for s in hosts.values() if s})
    what = f"{book.name} will change {len(hosts)} hosts" + (
        f" in {len(sites)} sites ({', '.join(sites)})" if sites else ""
    )
    if ask is None:
        raise RunbookError(
            f"{what}, and there is no terminal to confirm on: pass --yes to go ahead",
            ExitCode.ABORTED,
        )
    if not ask(f"{what}. Go ahead?"):
        raise RunbookError("not confirmed: nothing was run", ExitCode.ABORTED)


@dataclass
class Targets:
    """The inventory a run resolved and the hosts it targets (host -> site)."""

    inventory: inv.Inventory
    hosts: dict[str, str | None]


def targets(
    ws: Workspace, given: tuple[str, ...], limit: str | None, warn: Callable[[str], None]
) -> Targets:
    inventory = inv.resolve(given, ws.project, warn, fallback=ws.fallback_inventory)
    hosts = inv.hosts(inventory, limit, cache=statecache.folder())
    if not hosts:
        raise RunbookError(
            f"no hosts in {inventory}" + (f" match --limit {limit}" if limit else "")
        )
    return Targets(inventory, hosts)


def prepare(
    ws: Workspace,
    book: Runbook,
    raw_params: dict[str, Any],
    options: RunOptions,
    warn: Callable[[str], None],
    confirm: Confirm = None,
    internal_vars: dict[str, Any] | None = None,
) -> RunRequest:
    """Everything before the run: inputs checked, inventory resolved, confirmed.

    `internal_vars` are runbook's own variables for this run (a use case's, never the
    operator's -e): they may set what -e may not.
    """
    reason = check_reason(book, options.reason)
    params = collect_params(book, raw_params)
    extra = dict(options.extra_vars)
    for name in extra:
        problem = extra_var_problem(str(name))
        if problem:
            raise RunbookError(f"-e {name}: refused: {problem}")
    extra.update(internal_vars or {})
    if options.force_unlock:
        # Recorded with the parameters, so the run record shows who broke whose lock.
        params["force_unlock"] = True
        extra["runbook_force_unlock"] = True
    extra.setdefault("runbook_target", ws.profile().as_vars())
    if options.incident is not None:
        with ws.store() as store:
            Incidents(store).get(options.incident)  # a wrong id stops before anything runs
    found = targets(ws, options.inventory, options.limit, warn)
    _confirm(book, found.hosts, options, confirm)
    return RunRequest(
        runbook=book,
        params=params,
        inventory=found.inventory,
        hosts=found.hosts,
        reason=reason,
        limit=options.limit,
        extra_vars=extra,
        check=options.check,
        diff=options.diff,
        verbosity=options.verbose,
        forks=options.forks,
    )


def run(
    ws: Workspace,
    book: Runbook,
    raw_params: dict[str, Any],
    options: RunOptions,
    *,
    confirm: Confirm = None,
    on_event: OnEvent | None = None,
    progress: Callable[[RunRequest], Any] | None = None,
    warn: Callable[[str], None] = print,
    file_on_incident: bool = True,
    internal_vars: dict[str, Any] | None = None,
) -> RunResult:
    """Run one runbook, record it, put it on its incident and send its notices.

    `progress` makes what shows the run (a context manager that is called with every event,
    such as a live table); without it, `on_event` sees every event. A failed run is a result,
    not an exception; filing it on an incident or sending a notice never fails the run (a
    warning says what went wrong).
    """
    request = prepare(ws, book, raw_params, options, warn, confirm, internal_vars)
    view = progress(request) if progress else None
    with ws.store() as store, view if view is not None else nullcontext():
        result = execute(request, store, on_event=view or on_event, warn=warn)
    result.incident_id = options.incident
    if file_on_incident:
        try:
            attach_incident(ws, book, result, options.incident, warn)
        except Exception as exc:  # RunbookError, sqlite3.Error, OSError: the run stands
            what = str(exc) if isinstance(exc, RunbookError | OSError) else repr(exc)
            if result.incident_id is None:
                warn(f"runbook: warning: the run was not put on an incident: {what}")
            else:
                warn(
                    f"runbook: warning: the run is on incident {result.incident_id}, but its "
                    f"record there may be incomplete: {what}"
                )
    return result


def attach_incident(
    ws: Workspace,
    book: Runbook,
    result: RunResult,
    incident_id: int | None,
    warn: Callable[[str], None],
) -> int | None:
    """Put the run on its incident's timeline. A P0 runbook run without one joins the open P0
    incident of its sites, or opens one; a run refused before it changed anything opens none.
    `result.incident_id` is set as soon as the incident is known, whatever fails after."""
    from runbook.incidents.timeline import record_run

    if result.request.check:
        return incident_id  # a dry run is no evidence
    with ws.store() as store:
        incidents = Incidents(store)
        if incident_id is None and book.priority == "P0":
            if refused_untouched(result):
                return None
            sites = sorted({s for s in result.request.hosts.values() if s})
            incident_id = incidents.open_for_sites("P0", sites)
            if incident_id is not None:
                warn(f"runbook: this run joins P0 incident {incident_id}, open for these sites")
            else:
                title = result.request.reason or f"{book.name} run {result.run_id}"
                incident_id = incidents.open(
                    title, "P0", classification=f"opened by {book.name}", at=result.started_at
                )
                warn(f"runbook: opened P0 incident {incident_id} for this run")
        if incident_id is not None:
            result.incident_id = incident_id
            record_run(incidents, incident_id, result)
            for failed in send_notices(ws, store, book.notify, incident_id):
                warn(f"runbook: warning: {failed}")
    if incident_id is not None:
        from runbook.service.pages import refresh_status_pages

        refresh_status_pages(ws, warn)
    return incident_id


def refused_untouched(result: RunResult) -> bool:
    """The run stopped before changing anything: a lock held elsewhere, or bad input."""
    refused = result.exit_code in (ExitCode.LOCK_HELD, ExitCode.USAGE, ExitCode.ABORTED)
    return refused and not any(s.changed for s in result.model.hosts.values())


def send_notices(
    ws: Workspace, store: Any, templates: tuple[str, ...], incident_id: int
) -> Iterator[str]:
    """The templates over the project's channels; yields what failed, one line each."""
    if not templates or contacts_file(ws.project) is None:
        return  # no channel: the channels' and the templates' code is not even loaded
    from runbook.incidents.channels import load
    from runbook.incidents.notify import notify

    if not load(ws.project)[1]:
        return
    # All of a run's notices together end within NOTICES_SECONDS: telling people never holds a
    # rollback's exit code back for long.
    deadline = time.monotonic() + NOTICES_SECONDS
    for template in templates:
        out = notify(
            store, ws.project, incident_id, template, target=ws.profile(), deadline=deadline
        )
        for delivery in out["deliveries"]:
            if not delivery["ok"]:
                yield f"{template} via {delivery['channel']} failed: {delivery['error']}"
