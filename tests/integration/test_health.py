"""`runbook logs` and `runbook health` on the sandbox: a node turned red for real."""

from __future__ import annotations

from pathlib import Path

import pytest

from runbook.errors import ExitCode
from runbook.sandbox import fleet


@pytest.fixture
def green_fleet(sandbox, runbook_cli):
    fleet.reset()
    for node in ("alpha-1", "alpha-2", "beta-1"):
        sandbox.fault("traffic-green", node)
    baseline = runbook_cli("health", "baseline", "--since", "5m", "--json")
    assert baseline.code == 0, baseline.err
    assert set(baseline.json()["baselines"]) == {"alpha-1", "alpha-2", "beta-1"}
    return sandbox


def test_green_then_red_names_the_trigger_and_its_evidence(
    green_fleet, runbook_cli, state_dir: Path
) -> None:
    healthy = runbook_cli("health", "--json")
    assert healthy.code == ExitCode.OK, healthy.out + healthy.err
    assert healthy.json()["verdict"] == "green"
    assert healthy.json()["decision"]["rollback"] is False

    green_fleet.fault("traffic-red", "beta-1")
    sick = runbook_cli("health", "--json")
    assert sick.code == ExitCode.HEALTH_RED, sick.out + sick.err
    doc = sick.json()
    fired = doc["decision"]["fired"]
    assert {"critical_errors_last_5m", "error_rate_over_5_percent", "new_fatal_fingerprint"} <= set(
        fired
    )
    rules = {r["rule"]: r for r in doc["decision"]["rules"]}
    assert set(rules["critical_errors_last_5m"]["evidence"]["hosts"]) == {"beta-1"}
    assert "api@beta-1" in rules["error_rate_over_5_percent"]["evidence"]["over"]
    assert any(
        "modern-api-client.php|27" in fp for fp in rules["new_fatal_fingerprint"]["evidence"]["new"]
    )
    verdicts = {(r["target"], r["metric"]): r["verdict"] for r in doc["table"]}
    assert verdicts[("beta-1", "api_errors")] == "red"
    assert verdicts[("alpha-1", "api_errors")] == "green"
    # The decision is stored with its inputs.
    from runbook.store import Store

    stored = Store(state_dir / "runbook.sqlite3").decisions(1)[0]
    assert stored["verdict"] == "red" and stored["rollback"]
    assert stored["inputs"]["critical_recent"]["beta-1"] > 0
    assert "php_errors" in stored["inputs"]["thresholds"]

    table = runbook_cli("health")
    assert table.code == ExitCode.HEALTH_RED
    assert "ROLLBACK" in table.out and "critical_errors_last_5m" in table.out


def test_logs_errors_and_top(green_fleet, runbook_cli) -> None:
    green_fleet.fault("traffic-red", "beta-1")
    errors = runbook_cli("logs", "errors", "--since", "1h", "--json")
    assert errors.code == 0, errors.err
    doc = errors.json()
    assert doc["hosts"]["beta-1"]["fatal"] > 0 and doc["hosts"]["alpha-1"]["fatal"] == 0
    assert doc["total"]["fatal"] == doc["hosts"]["beta-1"]["fatal"]
    mase = runbook_cli("logs", "errors", "--source", "mase", "--json").json()
    assert mase["hosts"]["beta-1"]["fatal"] > 0
    top = runbook_cli("logs", "top", "-n", "3", "--json")
    assert top.code == 0, top.err
    first = top.json()["top"][0]
    assert "modern-api-client.php" in first["fingerprint"]
    assert set(first["hosts"]) == {"beta-1"}


def test_metrics_input_and_complaints_trigger(green_fleet, runbook_cli, tmp_path: Path) -> None:
    metrics = tmp_path / "metrics.json"
    metrics.write_text(
        '{"alpha": {"javascript_errors": {"value": 1.2, "samples": 5000},'
        ' "feature_adoption": {"value": 85, "samples": 900}, "complaints_last_hour": 7}}'
    )
    result = runbook_cli("health", "--metrics", str(metrics), "--json")
    assert result.code == ExitCode.HEALTH_RED, result.out
    doc = result.json()
    assert doc["decision"]["fired"] == ["user_complaints_over_5_per_hour"]
    verdicts = {(r["target"], r["metric"]): r["verdict"] for r in doc["table"]}
    assert verdicts[("alpha", "javascript_errors")] == "yellow"
    assert verdicts[("alpha", "feature_adoption")] == "green"
    bad = runbook_cli("health", "--metrics", str(tmp_path / "missing.json"))
    assert bad.code == ExitCode.USAGE and "missing.json" in bad.err


