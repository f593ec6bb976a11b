"""`runbook collection build|install`: the Ansible content as the runbook.wordpress collection."""

from __future__ import annotations

from pathlib import Path

import click

from runbook.service import collection as service


@click.group("collection")
def collection_cmd() -> None:
    """The roles, modules, filters and callback as the runbook.wordpress Ansible collection.

    \b
    runbook collection build -o dist/     the tarball for Galaxy, Automation Hub or AWX
    runbook collection install            into ./collections, where ansible.cfg looks
    runbook collection install -p DIR     anywhere else (ANSIBLE_COLLECTIONS_PATH=DIR)
    """


@collection_cmd.command("build")
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("dist"),
    show_default=True,
)
def build_cmd(output: Path) -> None:
    """Assemble the collection and build its tarball (ansible-galaxy collection build)."""
    click.echo(service.build(output))


@collection_cmd.command("install")
@click.option("-p", "--path", "into", type=click.Path(path_type=Path, file_okay=False))
def install_cmd(into: Path | None) -> None:
    """Build it and install it (ansible-galaxy collection install, offline)."""
    tarball, where = service.install(into)
    click.echo(f"{tarball} installed in {where}")
