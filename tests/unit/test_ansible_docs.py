"""Every module's and role's documentation parses, as ansible-doc shows it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from tests.conftest import REPO

PLUGINS = REPO / "src" / "runbook" / "ansible"
MODULES = sorted(p.stem for p in (PLUGINS / "modules").glob("*.py") if p.stem != "__init__")
ROLES = sorted(p.name for p in (REPO / "roles").iterdir() if (p / "tasks").is_dir())


FQCN = "runbook.wordpress"


@cache
def _collections() -> str:
    """The collection as the playbooks use it, assembled once for this module's tests."""
    from runbook import collection

    root = Path(tempfile.mkdtemp(prefix="runbook-docs-"))
    collection.assemble(root)
    return str(root)


def ansible_doc(*args: str) -> dict[str, Any]:
    env = {
        **os.environ,
        "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"),
        "ANSIBLE_COLLECTIONS_PATH": _collections(),
    }
    out = subprocess.run(
        [str(Path(sys.executable).parent / "ansible-doc"), "--json", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=120,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    docs: dict[str, Any] = json.loads(out.stdout)
    return docs


def test_ansible_doc_reads_every_module() -> None:
    docs = ansible_doc("-t", "module", *(f"{FQCN}.{m}" for m in MODULES))
    # A module whose docs do not parse is left out.
    assert sorted(docs) == [f"{FQCN}.{m}" for m in MODULES]
    for name, doc in docs.items():
        assert doc["doc"]["short_description"], name
        assert doc["examples"] and doc["return"], name
    # The WP-CLI options come from one fragment (doc_fragments/runbook_wp.py).
    for name in ("wp_option_json", "wp_site_caches", "wp_site_info", "wp_investigate_info"):
        options = docs[f"{FQCN}.{name}"]["doc"]["options"]
        assert {"path", "wp_bin", "allow_root", "url"} <= set(options), name
        assert options["path"]["required"] is True


def test_every_role_documents_every_input_once() -> None:
    """argument_specs parse; every input has a default in defaults/main.yml and a spec."""
    docs = ansible_doc("-t", "role", "-r", str(REPO / "roles"), *ROLES)
    # The checkout's roles (the collection's copies of them are listed too).
    assert [f"{FQCN}.{r}" for r in ROLES] == sorted(k for k in docs if k.startswith(FQCN))
    docs = {k: v for k, v in docs.items() if k in ROLES}
    assert sorted(docs) == ROLES
    for role, doc in docs.items():
        spec = {o for e in doc["entry_points"].values() for o in (e.get("options") or {})}
        defaults = yaml.safe_load((REPO / "roles" / role / "defaults" / "main.yml").read_text())
        assert spec == set(defaults or {}), role
        assert (REPO / "roles" / role / "README.md").is_file(), role


def test_ansible_doc_reads_the_callback() -> None:
    docs = ansible_doc("-t", "callback", f"{FQCN}.runbook_record")
    doc = docs[f"{FQCN}.runbook_record"]["doc"]
    assert doc["type"] == "aggregate" and "state_dir" in doc["options"]
