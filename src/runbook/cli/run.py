"""One subcommand per catalog runbook: options from its parameters plus the common ones."""

from __future__ import annotations

import json
import sqlite3
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
import yaml
from rich.console import Console

from runbook.catalog import Parameter, Runbook

if TYPE_CHECKING:
    from runbook.execution import RunResult
from runbook.errors import ExitCode, RunbookError

MAX_REASON = 2000


def _param_option(p: Parameter) -> click.Option:
    if p.type == "boolean":
        return click.Option([f"--{p.name}"], is_flag=True, default=bool(p.default), help=p.help)
    hint = p.help
    if p.type == "choice":
        hint += f" One of: {', '.join(p.choices)}."
    if p.required:
        hint += " [required]"
    return click.Option([f"--{p.name}"], default=p.default, help=hint, metavar=p.type.upper())


def parse_extra_vars(items: tuple[str, ...]) -> dict[str, Any]:
    """-e as ansible-playbook takes it: key=value pairs, a JSON/YAML mapping, or @file."""
    merged: dict[str, Any] = {}
    for item in items:
        if item.startswith("@"):
            path = Path(item[1:])
            try:
                data = yaml.safe_load(path.read_text())
            except (OSError, yaml.YAMLError) as exc:
                raise RunbookError(f"-e {item}: cannot read {path}: {exc}") from None
            if not isinstance(data, dict):
                raise RunbookError(f"-e {item}: {path} must hold a mapping")
            merged.update(data)
        elif item.lstrip().startswith("{"):
            try:
                data = json.loads(item)
            except ValueError as exc:
                raise RunbookError(f"-e {item!r}: not valid JSON: {exc}") from None
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
    values: dict[str, Any] = {}
    for p in book.parameters:
        value = raw.get(p.var)
        if value is None:
            if p.required:
                raise RunbookError(f"{book.name} needs --{p.name}: {p.help}")
            continue
        values[p.var] = p.convert(value)
    return values


def confirm(book: Runbook, hosts: dict[str, str | None], yes: bool, check: bool) -> None:
    if not book.destructive or yes or check:
        return
    sites = sorted({s for s in hosts.values() if s})
    what = f"{book.name} will change {len(hosts)} hosts" + (
        f" in {len(sites)} sites ({', '.join(sites)})" if sites else ""
    )
    if not sys.stdin.isatty():
        raise RunbookError(
            f"{what}, and there is no terminal to confirm on: pass --yes to go ahead",
            ExitCode.ABORTED,
        )
    if not click.confirm(f"{what}. Go ahead?", default=False, err=True):
        raise RunbookError("not confirmed: nothing was run", ExitCode.ABORTED)


def run_runbook(ctx: click.Context, book: Runbook, options: dict[str, Any]) -> int:
    from runbook.views import REPORTS, print_summary

    as_json = options.pop("as_json")
    incident_id = options.pop("incident", None)
    if incident_id is not None:
        from runbook.incidents.records import Incidents

        store = ctx.find_root().obj.store()
        try:
            Incidents(store).get(incident_id)  # a wrong id stops before anything runs
        finally:
            store.close()
    result, stdout = execute_options(ctx, book, options, as_json)
    try:
        incident_id = attach_incident(ctx, book, result, incident_id)
    except (RunbookError, sqlite3.Error, OSError) as exc:
        # The run happened and is recorded; failing to file it on an incident must not
        # turn a successful rollback into a failed command.
        click.echo(f"runbook: warning: the run was not put on an incident: {exc}", err=True)
    report = REPORTS.get(book.name)
    if as_json:
        document = result.to_json()
        document["incident"] = incident_id
        if report:
            document["report"] = report[0](result)
        click.echo(json.dumps(document, indent=2, default=str))
    else:
        if report:
            report[1](stdout, report[0](result))
        print_summary(stdout, result)
    return int(result.exit_code)


def attach_incident(
    ctx: click.Context, book: Runbook, result: Any, incident_id: int | None
) -> int | None:
    """Put the run on its incident's timeline; a P0 runbook run without one opens one."""
    from runbook.cli.incident import record_run
    from runbook.incidents.records import Incidents

    if result.request.check:
        return incident_id  # a dry run is no evidence
    store = ctx.find_root().obj.store()
    try:
        if incident_id is None and book.priority == "P0":
            title = result.request.reason or f"{book.name} run {result.run_id}"
            incident_id = Incidents(store).open(
                title, "P0", classification=f"opened by {book.name}", at=result.started_at
            )
            click.echo(f"runbook: opened P0 incident {incident_id} for this run", err=True)
        if incident_id is not None:
            record_run(store, incident_id, result)
            _send_notices(ctx, store, book, incident_id)
    finally:
        store.close()
    return incident_id


def _send_notices(ctx: click.Context, store: Any, book: Runbook, incident_id: int) -> None:
    """The runbook's notification templates over the project's channels, after the run."""
    from runbook.incidents.channels import load
    from runbook.incidents.notify import notify

    project = ctx.find_root().obj.project
    if not book.notify or not load(project)[1]:
        return
    for template in book.notify:
        out = notify(store, project, incident_id, template)
        for delivery in out["deliveries"]:
            if not delivery["ok"]:
                click.echo(
                    f"runbook: warning: {template} via {delivery['channel']} failed: "
                    f"{delivery['error']}",
                    err=True,
                )


