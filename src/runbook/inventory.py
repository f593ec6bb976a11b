"""Which inventory a run uses, and which hosts (with their site) it targets."""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runbook import statecache, yamlfile
from runbook.errors import ExitCode, RunbookError


@dataclass(frozen=True)
class Inventory:
    sources: tuple[Path, ...]
    origin: str  # how it was chosen: "-i", "RUNBOOK_INVENTORY", "runbook.yml", "sandbox"

    def __str__(self) -> str:
        return ",".join(str(s) for s in self.sources)


def project_config(project: Path | None) -> dict[str, Any]:
    if project is None:
        return {}
    path = project / "runbook.yml"
    if not path.exists():
        return {}  # --project may name a folder with only runbooks/ and playbooks/
    data = yamlfile.load(path, "the project configuration") or {}
    if not isinstance(data, dict):
        raise RunbookError(f"{path}: the project configuration must be a mapping")
    return data


def resolve(
    given: tuple[str, ...], project: Path | None, warn: Any, fallback: Path | None = None
) -> Inventory:
    """-i, else $RUNBOOK_INVENTORY, else the project's runbook.yml, else `fallback` (the CLI
    passes the running sandbox's)."""
    if given:
        origin, raw = "-i", list(given)
    elif os.environ.get("RUNBOOK_INVENTORY"):
        origin, raw = "RUNBOOK_INVENTORY", os.environ["RUNBOOK_INVENTORY"].split(",")
    elif project is not None and project_config(project).get("inventory"):
        origin = "runbook.yml"
        value = project_config(project)["inventory"]
        raw = [str(project / v) for v in ([value] if isinstance(value, str) else value)]
    else:
        if fallback is None or not fallback.is_file():
            raise RunbookError(
                "no inventory: pass -i INVENTORY, set RUNBOOK_INVENTORY, name one in your "
                "project's runbook.yml, or start the sandbox with `runbook sandbox up`"
            )
        warn(f"runbook: no inventory given; using the sandbox's ({fallback})")
        origin, raw = "sandbox", [str(fallback)]
    sources = []
    for item in raw:
        path = Path(item).expanduser()
        if not path.exists():
            raise RunbookError(f"inventory {item} ({origin}): no such file or directory")
        sources.append(path.resolve())
    return Inventory(tuple(sources), origin)


def hosts(
    inventory: Inventory, limit: str | None, cache: Path | None = None
) -> dict[str, str | None]:
    """The targeted hosts in inventory order, each with its `site` (None when it has none)."""
    return {
        h: (str(v["site"]) if v.get("site") is not None else None)
        for h, v in host_vars(inventory, limit, ("site",), cache).items()
    }


def host_vars(
    inventory: Inventory, limit: str | None, names: tuple[str, ...], cache: Path | None = None
) -> dict[str, dict[str, Any]]:
    """The targeted hosts in inventory order, each with those of `names` it sets, read here on
    the controller (group_vars and host_vars merged, as Ansible merges them).

    With `cache` (a private folder), the answer is kept there with the fingerprint of
    everything it was read from (_fingerprint) and given back while that is unchanged: reading
    an inventory means importing Ansible's inventory code first, a quarter of a second before
    every run. An inventory files alone cannot describe (a script, a plugin) is read each time.
    """
    fingerprint = _fingerprint(inventory, limit, names) if cache is not None else None
    if cache is None or fingerprint is None:
        return _read_host_vars(inventory, limit, names)
    name = "inventory-" + _digest(inventory.sources, limit, names)[:24] + ".json"
    pairs = statecache.get(cache, name, fingerprint)
    if isinstance(pairs, list) and all(
        isinstance(p, list) and len(p) == 2 and isinstance(p[0], str) and isinstance(p[1], dict)
        for p in pairs
    ):
        return {host: values for host, values in pairs}
    result = _read_host_vars(inventory, limit, names)
    statecache.put(cache, name, fingerprint, [[h, v] for h, v in result.items()])
    return result


