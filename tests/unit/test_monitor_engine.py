"""The monitor's policy and its loop protection, as pure code: streaks, cooldown, breaker,
verification, flag-first, the fleet-wide brake."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from runbook.errors import RunbookError
from runbook.monitor import engine, policy

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
FLAGS = ("modern_preview_engine", "modern_api_client")


def critical(n: int, host: str = "beta-1") -> dict:
    if n == 0:
        return {"rule": "critical_errors_last_5m", "result": "ok", "evidence": {}}
    return {
        "rule": "critical_errors_last_5m",
        "result": "fired",
        "evidence": {"hosts": {host: n}, "fingerprint": "fatal|a.php|27"},
    }


def feature_rate(feature: str = "modern_preview_engine") -> dict:
    return {
        "rule": "error_rate_over_5_percent",
        "result": "fired",
        "evidence": {"over": {f"{feature}@beta": 12.5}},
    }


def test_the_default_policy_rolls_back_on_any_automatic_trigger() -> None:
    p = policy.Policy()
    state = engine.new_state()
    plan = engine.plan_site("beta", "red", [critical(3)], p, state, NOW, flags=FLAGS)
    assert plan.acts and plan.action == "p0-rollback"
    assert plan.summary == "critical_errors_last_5m=3 on beta-1 (fingerprint fatal|a.php|27)"
    assert p.rule("web_server_critical").action == "notify"
    assert p.rule("manual:security").action == "notify"


def test_dry_run_decides_the_same_and_acts_on_nothing() -> None:
    plan = engine.plan_site(
        "beta", "red", [critical(3)], policy.Policy(), engine.new_state(), NOW, dry_run=True
    )
    assert plan.would and not plan.acts and plan.action == "p0-rollback"


def test_after_n_cycles_and_inconclusive() -> None:
    p = policy.from_mapping(
        {"triggers": {"critical_errors_last_5m": {"action": "p0-rollback", "after": 2}}}, "test"
    )
    state = engine.new_state()
    first = engine.plan_site("beta", "red", [critical(1)], p, state, NOW)
    assert not first.acts and first.held == "waiting: critical_errors_last_5m 1/2 cycles"
    # An inconclusive cycle neither adds to the streak nor ends it (the policy's default).
    unknown = {"rule": "critical_errors_last_5m", "result": "inconclusive", "evidence": {}}
    engine.plan_site("beta", "inconclusive", [unknown], p, state, NOW)
    assert engine.plan_site("beta", "red", [critical(1)], p, state, NOW).acts
    # An ok cycle ends it.
    state = engine.new_state()
    engine.plan_site("beta", "red", [critical(1)], p, state, NOW)
    engine.plan_site("beta", "green", [critical(0)], p, state, NOW)
    assert not engine.plan_site("beta", "red", [critical(1)], p, state, NOW).acts


def test_cooldown_then_breaker_then_reset() -> None:
    p = policy.from_mapping({"cooldown": "60s", "breaker": {"actions": 2, "within": "1h"}}, "t")
    state = engine.new_state()
    now = NOW
    for _ in range(2):
        plan = engine.plan_site("beta", "red", [critical(2)], p, state, now)
        assert plan.acts
        engine.record_action(state, plan, p, now, "run-x")
        held = engine.plan_site("beta", "red", [critical(2)], p, state, now + timedelta(seconds=5))
        assert held.held and held.held.startswith("cooldown until") and held.page
        now += timedelta(seconds=61)
    tripped = engine.plan_site("beta", "red", [critical(2)], p, state, now)
    assert not tripped.acts and tripped.held.startswith("circuit breaker tripped")
    assert tripped.escalate and "stops acting" in tripped.escalate
    later = engine.plan_site("beta", "red", [critical(2)], p, state, now + timedelta(hours=2))
    assert not later.acts and later.held.startswith("circuit breaker open")


def test_an_action_in_flight_holds_a_second_one() -> None:
    state = engine.new_state()
    state["in_flight"] = {"action": "p0-rollback", "since": "2026-11-30T11:59:00Z"}
    plan = engine.plan_site("beta", "red", [critical(1)], policy.Policy(), state, NOW)
    assert not plan.acts and plan.held == "an action is in flight (p0-rollback)"


def test_verified_green_and_escalation_when_not() -> None:
    p = policy.from_mapping({"verification": "60s", "cooldown": "1h"}, "t")
    state = engine.new_state()
    plan = engine.plan_site("beta", "red", [critical(1)], p, state, NOW)
    engine.record_action(state, plan, p, NOW, "run-1")
    green = engine.plan_site("beta", "green", [critical(0)], p, dict(state), NOW)
    assert green.verified
    late = engine.plan_site("beta", "red", [critical(1)], p, state, NOW + timedelta(seconds=61))
    assert late.escalate and "did not bring beta back to green" in late.escalate
    again = engine.plan_site("beta", "red", [critical(1)], p, state, NOW + timedelta(seconds=90))
    assert again.escalate is None  # once


def test_flag_first_then_p0_when_the_site_stays_red() -> None:
    p = policy.from_mapping(
        {
            "verification": "60s",
            "triggers": {"error_rate_over_5_percent": {"action": "p1-disable-feature"}},
        },
        "t",
    )
    state = engine.new_state()
    plan = engine.plan_site("beta", "red", [feature_rate()], p, state, NOW, flags=FLAGS)
    assert plan.acts and plan.action == "p1-disable-feature"
    assert plan.feature == "modern_preview_engine"
    engine.record_action(state, plan, p, NOW, "run-1")
    later = NOW + timedelta(seconds=61)
    worse = engine.plan_site("beta", "red", [feature_rate()], p, state, later, flags=FLAGS)
    assert worse.acts and worse.action == "p0-rollback" and worse.trigger == "verification_failed"
    # A rate for no known flag (the REST API as a whole): the whole rollback at once.
    api = engine.plan_site(
        "beta", "red", [feature_rate("api")], p, engine.new_state(), NOW, flags=FLAGS
    )
    assert api.action == "p0-rollback" and "no feature flag named" in api.summary


def test_the_fleet_wide_brake() -> None:
    p = policy.Policy()
    plans = [
        engine.plan_site(s, "red", [critical(1)], p, engine.new_state(), NOW)
        for s in ("a", "b", "c")
    ]
    plans.append(engine.plan_site("d", "green", [critical(0)], p, engine.new_state(), NOW))
    why = engine.brake(plans, p)
    assert why and "3 of 4 sites red" in why
    assert not any(plan.acts for plan in plans)
    assert all(plan.page for plan in plans[:3])
    # Half is not more than half: one of two sites red acts.
    two = [
        engine.plan_site("a", "red", [critical(1)], p, engine.new_state(), NOW),
        engine.plan_site("b", "green", [critical(0)], p, engine.new_state(), NOW),
    ]
    assert engine.brake(two, p) is None and two[0].acts


def test_web_server_critical_pages_and_never_acts_by_default() -> None:
    rule = {
        "rule": "web_server_critical",
        "result": "fired",
        "evidence": {"count": 2, "hosts": ["beta-1"]},
    }
    state = engine.new_state()
    plan = engine.plan_site("beta", "red", [rule], policy.Policy(), state, NOW)
    assert plan.action == "notify" and not plan.acts and plan.page
    # Paged once, not every cycle.
    assert engine.plan_site("beta", "red", [rule], policy.Policy(), state, NOW).page is None


def test_rolling_critical_counts_the_last_five_minutes_of_cycles() -> None:
    state = engine.new_state()
    assert engine.rolling_critical(state, {"h": 3}, NOW) == {"h": 3}
    assert engine.rolling_critical(state, {"h": 1}, NOW + timedelta(minutes=2)) == {"h": 4}
    assert engine.rolling_critical(state, {"h": 0}, NOW + timedelta(minutes=6)) == {"h": 1}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("triggers:\n  cpu_high: {action: p0-rollback}\n", "triggers: 'cpu_high' is not a trigger"),
        (
            "triggers:\n  critical_errors_last_5m: {action: reboot}\n",
            "triggers/critical_errors_last_5m/action: 'reboot' is not one of",
        ),
        ("cooldown: soon\n", "cooldown: 'soon' is not a duration"),
        ("breaker: {actions: 0}\n", "breaker/actions: 0 is less than the minimum of 1"),
        ("surprise: 1\n", "(top level): Additional properties are not allowed"),
        ("- a list\n", "(top level): ['a list'] is not of type 'object'"),
    ],
)
def test_policy_errors_name_the_file_and_the_field(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "policy.yml"
    path.write_text(text)
    with pytest.raises(RunbookError) as caught:
        policy.load(path)
    assert str(caught.value.message).startswith(f"--policy {path}: ")
    assert message in caught.value.message


def test_a_policy_file_is_read_whole(tmp_path: Path) -> None:
    path = tmp_path / "policy.yml"
    path.write_text(
        "version: 1\ncooldown: 5m\nverification: 2m\nbreaker: {actions: 3, within: 12h}\n"
        "brake: {more_than: 0.75, min_sites: 4}\n"
        "triggers:\n  web_server_critical: {action: p0-rollback, after: 3}\n"
    )
    p = policy.load(path)
    assert (p.cooldown, p.verification, p.breaker_actions, p.breaker_within) == (
        300,
        120,
        3,
        43200,
    )
    assert p.rule("web_server_critical") == policy.Rule("p0-rollback", 3, False)
    assert p.rule("critical_errors_last_5m").action == "p0-rollback"
