"""module_utils/runbook_lock.py and the leader filters, as plain Python: the lock logic
site_lock, wp_site_info (lock) and mase_smoke_test (release_lock) share, and the per-run
table of each site's first node that spares every task a walk through every host's
variables."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest

from runbook.ansible.module_utils import runbook_lock as lock

REPO = Path(__file__).resolve().parents[2]


def params(tmp_path: Path, run_id: str = "run-1", **extra: Any) -> dict[str, Any]:
    values = {k: spec.get("default") for k, spec in lock.LOCK_SPEC.items()}
    values.update(lock_dir=str(tmp_path), site="shop", run_id=run_id, reason="P0")
    values.update(extra)
    return values


def test_a_lock_is_taken_once_and_named_when_another_run_holds_it(tmp_path: Path) -> None:
    taken = lock.take(params(tmp_path), check_mode=False)
    assert taken["changed"] and taken["lock_held"] is False
    assert taken["runbook_report"]["site"]["lock"]["run_id"] == "run-1"
    assert json.loads((tmp_path / "shop.lock").read_text())["reason"] == "P0"
    # The same run again: held already, nothing changes.
    assert lock.take(params(tmp_path), check_mode=False)["changed"] is False
    with pytest.raises(lock.LockError, match="locked by run run-1") as held:
        lock.take(params(tmp_path, run_id="run-2"), check_mode=False)
    assert held.value.result["lock_held"] is True


def test_a_lock_of_an_ended_run_is_taken_over_and_said(tmp_path: Path) -> None:
    lock.take(params(tmp_path), check_mode=False)
    taken = lock.take(
        params(tmp_path, run_id="run-2", ended_runs={"run-1": "failed"}), check_mode=False
    )
    assert taken["ended_from"]["run_id"] == "run-1"
    assert taken["runbook_report"]["site"]["lock_taken_over"]["why"] == "its run is over (failed)"


def test_release_leaves_another_runs_lock_and_a_corrupt_lock_counts_as_expired(
    tmp_path: Path,
) -> None:
    lock.take(params(tmp_path), check_mode=False)
    left = lock.release(str(tmp_path), "shop", "run-2", check_mode=False)
    assert left["lock_held"] is True and (tmp_path / "shop.lock").exists()
    done = lock.release(str(tmp_path), "shop", "run-1", check_mode=False)
    assert done["runbook_report"]["site"]["lock_released"] is True
    assert not (tmp_path / "shop.lock").exists()
    (tmp_path / "shop.lock").write_text("[1, 2]")  # JSON, but not a lock
    assert "expired_lock" in lock.take(params(tmp_path), check_mode=False)


def test_check_mode_takes_and_releases_nothing(tmp_path: Path) -> None:
    assert lock.take(params(tmp_path), check_mode=True)["changed"] is True
    assert not (tmp_path / "shop.lock").exists()


def test_a_site_name_that_is_a_path_is_refused(tmp_path: Path) -> None:
    with pytest.raises(lock.LockError, match="not a valid site name"):
        lock.take(params(tmp_path, site="../etc/passwd"), check_mode=False)


def filters() -> dict[str, Any]:
    path = REPO / "src/runbook/ansible/filter_plugins/runbook_filters.py"
    spec = importlib.util.spec_from_file_location("runbook_filters", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.FilterModule().filters()  # type: ignore[no-any-return]


class CountingHostvars(dict[str, dict[str, Any]]):
    """hostvars that count their lookups (Ansible works each host's variables out anew)."""

    looked_up = 0

    def __getitem__(self, host: str) -> dict[str, Any]:
        self.looked_up += 1
        return super().__getitem__(host)


def test_leaders_are_noted_once_and_trusted_only_for_the_same_hosts() -> None:
    f = filters()
    hostvars = CountingHostvars(
        {h: {"site": h.split("-")[0]} for h in ("a-1", "a-2", "b-1", "b-2")}
    )
    hosts = list(hostvars)
    known = f["site_leaders"](hosts, hostvars)
    assert known == {"hosts": hosts, "leaders": {"a": "a-1", "b": "b-1"}}
    hostvars.looked_up = 0
    assert f["site_leader"](hosts, hostvars, "b", known) == "b-1"
    assert hostvars.looked_up == 0  # nothing walked
    # b-1 left the play: the table is for other hosts, so the walk happens and finds b-2.
    assert f["site_leader"](["a-1", "a-2", "b-2"], hostvars, "b", known) == "b-2"
    assert hostvars.looked_up > 0


def test_locked_sites_count_locks_taken_by_either_call_and_no_other() -> None:
    f = filters()
    hostvars = {
        "a-1": {"site": "a", "site_status_node": {"lock_taken": {"lock_held": False}}},
        "a-2": {"site": "a", "site_lock_taken": {"skipped": True}},
        "b-1": {"site": "b", "site_status_node": {"lock_held": True}},  # held by another run
        "c-1": {"site": "c", "site_status_node": {}, "site_lock_taken": {"lock_held": False}},
    }
    assert f["locked_sites"](list(hostvars), hostvars) == ["a", "c"]


def test_stand_ins_are_the_next_nodes_of_sites_whose_first_node_is_gone() -> None:
    f = filters()
    hostvars = {
        "a-1": {"site": "a"},  # unreachable at the read: a-2 stands in
        "a-2": {"site": "a"},
        "b-1": {"site": "b", "site_status_node": {"lock_held": True}},  # another run's: stops
        "b-2": {"site": "b"},
        "c-1": {"site": "c"},
        "c-2": {"site": "c"},
        "d-1": {"site": "d"},  # no node of d left
    }
    known = f["site_leaders"](list(hostvars), hostvars)
    assert f["stand_ins"](["a-2", "b-2", "c-1", "c-2"], hostvars, known) == ["a-2"]
    assert f["stand_ins"](list(hostvars), hostvars, known) == []


def test_unread_nodes_of_a_site_whose_first_node_is_gone_are_all_candidates() -> None:
    """lock_read_nodes: first: only first nodes were read; where one is gone, every other
    node of its site is read next, and the first to answer stands in."""
    f = filters()
    unread = {"skipped": True}
    hostvars = {
        "a-1": {"site": "a"},  # unreachable
        "a-2": {"site": "a", "site_status_node": unread},
        "a-3": {"site": "a", "site_status_node": unread},
        "b-1": {"site": "b", "site_status_node": {"lock_taken": {}}},
        "b-2": {"site": "b", "site_status_node": unread},
    }
    known = f["site_leaders"](list(hostvars), hostvars)
    assert f["stand_ins"](["a-2", "a-3", "b-1", "b-2"], hostvars, known) == ["a-2", "a-3"]


def test_nodes_outside_the_held_sites_are_the_ones_to_stop() -> None:
    f = filters()
    hostvars = {h: {"site": h.split("-")[0]} for h in ("a-1", "a-2", "b-1", "c-1")}
    assert f["nodes_outside"](list(hostvars), hostvars, ["a", "c"]) == ["b-1"]
    assert f["nodes_outside"](list(hostvars), hostvars, []) == list(hostvars)


def test_lock_holders_are_the_nodes_that_took_a_lock_and_did_not_release_it() -> None:
    f = filters()
    taken = {"lock_taken": {"lock_held": False}}
    hostvars = {
        "a-1": {"site_status_node": taken, "smoke_test_result": {"lock_released": True}},
        "a-2": {"site_status_node": {}},  # read, took none
        "b-1": {"site_status_node": taken, "smoke_test_result": {"lock_released": False}},
        "c-1": {"site_status_node": {}, "site_lock_taken": {"lock_held": False}},
        "c-2": {"site_status_node": {}, "site_lock_taken": {"skipped": True}},
        "d-1": {},  # outside runbook's playbooks: neither call registered, so released
    }
    assert f["lock_holders"](list(hostvars), hostvars) == ["b-1", "c-1", "d-1"]


def test_lacking_vars_are_the_hosts_preflight_would_stop() -> None:
    f = filters()
    hostvars = {
        "a-1": {"site": "a", "wp_path": "/w"},
        "a-2": {"site": "a"},
        "b-1": {"wp_path": "/w"},
        "b-2": {"site": "b", "wp_path": "/w"},
    }
    assert f["lacking_vars"](list(hostvars), hostvars, ["site", "wp_path"]) == ["a-2", "b-1"]
    assert f["lacking_vars"](list(hostvars), hostvars, []) == []


def test_options_not_set_are_the_nodes_whose_lock_call_could_not_write() -> None:
    f = filters()
    hostvars = {
        "a-1": {"site_status_node": {"set_error": "cannot read mase_feature_flags in /w: x"}},
        "a-2": {"site_status_node": {"options_set": []}},  # written
        "b-1": {"site_status_node": {"set_error": ""}},
        "c-1": {"site_status_node": {"skipped": True}},
        "d-1": {},  # never read
    }
    assert f["options_not_set"](list(hostvars), hostvars) == ["a-1"]
