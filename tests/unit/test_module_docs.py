"""Every module's documentation parses, as ansible-doc shows it, and matches what it takes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO

PLUGINS = REPO / "src" / "runbook" / "ansible"
MODULES = sorted(p.stem for p in (PLUGINS / "modules").glob("*.py") if p.stem != "__init__")


def test_ansible_doc_reads_every_module() -> None:
    env = {
        **os.environ,
        "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"),
        "ANSIBLE_LIBRARY": str(PLUGINS / "modules"),
        "ANSIBLE_DOC_FRAGMENT_PLUGINS": str(PLUGINS / "doc_fragments"),
    }
    out = subprocess.run(
        [str(Path(sys.executable).parent / "ansible-doc"), "-t", "module", "--json", *MODULES],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=120,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    docs = json.loads(out.stdout)
    assert sorted(docs) == MODULES, out.stderr  # a module whose docs do not parse is left out
    for name, doc in docs.items():
        assert doc["doc"]["short_description"], name
        assert doc["examples"] and doc["return"], name
    # The WP-CLI options come from one fragment (doc_fragments/runbook_wp.py).
    for name in ("wp_option_json", "wp_site_caches", "wp_site_info"):
        options = docs[name]["doc"]["options"]
        assert {"path", "wp_bin", "allow_root", "url"} <= set(options), name
        assert options["path"]["required"] is True
