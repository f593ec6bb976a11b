"""`runbook investigate` on the sandbox: the suspect named from real failing requests, the
browser's console error on the affected site only, corrupt options reported, and a run that
completes with the database down and a node unreachable. No secret reaches the bundle."""

from __future__ import annotations

import json
import tarfile
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from tests.integration.test_rollout import traffic

from runbook.errors import ExitCode
from runbook.sandbox import fleet

CANARY_LOG = "CANARY-log-5d1e0b7f"
CANARY_OPTION = "CANARY-option-9a4c2e61"
CANARY_ENV = "CANARY-env-3b8f6d20"


@pytest.fixture
def fresh(sandbox):
    fleet.reset()
    return sandbox


def wp(sandbox, node: str, *args: str):  # type: ignore[no-untyped-def]
    site = node.split("-", maxsplit=1)[0]
    out = sandbox.on(
        node, "wp", *args, f"--path=/var/www/{site}/htdocs", "--skip-plugins=mase", "--allow-root"
    )
    assert out.returncode == 0, out.stderr
    return out


def bundle_texts(doc: dict) -> dict[str, str]:
    with tarfile.open(doc["bundle"]["path"]) as archive:
        return {
            m.name.split("/", 1)[1]: archive.extractfile(m).read().decode()  # type: ignore[union-attr]
            for m in archive.getmembers()
            if m.isfile()
        }


def test_the_rest_fatal_is_the_suspect_and_no_secret_is_kept(fresh, runbook_cli) -> None:
    # Canaries: a secret in a log line, in the plugin's settings, in the environment.
    stamp = datetime.now(UTC).strftime("%d-%b-%Y %H:%M:%S UTC")
    line = (
        f"[{stamp}] PHP Warning:  MASE upstream refused the request with api_key={CANARY_LOG} "
        "in /var/www/alpha/htdocs/wp-content/plugins/mase/includes/rest.php on line 12"
    )
    fresh.on(
        "alpha-1",
        "sh",
        "-c",
        f"for i in $(seq 300); do echo '{line}'; done >> /var/log/php/error.log",
    )
    settings = json.loads(
        wp(fresh, "alpha-1", "option", "get", "mase_settings", "--format=json").stdout
    )
    settings["api_password"] = CANARY_OPTION
    wp(fresh, "alpha-1", "option", "update", "mase_settings", json.dumps(settings), "--format=json")
    fresh.fault("plugin-rest", "alpha")
    with traffic(["alpha", "beta"], rate=25):
        time.sleep(6)
    result = runbook_cli(
        "investigate", "--since", "10m", "--json", env={"MASE_API_SECRET": CANARY_ENV}
    )
    assert result.code == 0, result.err
    doc = result.json()
    suspect = doc["suspect"]
    assert suspect["level"] == "fatal" and "mase_modern_client_dispatch" in suspect["message"]
    assert suspect["file"].endswith("/plugins/mase/includes/modern-api-client.php")
    assert suspect["flag"] == "modern_api_client" and suspect["line"]
    alpha = doc["sites"]["alpha"]
    assert alpha["database"]["state"] == "ok" and alpha["database"]["tables"] >= 12
    assert alpha["options"]["corrupt"] == [] and alpha["agree"] == []
    assert alpha["flags"]["modern_api_client"] is True and "mase" in alpha["active_plugins"]
    assert all(n["backups"][0]["verified"] for n in alpha["nodes"].values())
    assert all(n["wp_cli"]["version"] == "2.12.0" for n in alpha["nodes"].values())
    # The bundle: the raw lines of the suspect (its stack trace), and no canary anywhere.
    texts = bundle_texts(doc)
    raw = "".join(v for k, v in texts.items() if k.startswith("logs/"))
    assert "mase_modern_client_dispatch" in raw and "Stack trace:" in raw
    assert "MASE upstream refused the request with api_key=[scrubbed]" in raw
    for name, text in texts.items():
        for canary in (CANARY_LOG, CANARY_OPTION, CANARY_ENV):
            assert canary not in text, (name, canary)
    assert CANARY_LOG not in result.out and CANARY_OPTION not in result.out


def test_the_browser_reports_the_front_end_error_on_its_site_only(fresh, runbook_cli) -> None:
    fresh.fault("plugin-frontend", "beta")
    result = runbook_cli("investigate", "--since", "5m", "--json")
    assert result.code == 0, result.err
    sites = result.json()["sites"]
    login = next(p for p in sites["beta"]["browser"] if p["page"] == "/wp-login.php")
    assert login["status"] == 200
    assert any("reading 'palette'" in e for e in login["exceptions"])
    assert {(r["status"], r["url"].rsplit("/", 1)[1]) for r in login["failed_requests"]} == {
        (404, "modern-preview.js")
    }
    for page in sites["alpha"]["browser"]:
        assert page["status"] == 200
        assert page["exceptions"] == page["console_errors"] == page["failed_requests"] == []


def test_options_corrupted_by_hand_are_reported(fresh, runbook_cli) -> None:
    # Invalid JSON written without --format=json: WordPress stores the raw string.
    wp(fresh, "alpha-1", "option", "update", "mase_feature_flags", '{"modern_api_client": tru')
    result = runbook_cli("investigate", "--since", "5m", "--no-browser")
    assert result.code == 0, result.err
    assert "OPTIONS LOOK CORRUPT: mase_feature_flags: manual rollback trigger data-integrity" in (
        result.out
    )
    assert "settings not persisting correctly" in result.out
    # The bundle holds the same findings as a document.
    bundle = result.out.split("Evidence: ", 1)[1].split(" (sha256", 1)[0]
    with tarfile.open(bundle) as archive:
        (name,) = [n for n in archive.getnames() if n.endswith("/investigation.json")]
        doc = json.loads(archive.extractfile(name).read())  # type: ignore[union-attr]
    assert doc["sites"]["alpha"]["options"]["corrupt"] == ["mase_feature_flags"]
    assert doc["sites"]["beta"]["options"]["corrupt"] == []


def test_database_down_and_a_node_unreachable(fresh, runbook_cli) -> None:
    with fresh.broken("db-stop", "alpha"), fresh.broken("link-cut", "alpha-2"):
        result = runbook_cli("investigate", "--since", "5m", "--json", timeout=400)
    assert result.code == ExitCode.HOSTS_UNREACHABLE, result.err
    doc = result.json()
    assert list(doc["unreachable"]) == ["alpha-2"]
    alpha = doc["sites"]["alpha"]
    assert alpha["database"]["state"] == "down" and alpha["unreachable"] == ["alpha-2"]
    assert "Error establishing a database connection" in alpha["database"]["why"]
    # What could be gathered was: alpha-1's files and logs, the browser, all of beta.
    assert alpha["nodes"]["alpha-1"]["plugin_tree"]["version"] == "2.1.0"
    assert [p["status"] for p in alpha["browser"]] == [500, 500]
    assert doc["sites"]["beta"]["database"]["state"] == "ok"
    said = " ".join(doc["could_not"])
    assert "alpha-2" in said and "alpha: the database (down" in said
    assert Path(doc["bundle"]["path"]).is_file()
