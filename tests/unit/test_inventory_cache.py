"""The controller's inventory read kept between runs: given back only while every file it
was read from is unchanged, never for an inventory files cannot describe, never trusted when
damaged."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from runbook import inventory as inv


def inventory(
    tmp_path: Path, text: str = "all:\n  hosts:\n    web-1:\n      site: a\n"
) -> inv.Inventory:
    (tmp_path / "hosts.yml").write_text(text)
    return inv.Inventory((tmp_path / "hosts.yml",), "-i")


def kept(cache: Path) -> list[Path]:
    return sorted(cache.glob("inventory-*.json"))


def test_a_kept_read_is_given_back_while_nothing_changed(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    source = inventory(tmp_path)
    assert inv.hosts(source, None, cache) == {"web-1": "a"}
    (entry,) = kept(cache)
    # What is kept is what the next run gets: changed here (and only here), it is given back.
    data = json.loads(entry.read_text())
    data["value"] = [["web-1", {"site": "kept"}]]
    entry.write_text(json.dumps(data))
    assert inv.hosts(source, None, cache) == {"web-1": "kept"}


@pytest.mark.parametrize("where", ["hosts.yml", "group_vars/all.yml", "host_vars/web-1.yml"])
def test_any_change_to_the_inventory_or_its_vars_reads_it_again(tmp_path: Path, where: str) -> None:
    cache = tmp_path / "cache"
    source = inventory(tmp_path, "all:\n  hosts:\n    web-1:\n")
    for folder in ("group_vars", "host_vars"):
        (tmp_path / folder).mkdir()
    (tmp_path / "group_vars" / "all.yml").write_text("site: from-group\n")
    # (Ansible keeps the list of vars files it found for the process: these exist from the start.)
    (tmp_path / "host_vars" / "web-1.yml").write_text("other: 1\n")
    assert inv.hosts(source, None, cache) == {"web-1": "from-group"}
    texts = {
        "hosts.yml": "all:\n  hosts:\n    web-1:\n      site: from-host\n",
        "group_vars/all.yml": "site: group-changed\n",
        "host_vars/web-1.yml": "site: from-host-vars\n",
    }
    (tmp_path / where).write_text(texts[where])
    wanted = {"hosts.yml": "from-host", "group_vars/all.yml": "group-changed"}
    assert inv.hosts(source, None, cache) == {"web-1": wanted.get(where, "from-host-vars")}


def test_the_limit_and_the_names_asked_have_their_own_entries(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    source = inventory(
        tmp_path, "all:\n  hosts:\n    web-1:\n      site: a\n    web-2:\n      site: b\n"
    )
    assert inv.hosts(source, None, cache) == {"web-1": "a", "web-2": "b"}
    assert inv.hosts(source, "web-2", cache) == {"web-2": "b"}
    assert inv.host_vars(source, None, ("site", "nothing"), cache)["web-1"] == {"site": "a"}
    assert len(kept(cache)) == 3


def test_a_damaged_or_foreign_entry_is_read_over(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    source = inventory(tmp_path)
    inv.hosts(source, None, cache)
    (entry,) = kept(cache)
    for text in ("{not json", "[]", json.dumps({"identity": "x", "value": []})):
        entry.write_text(text)
        assert inv.hosts(source, None, cache) == {"web-1": "a"}
    fingerprint = json.loads(entry.read_text())["identity"]
    entry.write_text(json.dumps({"identity": fingerprint, "value": [["web-1", "a string"]]}))
    assert inv.hosts(source, None, cache) == {"web-1": "a"}


def test_scripts_and_plugins_are_read_every_time(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    plugin = inventory(tmp_path, "plugin: ansible.builtin.constructed\n")
    assert inv._fingerprint(plugin, None, ("site",)) is None
    script = tmp_path / "inventory.sh"
    script.write_text('#!/bin/sh\necho \'{"all": {"hosts": ["web-9"], "vars": {"site": "s"}}}\'\n')
    os.chmod(script, 0o755)
    source = inv.Inventory((script,), "-i")
    assert inv.hosts(source, None, cache) == {"web-9": "s"}
    assert kept(cache) == []


def test_no_cache_folder_keeps_nothing(tmp_path: Path) -> None:
    source = inventory(tmp_path)
    assert inv.hosts(source, None) == {"web-1": "a"}
    assert not (tmp_path / "cache").exists()


def test_nothing_is_kept_on_a_nearly_full_disk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The run record needs the room more than a cache does (the fault suite's full state disk
    found a cache entry taking the record's last pages)."""
    real = os.statvfs

    class Full:
        def __init__(self, path: object) -> None:
            st = real(path)  # type: ignore[arg-type]
            self.f_frsize = st.f_frsize
            self.f_bavail = 1

    monkeypatch.setattr(os, "statvfs", Full)
    cache = tmp_path / "cache"
    assert inv.hosts(inventory(tmp_path), None, cache) == {"web-1": "a"}
    assert not cache.exists()
