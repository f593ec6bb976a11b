"""Which inventory a run uses, and which hosts (with their site) it targets."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runbook import yamlfile
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


def hosts(inventory: Inventory, limit: str | None) -> dict[str, str | None]:
    """The targeted hosts in inventory order, each with its `site` (None when it has none)."""
    return {
        h: (str(v["site"]) if v.get("site") is not None else None)
        for h, v in host_vars(inventory, limit, ("site",)).items()
    }


def host_vars(
    inventory: Inventory, limit: str | None, names: tuple[str, ...]
) -> dict[str, dict[str, Any]]:
    """The targeted hosts in inventory order, each with those of `names` it sets, read here on
    the controller (group_vars and host_vars merged, as Ansible merges them)."""
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
