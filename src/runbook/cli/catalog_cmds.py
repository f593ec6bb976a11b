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
    for error in books.broken.values():  # said, and the exit is 2, after the good ones
        click.echo(f"runbook: error: {error}", err=True)
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
        if books.broken:
            raise click.exceptions.Exit(2)
        return
    table = Table(title="Runbooks", title_justify="left")
    for column in ("name", "priority", "description"):
        table.add_column(column)
    for b in sorted(books.values(), key=lambda b: (b.priority, b.name)):
        name = Text(b.name) + (Text(" (destructive)", style="red") if b.destructive else "")
        table.add_row(name, b.priority, Text(b.summary))
    Console().print(table)
    if books.broken:
        raise click.exceptions.Exit(2)


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
        # Lines, not a table: a pattern such as [a-z0-9_-]+ prints whole, as text, never cut.
        console.print("parameters:")
        for p in params:
            facts = [p["type"] + (f" ({'|'.join(p['choices'])})" if p["choices"] else "")]
            facts.append("required" if p["required"] else "optional")
            if p["default"] is not None:
                facts.append(f"default {json.dumps(p['default']).strip(chr(34))}")
            if p["pattern"]:
                facts.append(f"matches {p['pattern']}")
            line = f"  --{p['name']}  {', '.join(facts)}"
            console.print(line, markup=False, highlight=False, soft_wrap=True)
            console.print(f"      {p['help']}", markup=False, highlight=False)
    else:
        console.print("parameters: none besides the common ones (runbook NAME --help)")
