from __future__ import annotations

import pytest

from runbook.errors import RunbookError
from runbook.sandbox import topology


def test_default_fleet_has_both_topologies() -> None:
    t = topology.build()
    assert [(s.name, len(s.nodes)) for s in t.sites] == [("alpha", 2), ("beta", 1)]
    assert [n.name for n in t.nodes] == ["alpha-1", "alpha-2", "beta-1"]
    assert len({n.ip for n in t.nodes}) == 3
    assert t.gateway not in {n.ip for n in t.nodes}


def test_thirty_hosts_fit_and_names_are_short() -> None:
    t = topology.build(15, 2)
    assert len(t.nodes) == 30
    assert all(len(n.veth_host) <= 15 and len(n.netns) < 64 for n in t.nodes)
    assert len({s.db_port for s in t.sites}) == 15


def test_round_trip_through_state() -> None:
    t = topology.build(3, 2)
    assert topology.from_dict(t.to_dict()) == t


def test_too_many_hosts_refused() -> None:
    with pytest.raises(RunbookError, match="do not fit"):
        topology.build(100, 20)


def test_bad_prefix_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RUNBOOK_SANDBOX_PREFIX", "Bad-Prefix")
    with pytest.raises(RunbookError, match="RUNBOOK_SANDBOX_PREFIX"):
        _ = topology.build().nodes[0].netns