def test_incremental_counts_only_what_is_new(green_fleet, runbook_cli) -> None:
    first = runbook_cli("logs", "errors", "--incremental", "--json")
    assert first.code == 0, first.err
    assert first.json()["hosts"]["beta-1"]["fatal"] == 0
    green_fleet.fault("traffic-red", "beta-1")
    second = runbook_cli("logs", "errors", "--incremental", "--json").json()
    fatals = second["hosts"]["beta-1"]["fatal"]
    assert fatals > 0
    third = runbook_cli("logs", "errors", "--incremental", "--json").json()
    assert third["hosts"]["beta-1"]["fatal"] == 0  # nothing new, nothing counted twice
    green_fleet.fault("traffic-red", "beta-1")
    fourth = runbook_cli("logs", "errors", "--incremental", "--json").json()
    assert fourth["hosts"]["beta-1"]["fatal"] == fatals


def test_clock_skew_is_reported(green_fleet, runbook_cli) -> None:
    doc = runbook_cli("health", "--json").json()
    assert set(doc["clock_skew_seconds"]) == {"alpha-1", "alpha-2", "beta-1"}
    assert all(abs(s) < 5 for s in doc["clock_skew_seconds"].values())  # one machine's clock


def test_group_vars_override_the_thresholds(green_fleet, runbook_cli, tmp_path: Path) -> None:
    import yaml

    inventory = yaml.safe_load(green_fleet.inventory.read_text())
    inventory["all"]["children"]["beta"]["vars"]["health_thresholds"] = {
        "error_rates": {"api_errors": {"green": "< 60", "red": "> 80"}}
    }
    (tmp_path / "hosts.yml").write_text(yaml.safe_dump(inventory))
    green_fleet.fault("traffic-red", "beta-1")
    doc = runbook_cli("health", "-i", str(tmp_path / "hosts.yml"), "--json").json()
    verdicts = {(r["target"], r["metric"]): r["verdict"] for r in doc["table"]}
    assert verdicts[("beta-1", "api_errors")] == "green"  # ~34% < 60 by beta's group_vars
    assert verdicts[("beta-1", "php_errors")] == "red"  # the rest of the table still applies
    assert "error_rate_over_5_percent" in doc["decision"]["fired"]  # the matrix is fixed


def test_a_decision_goes_on_the_incident_and_dates_the_detection(green_fleet, runbook_cli) -> None:
    green_fleet.fault("traffic-red", "beta-1")
    incident = runbook_cli(
        "incident", "open", "--title", "REST API fatals on beta", "--priority", "P0", "--json"
    ).json()["id"]
    sick = runbook_cli("health", "--incident", str(incident), "--json")
    assert sick.code == 11
    timeline = runbook_cli("incident", "timeline", str(incident), "--json").json()
    decision = next(e for e in timeline if e["kind"] == "decision")
    assert decision["summary"].startswith("health red: ")
    assert "critical_errors_last_5m" in decision["data"]["fired"]
    assert decision["data"]["first_seen"]  # the earliest fatal record seen in the logs
    review = runbook_cli("incident", "review", str(incident)).out
    assert "Time to detect: -;" not in review


def test_an_absolute_window(green_fleet, runbook_cli) -> None:
    import datetime

    green_fleet.fault("traffic-red", "beta-1")  # stamped over the last minute
    now = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
    before = (now - datetime.timedelta(hours=3)).isoformat().replace("+00:00", "Z")
    earlier = (now - datetime.timedelta(hours=2)).isoformat().replace("+00:00", "Z")
    empty = runbook_cli("logs", "errors", "--since", before, "--until", earlier, "--json")
    assert empty.code == 0, empty.err
    assert empty.json()["hosts"]["beta-1"]["fatal"] == 0
    full = runbook_cli("logs", "errors", "--since", before, "--json").json()
    assert full["hosts"]["beta-1"]["fatal"] > 0
    bad = runbook_cli("logs", "errors", "--until", "yesterday")
    assert bad.code == 2 and "--until" in bad.err


def test_a_log_of_an_unknown_format_is_said_out_loud(green_fleet, runbook_cli) -> None:
    """A file of an unsupported format reported 0 records and 0 unparsed, like a clean log."""
    log = green_fleet.root / "hosts" / "beta-1" / "log" / "php" / "error.log"
    log.write_bytes(b"".join(f"{i} | svc=api | level=FATAL | boom\n".encode() for i in range(30)))
    errors = runbook_cli("logs", "errors", "--since", "1h", "--json")
    assert errors.code == 0, errors.err
    assert errors.json()["format_unrecognised"] == {"beta-1": ["/var/log/php/error.log"]}
    plain = runbook_cli("logs", "errors", "--since", "1h")
    assert "FORMAT UNRECOGNISED: beta-1: /var/log/php/error.log" in plain.err
    health = runbook_cli("health", "--since", "5m", "--json")
    assert health.json()["verdict"] != "green"
    assert any(
        r["metric"] == "log format" and r["target"] == "beta-1" for r in health.json()["table"]
    )
