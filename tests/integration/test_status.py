"""`runbook status` through the real CLI, over real SSH, against the sandbox fleet."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from runbook.errors import ExitCode

FLAGS = {
    "modern_preview_engine": True,
    "modern_state_manager": True,
    "modern_api_client": True,
    "legacy_fallback": False,
}


def test_status_json_reports_the_default_fleet(sandbox, runbook_cli) -> None:
    result = runbook_cli("status", "--json")
    assert result.code == 0, result.err
    doc = result.json()
    assert doc["schema_version"] == 1
    assert doc["runbook"] == "status"
    assert set(doc["hosts"]) == {"alpha-1", "alpha-2", "beta-1"}
    assert doc["counts"]["ok"] == 3
    sites = doc["report"]["sites"]
    assert set(sites) == {"alpha", "beta"}
    for site in sites.values():
        assert site["feature_flags"] == FLAGS
        assert set(site["rollout_percentages"]) == {
            "modern_preview_engine",
            "modern_state_manager",
            "modern_api_client",
        }
        for node in site["nodes"].values():
            assert node["reachable"] is True
            assert node["wordpress_version"] == "6.1.9"
            assert node["plugin_version"] == "2.1.0"
            assert node["newest_backup"].startswith("mase-backup-")
    assert len(sites["alpha"]["nodes"]) == 2
    # Options are read once per site, on the site's first node.
    assert sites["alpha"]["options_read_on"] == "alpha-1"
    assert "using the sandbox's" in result.err  # no -i: it says which inventory it took


def test_status_table_and_run_record(sandbox, runbook_cli, state_dir: Path) -> None:
    result = runbook_cli("status")
    assert result.code == 0, result.err
    for text in (
        "Hosts",
        "alpha-2",
        "beta-1",
        "modern_api_client",
        "legacy_fallback",
        "status: successful (3 ok)",
    ):
        assert text in result.out
    runs = runbook_cli("runs", "--json").json()
    assert runs[0]["runbook"] == "status" and runs[0]["status"] == "successful"
    shown = runbook_cli("runs", "show", runs[0]["run_id"], "--json").json()
    assert {h["host"]: h["outcome"] for h in shown["hosts"]} == {
        "alpha-1": "ok",
        "alpha-2": "ok",
        "beta-1": "ok",
    }
    assert Path(shown["artifact_dir"]).is_dir()
    assert (Path(shown["artifact_dir"]).parent.parent.stat().st_mode & 0o777) == 0o700


def test_limit_works_as_in_ansible(sandbox, runbook_cli) -> None:
    doc = runbook_cli("status", "--json", "-l", "beta").json()
    assert set(doc["hosts"]) == {"beta-1"}
    assert doc["limit"] == "beta"


def test_reason_is_data_never_a_template(sandbox, runbook_cli, tmp_path: Path) -> None:
    canary = tmp_path / "pwned"
    reason = f"{{{{ lookup('pipe','touch {canary}') }}}} <b>&'\"; rm -rf / `id` $(id)"
    result = runbook_cli("status", "--json", "--reason", reason)
    assert result.code == 0, result.err
    assert not canary.exists()
    doc = result.json()
    assert doc["reason"] == reason
    shown = runbook_cli("runs", "show", doc["run_id"], "--json").json()
    assert shown["reason"] == reason
    # The playbook used it (the preflight prints it): verbatim, not evaluated.
    said = [
        e["event_data"]["res"]["msg"]
        for e in map(
            json.loads,
            (p.read_text() for p in (Path(doc["artifact_dir"]) / "job_events").glob("*.json")),
        )
        if e["event"] == "runner_on_ok"
        and e["event_data"]["task"] == "Say which run this is and why"
    ]
    assert said == [f"run {doc['run_id']} (status) by {shown['operator']}: {reason}"]


def test_no_secret_from_the_environment_reaches_the_run(
    sandbox, runbook_cli, state_dir: Path
) -> None:
    canaries = {
        "AWS_SECRET_ACCESS_KEY": "canary-aws-8c1f",
        "RUNBOOK_TEST_TOKEN": "canary-tok-44d2",
        "MYSQL_PWD": "canary-db-9e07",
    }
    result = runbook_cli("status", "--json", env=canaries)
    assert result.code == 0, result.err
    written = [p for p in state_dir.rglob("*") if p.is_file()]
    assert any(p.name == "command" for p in written)  # ansible-runner's own env dump
    for path in written:
        data = path.read_bytes()
        for value in canaries.values():
            assert value.encode() not in data, f"{value} leaked into {path}"
    db = sqlite3.connect(state_dir / "runbook.sqlite3")
    dump = "\n".join(db.iterdump())
    assert not any(v in dump for v in canaries.values())


def test_changed_host_key_makes_the_host_unreachable(sandbox, runbook_cli, tmp_path: Path) -> None:
    """Host key checking stays on (ansible-runner turns it off unless told)."""
    known = (sandbox.root / "ssh" / "known_hosts").read_text().splitlines()
    alpha1 = sandbox.node("alpha-1").ip
    other = next(line for line in known if not line.startswith(alpha1 + " "))
    forged = [
        other.replace(other.split()[0], alpha1, 1) if line.startswith(alpha1 + " ") else line
        for line in known
    ]
    (tmp_path / "known_hosts").write_text("\n".join(forged) + "\n")
    inventory = sandbox.inventory.read_text().replace(
        str(sandbox.root / "ssh" / "known_hosts"), str(tmp_path / "known_hosts")
    )
    # A fresh control path: an existing persistent connection would skip the key exchange.
    inventory = inventory.replace(
        "  vars:\n", f"  vars:\n    ansible_control_path_dir: {tmp_path}/cp\n", 1
    )
    (tmp_path / "hosts.yml").write_text(inventory)
    result = runbook_cli("status", "--json", "-i", str(tmp_path / "hosts.yml"))
    assert result.code == ExitCode.HOSTS_UNREACHABLE
    doc = result.json()
    assert doc["hosts"]["alpha-1"]["outcome"] == "unreachable"
    assert "host key" in doc["hosts"]["alpha-1"]["message"].lower()
    assert doc["hosts"]["alpha-2"]["outcome"] == "ok"


def test_unreachable_host_does_not_stop_the_others(sandbox, runbook_cli) -> None:
    with sandbox.broken("link-cut", "alpha-1"):
        result = runbook_cli("status", "--json")
    assert result.code == ExitCode.HOSTS_UNREACHABLE
    doc = result.json()
    assert doc["hosts"]["alpha-1"]["outcome"] == "unreachable"
    sites = doc["report"]["sites"]
    # alpha's options are read on its next reachable node instead.
    assert sites["alpha"]["options_read_on"] == "alpha-2"
    assert sites["alpha"]["feature_flags"]["modern_api_client"] is True
    assert sites["beta"]["nodes"]["beta-1"]["reachable"] is True


def test_database_down_is_named(sandbox, runbook_cli) -> None:
    with sandbox.broken("db-stop", "beta"):
        result = runbook_cli("status", "--json")
    assert result.code == ExitCode.HOSTS_FAILED
    doc = result.json()
    beta = doc["report"]["sites"]["beta"]
    assert beta["feature_flags"] is None
    assert "Error establishing a database connection" in doc["hosts"]["beta-1"]["message"]
    # Files live on the node: its versions are still reported.
    assert beta["nodes"]["beta-1"]["plugin_version"] == "2.1.0"
    assert doc["report"]["sites"]["alpha"]["feature_flags"]["legacy_fallback"] is False


def test_database_down_fails_only_the_node_that_read_it(sandbox, runbook_cli) -> None:
    """A site's options are read once: its other nodes still report their own state."""
    with sandbox.broken("db-stop", "alpha"):
        result = runbook_cli("status", "--json")
    assert result.code == ExitCode.HOSTS_FAILED
    doc = result.json()
    assert doc["hosts"]["alpha-1"]["outcome"] == "failed"
    assert doc["hosts"]["alpha-2"]["outcome"] == "ok", doc["hosts"]["alpha-2"]
    assert doc["report"]["sites"]["alpha"]["nodes"]["alpha-2"]["plugin_version"] == "2.1.0"


def test_inventory_without_site_fails_preflight_naming_the_host(
    sandbox, runbook_cli, tmp_path: Path
) -> None:
    inventory = sandbox.inventory.read_text().replace("site: beta", "nosite: beta")
    (tmp_path / "hosts.yml").write_text(inventory)
    result = runbook_cli("status", "--json", "-i", str(tmp_path / "hosts.yml"))
    assert result.code == ExitCode.HOSTS_FAILED
    assert "beta-1 lacks site" in result.json()["hosts"]["beta-1"]["message"]