#: Inventory files that hold their hosts themselves (the ini, yaml and toml plugins' files); a
#: YAML file naming a `plugin:` gets its hosts from elsewhere, as does an executable (a script).
_STATIC_SUFFIXES = frozenset({"", ".ini", ".cfg", ".yml", ".yaml", ".json", ".toml"})
_PLUGIN_KEY = re.compile(r"^plugin\s*:", re.MULTILINE)
_CACHE_FORMAT = 1


def _digest(*parts: Any) -> str:
    return hashlib.sha256(repr(parts).encode()).hexdigest()


def _files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    found = []
    for root, dirs, files in os.walk(path):
        dirs.sort()
        found += [Path(root) / f for f in sorted(files)]
    return found


def _static(path: Path) -> bool:
    if path.suffix not in _STATIC_SUFFIXES or os.access(path, os.X_OK):
        return False
    if path.suffix in (".yml", ".yaml", ".json"):
        try:
            return not _PLUGIN_KEY.search(path.read_text(errors="replace"))
        except OSError:
            return False
    return True


def _fingerprint(inventory: Inventory, limit: str | None, names: tuple[str, ...]) -> str | None:
    """What host_vars' answer depends on, as one digest: every file of the inventory and of the
    group_vars/ and host_vars/ beside it (path, inode, size, modification time), the limit and
    the names asked, Ansible's settings (its ANSIBLE_* variables and config files) and where
    Ansible is installed. None where files cannot say it (an inventory script or plugin)."""
    import importlib.util

    facts: list[Any] = [_CACHE_FORMAT, limit, names]
    facts.append(sorted((k, v) for k, v in os.environ.items() if k.startswith("ANSIBLE_")))
    spec = importlib.util.find_spec("ansible")
    watched = [Path(spec.origin)] if spec is not None and spec.origin else []
    watched += [
        Path(p).expanduser()
        for p in (os.environ.get("ANSIBLE_CONFIG"), "ansible.cfg", "~/.ansible.cfg")
        if p
    ]
    watched.append(Path("/etc/ansible/ansible.cfg"))
    try:
        for source in inventory.sources:
            files = _files(source)
            if not files or not all(_static(f) for f in files):
                return None
            base = source if source.is_dir() else source.parent
            for extra in (base / "group_vars", base / "host_vars"):
                if extra.exists():
                    files += _files(extra)
            watched += files
        for path in watched:
            try:
                st = path.stat()
            except FileNotFoundError:
                facts.append((str(path.absolute()), None))
                continue
            facts.append((str(path.absolute()), st.st_ino, st.st_size, st.st_mtime_ns))
    except OSError:
        return None
    return _digest(*facts)


def _read_host_vars(
    inventory: Inventory, limit: str | None, names: tuple[str, ...]
) -> dict[str, dict[str, Any]]:
    from ansible.errors import AnsibleError
    from ansible.inventory.manager import InventoryManager
    from ansible.parsing.dataloader import DataLoader
    from ansible.vars.manager import VariableManager

    loader = DataLoader()
    try:
        manager = InventoryManager(loader=loader, sources=[str(s) for s in inventory.sources])
        if limit:
            manager.subset(limit)
        found = manager.get_hosts("all")
    except AnsibleError as exc:
        raise RunbookError(f"inventory {inventory}: {exc}") from None
    if not manager.groups["all"].get_hosts() and not manager.groups["ungrouped"].get_hosts():
        raise RunbookError(f"inventory {inventory}: no hosts in it", ExitCode.USAGE)
    # The variable manager adds group_vars/ and host_vars/ beside the inventory, as Ansible does.
    variables = VariableManager(loader=loader, inventory=manager)
    result: dict[str, dict[str, Any]] = {}
    try:
        for host in found:
            merged = variables.get_vars(host=host, include_hostvars=False)
            result[host.name] = {n: merged[n] for n in names if n in merged}
    except AnsibleError as exc:
        raise RunbookError(f"inventory {inventory}: {exc}") from None
    return result
