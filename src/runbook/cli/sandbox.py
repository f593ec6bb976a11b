"""`runbook sandbox up|down|status|fault`: the local fleet for trying and testing runbook."""

from __future__ import annotations

import json
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from runbook.errors import ExitCode, RunbookError


def _say(message: str) -> None:
    click.echo(f"sandbox: {message}", err=True)


@click.group("sandbox")
def sandbox_cmd() -> None:
    """A real fleet on this machine: namespace hosts with sshd, nginx, php-fpm, WordPress.

    Linux and root only. The default fleet is site alpha (two nodes sharing one
    database) and site beta (one node). Runbooks use its inventory when you give
    none. The directory is $RUNBOOK_SANDBOX_DIR (default /var/lib/runbook-sandbox).
    """


@sandbox_cmd.command("up")
@click.option("--sites", type=click.IntRange(1, 100), help="Build this many sites ...")
@click.option("--nodes", type=click.IntRange(1, 20), help="... of this many nodes each.")
@click.option(
    "--wp-cli",
    "wp_cli",
    metavar="PATH",
    envvar="WP_CLI_BIN",
    help="A real WP-CLI to install on the hosts (default: $WP_CLI_BIN, else the "
    "sandbox's WP-CLI-compatible entry point).",
)
def up_cmd(sites: int | None, nodes: int | None, wp_cli: str | None) -> None:
    """Build the fleet (installs the Debian packages it needs; recovers a killed one)."""
    from runbook.sandbox import fleet, inventory_path, topology

    fleet.up(topology.build(sites, nodes), say=_say, wp_cli_bin=wp_cli)
    click.echo(inventory_path())


@sandbox_cmd.command("down")
def down_cmd() -> None:
    """Remove every namespace, process, mount, link and file the sandbox made."""
    from runbook.sandbox import fleet

    left = fleet.down(say=_say)
    if left:
        raise RunbookError(
            "the sandbox left things behind: " + ", ".join(left), ExitCode.ENVIRONMENT
        )


@sandbox_cmd.command("reset")
def reset_cmd() -> None:
    """Put every site back as `up` built it (plugin 2.1.0, backups, flags): for drills."""
    from runbook.sandbox import fleet

    fleet.reset(say=_say)


@sandbox_cmd.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def status_cmd(as_json: bool) -> None:
    """Show each sandbox host's namespace, link and services. Exit 8 if unhealthy."""
    from runbook.sandbox import fleet

    report = fleet.status()
    if as_json:
        click.echo(json.dumps(report, indent=2))
    elif not report.get("hosts"):
        click.echo(
            "the sandbox is down"
            + (
                "; left behind: " + ", ".join(report["leftovers"])
                if report.get("leftovers")
                else ""
            )
        )
    else:
        table = Table(title=f"Sandbox ({report['inventory']})", title_justify="left")
        for column in ("host", "site", "address", "link", "sshd", "nginx", "php-fpm", "database"):
            table.add_column(column)
        for h in report["hosts"]:
            table.add_row(
                h["host"],
                h["site"],
                h["address"],
                h["link"],
                *(
                    "yes" if h[k] else "[red]no[/]"
                    for k in ("sshd", "nginx", "php_fpm", "database")
                ),
            )
        Console().print(table)
        for problem in report["problems"]:
            click.echo(f"problem: {problem}")
    if not report.get("up") or report.get("problems"):
        raise click.exceptions.Exit(int(ExitCode.ENVIRONMENT))


def _faults() -> Any:
    from runbook.sandbox.faults import FAULTS, describe

    return FAULTS, describe


@sandbox_cmd.command(
    "fault",
    help="Inject or clear a fault on a host (sshd, link, php, nginx, traffic) or a site "
    "(db, plugin).\n\n\b\n" + _faults()[1](),
)
@click.argument("fault", type=click.Choice(list(_faults()[0])))
@click.argument("target")
def fault_cmd(fault: str, target: str) -> None:
    from runbook.sandbox import faults

    faults.apply(fault, target)
    _say(f"{fault} {target}: done")


@sandbox_cmd.command("traffic")
@click.argument("sites", nargs=-1, required=True)
@click.option(
    "--rate", default="20/s", show_default=True, help="Requests per second (at most 200)."
)
@click.option("--duration", default="60s", show_default=True, help="How long (at most 10m).")
@click.option("--users", default=1000, show_default=True, help="Distinct users (X-MASE-User).")
def traffic_cmd(sites: tuple[str, ...], rate: str, duration: str, users: int) -> None:
    """Real HTTP requests to the sandbox's sites: pages and the plugin's REST routes, each as a
    user the plugin buckets for its rollout percentages. Only to the sandbox's own addresses;
    it stops by itself."""
    from runbook.sandbox import load
    from runbook.service.monitor import seconds

    try:
        per_second = float(rate.removesuffix("/s"))
        span = seconds(duration)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    load.send(list(sites), load.Load(rate=per_second, seconds=span, users=users), _say)
