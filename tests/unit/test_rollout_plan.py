"""A rollout's plan and state machine, as pure code: steps, waves, gates, resumption."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from runbook.errors import RunbookError
from runbook.rollout import plan as plans

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def test_steps_and_waves() -> None:
    assert plans.steps_from("10,50,100") == [10, 50, 100]
    for bad in ("", "10,5", "0,100", "10,10,100", "ten"):
        with pytest.raises(RunbookError):
            plans.steps_from(bad)
    assert plans.waves(["alpha", "beta", "gamma"], ["beta"]) == [["beta"], ["alpha", "gamma"]]
    assert plans.waves(["alpha", "beta"], []) == [["alpha", "beta"]]
    with pytest.raises(RunbookError, match="--canary-sites delta: not among the sites"):
        plans.waves(["alpha"], ["delta"])


def test_canaries_pass_each_step_before_the_rest() -> None:
    plan = plans.new_plan([10, 100], [["beta"], ["alpha"]], 60, None)
    state = plans.new_state()
    seen = []
    while (here := plans.current(plan, state)) is not None:
        percent, sites = here
        assert state["phase"] == "write"
        plans.wrote(state, sites, percent, NOW, 60)
        assert state["phase"] == "analyse"
        assert state["analysis_until"] == "2026-11-30T12:01:00Z"
        assert plans.gate("green", plan, state).outcome == "pass"
        seen.append((percent, sites))
        plans.advance(plan, state)
    assert seen == [(10, ["beta"]), (10, ["alpha"]), (100, ["beta"]), (100, ["alpha"])]
    assert state["written"] == {"beta": 100, "alpha": 100}


def test_gates() -> None:
    plan = plans.new_plan([10, 100], [["a"]], 30, 20)
    state = plans.new_state()
    plans.wrote(state, ["a"], 10, NOW, 30)
    assert plans.gate("red", plan, state).outcome == "abort"
    assert plans.gate("yellow", plan, state).outcome == "pause"
    for _ in range(plan["max_extensions"]):
        assert plans.gate("inconclusive", plan, state).outcome == "extend"
        plans.extend(plan, state)
    assert state["analysis_until"] == (NOW + timedelta(seconds=90)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert plans.gate("inconclusive", plan, state).outcome == "pause"


def test_a_resumed_rollout_goes_on_from_its_phase() -> None:
    """The state is all a resumed driver has: a step written is analysed, not written again."""
    plan = plans.new_plan([10, 50, 100], [["a"]], 30, None)
    state = plans.new_state()
    plans.wrote(state, ["a"], 10, NOW, 30)
    stored = dict(state)  # what the record holds when the process dies mid-window
    assert plans.current(plan, stored) == (10, ["a"]) and stored["phase"] == "analyse"
    assert plans.describe({"plan": plan, "state": stored})["written"] == {"a": 10}


def test_deploy_waves() -> None:
    from runbook.rollout.waves import targets

    assert targets("1,25%,100%", 8) == [1, 2, 8]
    assert targets("1,50%,100%", 4) == [1, 2, 4]
    assert targets("1", 4) == [1, 4]
    assert targets("100%", 3) == [3]
    assert targets("5,10", 3) == [3]
    for bad in ("0", "x", "150%", "-2"):
        with pytest.raises(RunbookError):
            targets(bad, 4)
