"""One subcommand per catalog runbook: options from its parameters plus the common ones."""

from __future__ import annotations

import json
import sys
from typing import Any

import click
from rich.console import Console

from runbook import service
from runbook.cli.options import click_option
from runbook.service import COMMON_OPTIONS, Parameter, Runbook, RunOptions, RunRequest
from runbook.views import print_summary, progress_for, report_for


def _param_option(p: Parameter) -> click.Option:
    if p.type == "boolean":
        return click.Option([f"--{p.name}"], is_flag=True, default=bool(p.default), help=p.help)
    hint = p.help
    if p.type == "choice":
        hint += f" One of: {', '.join(p.choices)}."
    if p.pattern:
        hint += f" Matches: {p.pattern}."
    if p.required:
        hint += " [required]"
    return click.Option(
        [f"--{p.name}"],
        default=p.default,
        show_default=p.default is not None,
        help=hint,
        metavar=p.type.upper(),
    )


def _common_help(book: Runbook, name: str, text: str) -> str:
    if name == "reason" and book.destructive:
        return text + " [required]"
    if name == "incident" and book.priority == "P0":
        return text.rstrip(".") + " (a P0 runbook opens one when not given)."
    return text


def run_command(book: Runbook, values: dict[str, Any]) -> int:
    """Run `book` with a command line's values; print progress, the summary and the report."""
    ctx = click.get_current_context()
    ws = ctx.find_root().obj.ws
    as_json = values.pop("as_json")
    options, params = RunOptions.split(values)
    stderr = Console(stderr=True)

    def warn(message: str) -> None:
        stderr.print(message, markup=False, highlight=False, soft_wrap=True)

    # A pipe gets rich's 80 columns by default: too narrow for a fleet table.
    stdout = Console() if sys.stdout.isatty() else Console(width=160)

    def progress(request: RunRequest) -> Any:
        return progress_for(stdout, f"{book.name} on {len(request.hosts)} hosts", quiet=as_json)

    def confirm(question: str) -> bool:
        return click.confirm(question, default=False, err=True)

    result = service.run(
        ws,
        book,
        params,
        options,
        confirm=confirm if sys.stdin.isatty() else None,
        on_event=None,
        progress=progress,
        warn=warn,
    )
    report = report_for(book.report)
    if as_json:
        document = result.to_json()
        if report:
            document["report"] = report.build(result, ws.profile())
        click.echo(json.dumps(document, indent=2, default=str))
    else:
        if report:
            report.show(stdout, report.build(result, ws.profile()))
        print_summary(stdout, result)
    return int(result.exit_code)


def help_text(book: Runbook) -> str:
    """--help: the priority, the description's first paragraph kept whole, then the rest."""
    paragraphs = [" ".join(p.split()) for p in book.description.strip().split("\n\n") if p.strip()]
    text = f"[{book.priority}] " + "\n\n".join(paragraphs)
    if book.destructive:
        text += (
            "\n\nChanges hosts: asks for confirmation on a terminal, refuses without one "
            "unless --yes, and needs --reason."
        )
    return text


def make_command(book: Runbook) -> click.Command:
    def callback(**values: Any) -> None:
        ctx = click.get_current_context()
        ctx.exit(run_command(book, values))

    params: list[click.Parameter] = [_param_option(p) for p in book.parameters]
    for option in COMMON_OPTIONS:
        if option.destructive_only and not book.destructive:
            continue
        params.append(click_option(option, _common_help(book, option.name, option.help)))
    params.append(
        click.Option(
            ["--json", "as_json"],
            is_flag=True,
            help="Print one JSON document at the end, and nothing else on stdout.",
        )
    )
    return click.Command(
        name=book.name,
        callback=callback,
        params=params,
        help=help_text(book),
        short_help=f"[{book.priority}] {book.summary}",
        context_settings={"max_content_width": 100},
    )
