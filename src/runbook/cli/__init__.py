"""The `runbook` command: a click group whose runbook subcommands come from the catalog."""

from __future__ import annotations

import importlib
import os
import sys
import traceback
from pathlib import Path
from typing import Any

import click

from runbook import __version__
from runbook.errors import ExitCode, RunbookError

#: The built-in commands, each imported only when it runs (or --help lists them): a runbook's
#: run spares the imports of every other command (~0.2 s a run).
BUILTINS = {
    "list": ("catalog_cmds", "list_cmd"),
    "show": ("catalog_cmds", "show_cmd"),
    "runs": ("runs", "runs_cmd"),
    "incident": ("incident", "incident_cmd"),
    "notify": ("notify", "notify_cmd"),
    "checklist": ("notify", "checklist_cmd"),
    "logs": ("health", "logs_cmd"),
    "health": ("health", "health_cmd"),
    "monitor": ("monitor", "monitor_cmd"),
    "simulate": ("monitor", "simulate_cmd"),
    "report": ("monitor", "report_cmd"),
    "rollout": ("rollout", "rollout_cmd"),
    "deploy": ("deploy", "deploy_cmd"),
    "investigate": ("investigate", "investigate_cmd"),
    "sandbox": ("sandbox", "sandbox_cmd"),
    "collection": ("collection", "collection_cmd"),
}


def builtin(name: str) -> click.Command:
    """The built-in command `name`, its module imported now."""
    module, attr = BUILTINS[name]
    command: click.Command = getattr(importlib.import_module(f"runbook.cli.{module}"), attr)
    return command


class Context:
    """What the group's options decide for every subcommand: the service layer's workspace."""

    def __init__(self, project: Path | None, db: Path | None, debug: bool) -> None:
        from runbook.sandbox import inventory_path
        from runbook.service import Workspace
        from runbook.service.workspace import find_project

        if project is None and not os.environ.get("RUNBOOK_NO_PROJECT"):
            project = find_project()
        # With no other inventory, runbooks use the running sandbox's: the CLI knows the
        # sandbox, the library below it does not.
        self.ws = Workspace(project, db, fallback_inventory=inventory_path())
        self.debug = debug

    def catalog(self) -> Any:
        """The workspace's catalog (runbooks by name, and `.broken` files)."""
        return self.ws.catalog()


class RunbookGroup(click.Group):
    """Built-in commands first, then one subcommand per catalog runbook."""

    def _context(self, ctx: click.Context) -> Context:
        # --help is handled while the group's own options are parsed, before its callback.
        if not isinstance(ctx.obj, Context):
            params = ctx.params
            ctx.obj = Context(params.get("project"), params.get("db"), bool(params.get("debug")))
        return ctx.obj

    def list_commands(self, ctx: click.Context) -> list[str]:
        try:
            names = sorted(self._context(ctx).catalog())
        except RunbookError as exc:
            click.echo(f"runbook: {exc}", err=True)
            names = []
        return [*BUILTINS, *names]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in BUILTINS:
            return builtin(cmd_name)
        books = self._context(ctx).catalog()
        if cmd_name in books.broken:
            raise books.broken[cmd_name]  # that file is bad: its runbook, and only it, fails
        book = books.get(cmd_name)
        if book is None:
            return None
        from runbook.cli.run import make_command

        return make_command(book)

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        """An unknown command names the closest runbook or command (p0-rollbak: p0-rollback)."""
        try:
            return super().resolve_command(ctx, args)
        except click.UsageError as exc:
            from runbook.service import closest

            name = args[0] if args else ""
            try:
                known = self.list_commands(ctx)
            except RunbookError:
                known = list(BUILTINS)
            near = closest(name, known) if name else None
            if near:
                raise click.UsageError(
                    f"No such command {name!r}. Did you mean {near!r}?", ctx
                ) from exc
            raise

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        builtins = [(n, builtin(n).get_short_help_str(70)) for n in BUILTINS]
        with formatter.section("Commands"):
            formatter.write_dl(builtins)
        try:
            books = self._context(ctx).catalog()
        except RunbookError as exc:
            with formatter.section("Runbooks"):
                formatter.write_text(f"(the catalog did not load: {exc})")
            return
        with formatter.section("Runbooks (runbook NAME --help)"):
            formatter.write_dl([(b.name, f"[{b.priority}] {b.summary}") for b in books.values()])
        if books.broken:
            with formatter.section("Catalog files that did not load"):
                formatter.write_dl([(n, str(e)) for n, e in books.broken.items()])


@click.group(
    cls=RunbookGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(__version__, "--version", prog_name="runbook")
@click.option(
    "--project",
    type=click.Path(file_okay=False, path_type=Path),
    help="Your project folder: its runbooks/ add to or override the shipped ones. "
    "Default: the nearest folder upward holding a runbook.yml.",
)
@click.option(
    "--db",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="RUNBOOK_DB",
    help="The run record (SQLite). Default: $RUNBOOK_DB, else runbook.sqlite3 in "
    "your state directory.",
)
@click.option(
    "--debug", is_flag=True, envvar="RUNBOOK_DEBUG", help="Show tracebacks for internal errors."
)
@click.pass_context
def cli(ctx: click.Context, project: Path | None, db: Path | None, debug: bool) -> None:
    """Incident-response automation for web-application fleets, built on Ansible.

    \b
    When in doubt, roll back first:
      runbook p0-rollback --reason "P0: admin crashes after 2.1.0"
    See what the fleet looks like:
      runbook status
    Try it all on a local fleet (Linux, root):
      runbook sandbox up && runbook status

    Each runbook is a subcommand; `runbook list` shows the catalog and
    `runbook show NAME` what one does. Exit codes are listed in the README.
    """
    ctx.obj = Context(project, db, debug)


def main(argv: list[str] | None = None) -> int:
    """The CLI edge: the one place that turns errors into exit codes."""
    debug = "--debug" in (argv or sys.argv) or bool(os.environ.get("RUNBOOK_DEBUG"))
    try:
        rv = cli.main(args=argv, prog_name="runbook", standalone_mode=False)
    except RunbookError as exc:
        click.echo(f"runbook: error: {exc.message}", err=True)
        return int(exc.code)
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except click.Abort:
        click.echo("runbook: aborted", err=True)
        return int(ExitCode.ABORTED)
    except click.ClickException as exc:
        exc.show()
        return int(ExitCode.USAGE)
    except KeyboardInterrupt:
        click.echo("runbook: interrupted", err=True)
        return int(ExitCode.INTERRUPTED)
    except Exception as exc:
        if debug:
            traceback.print_exc()
        else:
            click.echo(
                f"runbook: internal error: {exc!r} (run with --debug for the traceback)", err=True
            )
        return int(ExitCode.INTERNAL)
    return rv if isinstance(rv, int) else 0


def run() -> None:
    sys.exit(main())
