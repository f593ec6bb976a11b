"""`runbook list` and `runbook show NAME`: the catalog."""

from __future__ import annotations

import json
from typing import Any

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text


def _ws() -> Any:
    return click.get_current_context().find_root().obj.ws


@click.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print the catalog as JSON.")
def list_cmd(as_json: bool) -> None:
    """List the runbooks: name, priority, what each does."""
    books = _ws().catalog()
    if as_json:
        click.echo(
            json.dumps(
                [
                    {
                        "name": b.name,
                        "priority": b.priority,
                        "description": b.summary,
                        "destructive": b.destructive,
                        "source": str(b.source),
                    }
                    for b in books.values()
                ],
                indent=2,
            )
        )
        return
    table = Table(title="Runbooks", title_justify="left")
    for column in ("name", "priority", "description"):
        table.add_column(column)
    for b in sorted(books.values(), key=lambda b: (b.priority, b.name)):
        name = Text(b.name) + (Text(" (destructive)", style="red") if b.destructive else "")
        table.add_row(name, b.priority, Text(b.summary))
    Console().print(table)


@click.command("show")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print the runbook as JSON.")
def show_cmd(name: str, as_json: bool) -> None:
    """Show what runbook NAME does, its parameters and its playbook."""
    book = _ws().runbook(name)
    params = [
        {
            "name": p.name,
            "type": p.type,
            "required": p.required,
            "pattern": p.pattern,
            "choices": list(p.choices),
            "default": p.default,
            "help": p.help,
        }
        for p in book.parameters
    ]
    if as_json:
        click.echo(
            json.dumps(
                {
                    "name": book.name,
                    "priority": book.priority,
                    "description": book.description,
                    "destructive": book.destructive,
                    "playbook": str(book.playbook),
                    "source": str(book.source),
                    "parameters": params,
                    "notify": list(book.notify),
                    "serial": book.serial,
                    "max_fail_percentage": book.max_fail_percentage,
                    "report": book.report,
                },
                indent=2,
            )
        )
        return
    console = Console()
    console.print(
        f"[bold]{book.name}[/] [{book.priority}]"
        + (
            " [red]destructive: asks for confirmation, needs --reason[/]"
            if book.destructive
            else ""
        )
    )
    console.print(book.description.strip(), markup=False, highlight=False)
    console.print(f"playbook: {book.playbook}\ncatalog file: {book.source}", markup=False)
    if book.serial is not None or book.max_fail_percentage is not None:
        console.print(f"waves: serial={book.serial} max_fail_percentage={book.max_fail_percentage}")
    if params:
        table = Table(title="parameters", title_justify="left")
        for column in ("option", "type", "required", "default", "help"):
            table.add_column(column)
        for p in params:
            kind = p["type"] + (f" ({'|'.join(p['choices'])})" if p["choices"] else "")
            kind += f" ~ {p['pattern']}" if p["pattern"] else ""
            default = "-" if p["default"] is None else json.dumps(p["default"]).strip('"')
            # Text, not markup: a pattern such as [a-z0-9_-] must print as it is.
            table.add_row(
                *(Text(str(c)) for c in (f"--{p['name']}", kind, "yes" if p["required"] else "no")),
                Text(default),
                Text(p["help"]),
            )
        console.print(table)
    else:
        console.print("parameters: none besides the common ones (runbook NAME --help)")
