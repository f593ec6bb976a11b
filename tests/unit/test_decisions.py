"""Each automatic trigger of the decision matrix, firing and not firing."""

from __future__ import annotations

from runbook.health import decisions as d


def test_error_rate_over_5_percent() -> None:
    assert d.error_rates({"api": (5.01, 100)}).result == "fired"
    assert d.error_rates({"api": (5.0, 100)}).result == "ok"  # "> 5%": 5.0 does not fire
    assert d.error_rates({"api": (50.0, 3)}).result == "inconclusive"  # too few requests
    fired = d.error_rates({"api": (1.0, 100), "preview": (9.0, 40)})
    assert fired.result == "fired" and fired.evidence["over"] == {"preview": 9.0}


def test_critical_errors_in_the_last_5_minutes() -> None:
    assert d.critical_errors({"a-1": 0, "a-2": 1}).result == "fired"
    assert d.critical_errors({"a-1": 0, "a-2": 0}).result == "ok"
    assert d.critical_errors({}).result == "inconclusive"


def test_performance_degradation_over_20_percent() -> None:
    assert d.degradation({"api_response": 126}, {"api_response": 100}).result == "fired"
    assert d.degradation({"api_response": 120}, {"api_response": 100}).result == "ok"
    # +22% of 18 ms is 4 ms: jitter, not a regression.
    assert d.degradation({"api_response": 22}, {"api_response": 18}).result == "ok"
    assert d.degradation({"api_response": 500}, {}).result == "inconclusive"


def test_user_complaints_over_5_in_an_hour() -> None:
    assert d.complaints(6).result == "fired"
    assert d.complaints(5).result == "ok"
    assert d.complaints(None).result == "inconclusive"


def test_novel_fatal_fingerprint() -> None:
    assert d.novelty({"fatal|x.php|3|boom": 2}, {"fatal|y.php|1|old"}).result == "fired"
    assert d.novelty({"fatal|y.php|1|old": 9}, {"fatal|y.php|1|old"}).result == "ok"
    assert d.novelty({"fatal|x.php|3|boom": 2}, None).result == "inconclusive"


def test_decision_rolls_back_when_any_rule_fires_and_keeps_the_evidence() -> None:
    decision = d.decide([d.complaints(2), d.critical_errors({"a-1": 3})])
    assert decision.rollback
    data = decision.to_dict()
    assert data["fired"] == ["critical_errors_last_5m"]
    assert data["rules"][1]["evidence"]["hosts"] == {"a-1": 3}
    assert not d.decide([d.complaints(0), d.critical_errors({"a-1": 0})]).rollback