def common_options(**given: Any) -> dict[str, Any]:
    """The common options with their defaults, for commands that run a runbook themselves."""
    options: dict[str, Any] = {
        "reason": None,
        "inventory": (),
        "limit": None,
        "extra_vars": (),
        "check": False,
        "diff": False,
        "yes": False,
        "verbose": 0,
        "forks": None,
    }
    options.update(given)
    return options


def execute_options(
    ctx: click.Context, book: Runbook, options: dict[str, Any], quiet: bool
) -> tuple[RunResult, Console]:
    """Validate the command line, resolve the inventory, confirm, run, record: the result.

    `quiet`: no progress on stdout (for --json, and for commands that print their own).
    """
    from runbook import inventory as inv
    from runbook.execution import RunRequest, execute
    from runbook.progress import LiveProgress, NoProgress, PlainProgress

    root = ctx.find_root().obj
    stderr = Console(stderr=True)

    def warn(message: str) -> None:
        stderr.print(message, markup=False, highlight=False, soft_wrap=True)

    reason = check_reason(book, options.pop("reason"))
    force_unlock = options.pop("force_unlock", False)
    params = collect_params(book, options)
    extra = parse_extra_vars(options.pop("extra_vars"))
    if force_unlock:
        # Recorded with the parameters, so the run record shows who broke whose lock.
        params["force_unlock"] = True
        extra["runbook_force_unlock"] = True
    inventory = inv.resolve(options.pop("inventory"), root.project, warn)
    limit = options.pop("limit")
    hosts = inv.hosts(inventory, limit)
    if not hosts:
        raise RunbookError(
            f"no hosts in {inventory}" + (f" match --limit {limit}" if limit else "")
        )
    confirm(book, hosts, options.pop("yes"), options["check"])
    store = root.store()
    # A pipe gets rich's 80 columns by default: too narrow for a fleet table.
    stdout = Console() if sys.stdout.isatty() else Console(width=160)
    if quiet:
        progress: Any = NoProgress()
    elif stdout.is_terminal:
        progress = LiveProgress(stdout, f"{book.name} on {len(hosts)} hosts")
    else:
        progress = PlainProgress(sys.stdout)
    request = RunRequest(
        runbook=book,
        params=params,
        inventory=inventory,
        hosts=hosts,
        reason=reason,
        limit=limit,
        extra_vars=extra,
        check=options["check"],
        diff=options["diff"],
        verbosity=options["verbose"],
        forks=options["forks"],
    )
    try:
        with progress:
            result = execute(request, store, on_event=progress, warn=warn)
    finally:
        store.close()
    return result, stdout


def make_command(book: Runbook) -> click.Command:
    def callback(**options: Any) -> None:
        ctx = click.get_current_context()
        code = run_runbook(ctx, book, options)
        ctx.exit(code)

    params: list[click.Parameter] = [_param_option(p) for p in book.parameters]
    params += [
        click.Option(
            ["--reason"],
            metavar="TEXT",
            help="Why you run this; recorded verbatim, never templated."
            + (" [required]" if book.destructive else ""),
        ),
        click.Option(
            ["--incident"],
            type=int,
            metavar="ID",
            help="Put this run on the incident's timeline"
            + (" (a P0 runbook opens one when not given)." if book.priority == "P0" else "."),
        ),
        click.Option(
            ["-i", "--inventory"],
            multiple=True,
            metavar="INVENTORY",
            help="Inventory file or folder (repeatable). Default: $RUNBOOK_INVENTORY, "
            "your project's runbook.yml, else the running sandbox's.",
        ),
        click.Option(
            ["-l", "--limit"],
            metavar="PATTERN",
            help="Only these hosts or groups, as ansible-playbook -l.",
        ),
        click.Option(
            ["-e", "--extra-vars", "extra_vars"],
            multiple=True,
            metavar="VARS",
            help="Extra variables: key=value, JSON, or @file (repeatable).",
        ),
        click.Option(["--check"], is_flag=True, help="Change nothing; show what would change."),
        click.Option(["--diff"], is_flag=True, help="Show the differences of changed files."),
        click.Option(
            ["--json", "as_json"],
            is_flag=True,
            help="Print one JSON document at the end, and nothing else on stdout.",
        ),
        click.Option(
            ["-y", "--yes"],
            is_flag=True,
            help="Do not ask for confirmation (required without a terminal).",
        ),
        click.Option(["-v", "--verbose"], count=True, help="More Ansible detail (-vvv ...)."),
        *(
            [
                click.Option(
                    ["--force-unlock"],
                    is_flag=True,
                    help="Break a site lock another run holds (recorded in the run record).",
                )
            ]
            if book.destructive
            else []
        ),
        click.Option(
            ["--forks"],
            type=click.IntRange(1, 500),
            help="Hosts worked on at once. Default: the number of hosts (5-50).",
        ),
    ]
    first, _, rest = book.description.strip().partition("\n")
    text = (
        f"[{book.priority}] {first}\n\n{rest.strip()}"
        if rest.strip()
        else f"[{book.priority}] {first}"
    )
    if book.destructive:
        text += (
            "\n\nChanges hosts: asks for confirmation on a terminal, refuses without one "
            "unless --yes, and needs --reason."
        )
    return click.Command(
        name=book.name,
        callback=callback,
        params=params,
        help=text,
        short_help=f"[{book.priority}] {book.summary}",
        context_settings={"max_content_width": 100},
    )
