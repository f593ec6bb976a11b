"""evaluate(): scanned logs + metrics input + baselines -> verdicts and a decision."""

from __future__ import annotations

import importlib.util
import json

import pytest
from click.testing import CliRunner
from tests.conftest import REPO

from runbook.cli import cli
from runbook.health import thresholds
from runbook.health.evaluate import evaluate, node_metrics
from runbook.store import Store

RED_LOGS = {
    "counts": {"php:fatal": 30, "wordpress:warning": 10},
    "critical_recent": 3,
    "fatal_fingerprints": {"fatal|/p.php|27|boom": 30},
    "access": {
        "requests": 200,
        "api_requests": 60,
        "api_error_rate": 0.5,
        "response_time_p95": 2.4,
        "timed_requests": 200,
    },
}
GREEN_LOGS = {
    "counts": {},
    "critical_recent": 0,
    "fatal_fingerprints": {},
    "access": {
        "requests": 200,
        "api_requests": 60,
        "api_error_rate": 0.0,
        "response_time_p95": 0.12,
        "timed_requests": 200,
    },
}


def test_node_metrics() -> None:
    metrics = node_metrics(RED_LOGS)
    assert metrics["php_errors"] == (15.0, 200)
    assert metrics["api_errors"] == (50.0, 60)
    assert metrics["api_response"] == (2400.0, 200)


def test_red_host_fires_and_green_host_does_not() -> None:
    rows = thresholds.merged()
    out = evaluate(
        {"a-1": {"site": "a", "logs": GREEN_LOGS}, "b-1": {"site": "b", "logs": RED_LOGS}},
        {},
        {},
        rows,
    )
    assert out["verdict"] == "red"
    assert set(out["decision"]["fired"]) == {"error_rate_over_5_percent", "critical_errors_last_5m"}
    green = evaluate({"a-1": {"site": "a", "logs": GREEN_LOGS}}, {}, {}, rows)
    assert green["verdict"] == "green" and not green["decision"]["rollback"]


def test_baseline_enables_degradation_and_novelty() -> None:
    rows = thresholds.merged()
    baselines = {"b-1": {"metrics": {"api_response": 1000.0}, "fingerprints": []}}
    out = evaluate({"b-1": {"site": "b", "logs": RED_LOGS}}, {}, baselines, rows)
    rules = {r["rule"]: r["result"] for r in out["decision"]["rules"]}
    assert rules["performance_degradation_over_20_percent"] == "fired"  # 2400 vs 1000
    assert rules["new_fatal_fingerprint"] == "fired"


def test_unreachable_host_is_inconclusive_not_green() -> None:
    out = evaluate({"a-1": {"site": "a", "logs": None}}, {}, {}, thresholds.merged())
    assert out["verdict"] == "inconclusive"


def test_filter_plugin_classifies_with_overrides() -> None:
    path = REPO / "src/runbook/ansible/filter_plugins/runbook_filters.py"
    spec = importlib.util.spec_from_file_location("runbook_filters", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    verdict = module.FilterModule().filters()["health_verdict"]
    assert verdict(0.4, "javascript_errors", 1000) == "green"
    assert verdict(3, "javascript_errors", 1000) == "red"
    assert (
        verdict(
            3, "javascript_errors", 1000, {"error_rates": {"javascript_errors": {"red": "> 5"}}}
        )
        == "yellow"
    )
    assert verdict(3, "javascript_errors", 1) == "inconclusive"
    from ansible.errors import AnsibleFilterError

    with pytest.raises(AnsibleFilterError, match="health_verdict: no metric 'cpu'"):
        verdict(1, "cpu")
    with pytest.raises(AnsibleFilterError, match="is not a number"):
        verdict("lots", "php_errors")


def test_declare_a_manual_trigger_is_recorded(state_dir) -> None:  # type: ignore[no-untyped-def]
    result = CliRunner().invoke(cli, ["health", "declare", "security", "--reason", "CVE <x>"])
    assert result.exit_code == 0, result.output
    decision = Store(state_dir / "runbook.sqlite3").decisions(1)[0]
    assert decision["fired"] == ["manual:security"] and decision["rollback"]
    assert json.dumps(decision["rules"]).count("CVE <x>") == 1


def test_inventory_overrides_judge_their_hosts() -> None:
    rows = thresholds.merged()
    lenient = thresholds.merged({"error_rates": {"api_errors": {"green": "< 60", "red": "> 80"}}})
    nodes = {"a-1": {"site": "a", "logs": RED_LOGS}, "b-1": {"site": "b", "logs": RED_LOGS}}
    out = evaluate(nodes, {}, {}, rows, {"b-1": lenient})
    verdicts = {(r["target"], r["metric"]): r["verdict"] for r in out["table"]}
    assert verdicts[("a-1", "api_errors")] == "red"  # 50%: red by the document's table
    assert verdicts[("b-1", "api_errors")] == "green"  # 50% < 60: green by its group's


def test_a_log_of_an_unknown_format_is_never_green() -> None:
    """A file of an unsupported format reported 0 records: what a clean log looks like."""
    rows = thresholds.merged()
    unknown = {**GREEN_LOGS, "format_unrecognised": ["/var/log/php/error.log"]}
    outcome = evaluate({"web-1": {"site": "a", "logs": unknown}}, {}, {}, rows)
    assert outcome["verdict"] == "inconclusive"
    [row] = [r for r in outcome["table"] if r["metric"] == "log format"]
    assert row["verdict"] == "inconclusive" and "format unrecognised" in row["note"]
