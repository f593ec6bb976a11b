"""The Ansible content as a collection, runbook.wordpress: the roles, modules, module_utils,
filters, doc fragment and the record callback, under one namespace (the playbooks call
`runbook.wordpress.plugin_restore`, never a bare name another collection could also use).

The sources stay where the Python package and its tests use them (src/runbook/ansible/,
roles/); the collection is assembled from them: module_utils imports and doc fragments
rewritten to their collection names, galaxy.yml and meta/runtime.yml written. `build()` makes
the tarball `ansible-galaxy collection build` makes (for Galaxy, Automation Hub or AWX);
`installed()` keeps an assembled copy in the state directory, per content digest, which every
run of the wrapper uses (ANSIBLE_COLLECTIONS_PATH): the wrapper and ansible-playbook run the
same collection.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from runbook import __version__
from runbook.errors import ExitCode, RunbookError
from runbook.paths import ansible_plugin_dir, content_dir, state_dir

NAMESPACE = "runbook"
NAME = "wordpress"
FQCN = f"{NAMESPACE}.{NAME}"
REQUIRES_ANSIBLE = ">=2.19.0,<2.20.0"
#: Collection plugin folder -> the package's folder.
PLUGINS = {
    "modules": "modules",
    "module_utils": "module_utils",
    "filter": "filter_plugins",
    "doc_fragments": "doc_fragments",
    "callback": "callback_plugins",
}
_MODULE_UTILS = re.compile(r"\bansible\.module_utils\.(runbook_\w+)")
_FRAGMENT = re.compile(r"^(\s*-\s*)(runbook_wp)\s*$", re.M)

GALAXY = """\
# Written by runbook (runbook.collection): the collection is assembled from the repository.
namespace: {namespace}
name: {name}
version: {version}
readme: README.md
authors:
  - runbook developers
description: >-
  Incident response for WordPress plugin fleets: backups, verified restores, site locks,
  feature flags, caches, smoke tests, log health and evidence, as roles and modules.
license:
  - MIT
tags: [wordpress, incident, rollback, wpcli]
dependencies: {{}}
repository: https://github.com/runbook/runbook
build_ignore:
  - "**/molecule"
  - "**/__pycache__"
  - "*.tar.gz"
"""
RUNTIME = f'---\nrequires_ansible: "{REQUIRES_ANSIBLE}"\n'
README = f"""# {FQCN}

