"""The sandbox's faults live in one table: the CLI, the tests and the README read it."""

from __future__ import annotations

import re

from click.testing import CliRunner
from tests.conftest import REPO

from runbook.cli import cli
from runbook.sandbox.faults import FAULTS


def test_every_fault_has_a_known_target_and_a_real_undo() -> None:
    for fault in FAULTS.values():
        assert fault.target in ("host", "site"), fault.name
        if fault.undo:
            assert FAULTS[fault.undo].target == fault.target, fault.name
            assert FAULTS[fault.undo].undo is None, f"{fault.undo} undoes {fault.name}: it is final"


def test_the_readme_lists_every_fault_and_its_undo() -> None:
    readme = (REPO / "README.md").read_text()
    rows = dict(
        re.findall(r"^\| `([a-z-]+)` \| (?:host|site) \|[^|]*\| (`[a-z-]+`)? ?\|$", readme, re.M)
    )
    undone = {f.undo for f in FAULTS.values() if f.undo}
    listed = {name for name in FAULTS if name not in undone}
    assert set(rows) == listed
    for name, undo in rows.items():
        assert undo.strip("`") == (FAULTS[name].undo or ""), name


def test_the_cli_offers_and_explains_every_fault() -> None:
    result = CliRunner().invoke(cli, ["sandbox", "fault", "--help"])
    assert result.exit_code == 0
    for fault in FAULTS.values():
        assert fault.name in result.output and fault.help in " ".join(result.output.split())
