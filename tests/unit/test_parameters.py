"""Each playbook parameter's pattern and default is defined once for the playbooks
(roles/runbook/vars/main.yml) and once for the command line (the catalog): they agree."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from runbook import catalog

ROOT = Path(__file__).resolve().parents[2]
PARAMETERS = yaml.safe_load((ROOT / "roles" / "runbook" / "vars" / "main.yml").read_text())


def test_the_catalogs_patterns_are_the_playbooks() -> None:
    checks = PARAMETERS["runbook_parameter_checks"]
    seen = set()
    for book in catalog.load().values():
        for p in book.parameters:
            if p.pattern:
                assert p.var in checks, f"{book.name} --{p.name}: no check in parameters.yml"
                assert checks[p.var]["pattern"] == p.pattern, f"{book.name} --{p.name}"
                seen.add(p.var)
    assert seen == set(checks), "parameters.yml checks a parameter no runbook has"


def test_the_catalogs_defaults_are_the_playbooks() -> None:
    for book in catalog.load().values():
        for p in book.parameters:
            if p.default is not None and p.type != "boolean":
                defaults = PARAMETERS["runbook_parameter_defaults"]
                assert defaults.get(p.var) == p.default, f"{book.name} --{p.name}"


def test_no_playbook_restates_a_default() -> None:
    for playbook in (ROOT / "playbooks").rglob("*.yml"):
        text = playbook.read_text()
        for name in ("backup", "since", "top", "keep", "no_restore", "feature"):
            assert not re.search(rf"\b{name} \| default\(", text), f"{playbook}: {name}"
            # Parameters are read from runbook_args, never as loose variables.
            assert not re.search(rf"{{{{ {name}\b", text), f"{playbook}: {name}"


def test_keep_is_one_value_in_every_layer() -> None:
    role = yaml.safe_load((ROOT / "roles" / "plugin_backup" / "defaults" / "main.yml").read_text())
    spec = yaml.safe_load(
        (ROOT / "roles" / "plugin_backup" / "meta" / "argument_specs.yml").read_text()
    )
    module = (ROOT / "src" / "runbook" / "ansible" / "modules" / "plugin_backup.py").read_text()
    doc = yaml.safe_load(module.split('DOCUMENTATION = r"""')[1].split('"""')[0])
    [book] = [b for b in catalog.load().values() if b.name == "backup"]
    [keep] = [p for p in book.parameters if p.name == "keep"]
    values = {
        "catalog": keep.default,
        "playbooks": PARAMETERS["runbook_parameter_defaults"]["keep"],
        "role": role["plugin_backup_keep"],
        "role spec": spec["argument_specs"]["main"]["options"]["plugin_backup_keep"].get("default"),
        "module doc": doc["options"]["keep"]["default"],
        "module spec": int(re.search(r'keep=dict\(type="int", default=(\d+)\)', module)[1]),  # type: ignore[index]
    }
    assert set(values.values()) == {10}, values