runbook's Ansible content: the roles (`{FQCN}.preflight`, `site_lock`, `site_status`,
`plugin_backup`, `plugin_restore`, `feature_flags`, `caches`, `smoke_test`, `log_health`), the
modules they call (`{FQCN}.plugin_restore`, `wp_site_info`, ...), the `site_leader` filter,
the `runbook_wp` doc fragment, and the `runbook_record` callback (it needs the `runbook`
Python package). The playbooks that use them live in runbook's repository; see its README,
*Without the wrapper*.
"""


def _sources() -> list[tuple[Path, Path]]:
    """(source file, its path in the collection), sorted."""
    out: list[tuple[Path, Path]] = []
    plugins = ansible_plugin_dir()
    for kind, folder in PLUGINS.items():
        for path in sorted((plugins / folder).glob("*.py")):
            if path.name != "__init__.py":
                out.append((path, Path("plugins") / kind / path.name))
    roles = content_dir() / "roles"
    for path in sorted(roles.rglob("*")):
        rel = path.relative_to(roles)
        if path.is_file() and "molecule" not in rel.parts and "__pycache__" not in rel.parts:
            out.append((path, Path("roles") / rel))
    return out


def _text(source: Path, dest: Path) -> bytes:
    data = source.read_bytes()
    if dest.parts[0] == "plugins":
        text = data.decode("utf-8")
        text = _MODULE_UTILS.sub(
            rf"ansible_collections.{NAMESPACE}.{NAME}.plugins.module_utils.\1", text
        )
        text = _FRAGMENT.sub(rf"\g<1>{FQCN}.\2", text)
        data = text.encode("utf-8")
    return data


def digest() -> str:
    """What the assembled collection would hold, as one sha256 (its cache key)."""
    h = hashlib.sha256(f"{__version__}\n{REQUIRES_ANSIBLE}\n".encode())
    for source, dest in _sources():
        h.update(f"{dest}\0".encode())
        h.update(_text(source, dest))
    return h.hexdigest()


def assemble(root: Path) -> Path:
    """The collection in `root`/ansible_collections/runbook/wordpress; returns that folder."""
    folder = root / "ansible_collections" / NAMESPACE / NAME
    folder.mkdir(parents=True, exist_ok=True)
    for source, dest in _sources():
        target = folder / dest
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(_text(source, dest))
        target.chmod(0o644)
    (folder / "meta").mkdir(exist_ok=True)
    (folder / "meta" / "runtime.yml").write_text(RUNTIME)
    (folder / "galaxy.yml").write_text(
        GALAXY.format(namespace=NAMESPACE, name=NAME, version=__version__)
    )
    (folder / "README.md").write_text(README)
    # runbook is MIT-licensed: validate-modules' GPLv3 header check does not apply (the one
    # sanity finding ignored, per file, as ansible-test expects).
    ignores = [
        f"{dest.as_posix()} validate-modules:missing-gplv3-license # MIT (see LICENSE)"
        for _source, dest in _sources()
        if dest.parts[:2] in (("plugins", "modules"), ("plugins", "callback"))
    ]
    sanity = folder / "tests" / "sanity"
    sanity.mkdir(parents=True, exist_ok=True)
    (
        sanity / f"ignore-{REQUIRES_ANSIBLE.split(',', maxsplit=1)[0].removeprefix('>=')[:4]}.txt"
    ).write_text("\n".join(ignores) + "\n")
    return folder


def installed() -> Path:
    """A collections path holding the assembled collection (state dir, per content digest):
    what ANSIBLE_COLLECTIONS_PATH names for every run. Made once, atomically."""
    base = state_dir() / "collections"
    key = digest()[:16]
    path = base / key
    if (path / "ansible_collections" / NAMESPACE / NAME / "galaxy.yml").is_file():
        return path
    base.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(dir=base, prefix=f".{key}-"))
    try:
        assemble(scratch)
        scratch.chmod(0o755)
        try:
            scratch.rename(path)
        except OSError:  # another process made it first
            shutil.rmtree(scratch, ignore_errors=True)
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    for old in base.iterdir():  # earlier contents: a digest no longer made
        if old.name != key and not old.name.startswith("."):
            shutil.rmtree(old, ignore_errors=True)
    return path


def _galaxy(*args: str) -> None:
    """ansible-galaxy (the venv's), offline; its own words when it fails."""
    galaxy = Path(sys.executable).parent / "ansible-galaxy"
    proc = subprocess.run(
        [str(galaxy if galaxy.exists() else "ansible-galaxy"), "collection", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "ANSIBLE_NOCOLOR": "1"},
        check=False,
    )
    if proc.returncode != 0:
        raise RunbookError(
            f"ansible-galaxy collection {args[0]} failed: "
            + (proc.stderr or proc.stdout).strip()[-600:],
            ExitCode.ENVIRONMENT,
        )


def build(output: Path) -> Path:
    """The collection's tarball, as `ansible-galaxy collection build` makes it, in `output`."""
    output.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="runbook-collection-") as scratch:
        folder = assemble(Path(scratch))
        _galaxy("build", str(folder), "--output-path", str(output), "--force")
    return output / f"{NAMESPACE}-{NAME}-{__version__}.tar.gz"


def install(tarball: Path, into: Path) -> None:
    """`ansible-galaxy collection install TARBALL -p INTO` (offline: a file)."""
    _galaxy("install", str(tarball), "-p", str(into), "--force")
