"""`runbook simulate`: the shipped game-day scenarios through the monitor's own scanner,
thresholds, triggers and policy, no host touched."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from runbook.cli import cli, main
from runbook.errors import ExitCode

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "game-day"


def simulate(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["simulate", *args], catch_exceptions=False)
    return result.exit_code, result.output


def test_a_fatal_storm_rolls_back_the_sick_site_only(state_dir: Path) -> None:
    code, out = simulate("--logs", str(EXAMPLES / "fatal-storm"), "--json")
    assert code == ExitCode.HEALTH_RED
    doc = json.loads(out)
    beta, alpha = doc["sites"]["beta"], doc["sites"]["alpha"]
    assert beta["plan"]["action"] == "p0-rollback" and beta["plan"]["would"]
    fired = {r["rule"] for r in beta["rules"] if r["result"] == "fired"}
    assert {"critical_errors_last_5m", "error_rate_over_5_percent"} <= fired
    assert "modern-api-client.php|27" in beta["plan"]["summary"]
    assert alpha["verdict"] == "green" and alpha["plan"]["action"] == "none"
    assert doc["brake"] is None


def test_a_slow_api_against_its_baseline(state_dir: Path) -> None:
    code, out = simulate("--logs", str(EXAMPLES / "slow-api"))
    assert code == ExitCode.HEALTH_RED
    assert "FIRED performance_degradation_over_20_percent" in out
    assert "the monitor would run p0-rollback on beta" in out


def test_a_flaky_warning_must_not_act(state_dir: Path) -> None:
    code, out = simulate("--logs", str(EXAMPLES / "flaky-warning"), "--json")
    doc = json.loads(out)
    assert code == ExitCode.OK, out
    assert all(s["plan"]["action"] == "none" for s in doc["sites"].values())


def test_a_policy_changes_the_action(state_dir: Path, tmp_path: Path) -> None:
    policy = tmp_path / "policy.yml"
    policy.write_text(
        "triggers:\n"
        "  critical_errors_last_5m: {action: notify}\n"
        "  error_rate_over_5_percent: {action: none}\n"
        "  new_fatal_fingerprint: {action: none}\n"
    )
    code, out = simulate("--logs", str(EXAMPLES / "fatal-storm"), "--policy", str(policy))
    assert code == ExitCode.HEALTH_RED
    assert "the monitor would page" in out and "would run p0-rollback" not in out


def test_both_sites_red_is_the_fleet_wide_brake(state_dir: Path, tmp_path: Path) -> None:
    storm = tmp_path / "storm"
    shutil.copytree(EXAMPLES / "fatal-storm", storm)
    shutil.rmtree(storm / "alpha-1")
    shutil.copytree(storm / "beta-1", storm / "alpha-1")
    _, out = simulate("--logs", str(storm), "--json")
    doc = json.loads(out)
    assert doc["brake"] and "2 of 2 sites red" in doc["brake"]
    assert all(s["plan"]["held"] == "fleet-wide brake" for s in doc["sites"].values())


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda d: None, "no host folders with logs named"),
        (lambda d: (d / "scenario.yml").write_text("- a\n"), "must be a mapping"),
        (
            lambda d: (d / "scenario.yml").write_text("now: yesterday\n"),
            "now: 'yesterday' is not an ISO 8601 time",
        ),
    ],
)
def test_bad_scenarios_are_named(
    state_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], make, message: str
) -> None:
    folder = tmp_path / "scenario"
    shutil.copytree(EXAMPLES / "flaky-warning", folder)
    if message.startswith("no host"):
        for host in ("alpha-1", "beta-1"):
            shutil.rmtree(folder / host)
    (folder / "scenario.yml").unlink()
    make(folder)
    assert main(["simulate", "--logs", str(folder)]) == ExitCode.USAGE
    assert message in capsys.readouterr().err
