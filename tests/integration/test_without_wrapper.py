"""The playbooks without the wrapper, as a CI job or AWX runs them: plain ansible-playbook from
the checkout (its ansible.cfg), only the required extra vars, a run record written by the
runbook_record callback, and runbook's exit code from `runbook runs show last --exit-code`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from runbook.errors import ExitCode
from runbook.sandbox import fleet
from runbook.store import Store

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def collections(tmp_path_factory) -> Path:  # type: ignore[no-untyped-def]
    """The collection, installed as a CI job installs it (README: Without the wrapper)."""
    into = tmp_path_factory.mktemp("collections")
    done = subprocess.run(
        [sys.executable, "-m", "runbook", "collection", "install", "-p", str(into)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert (into / "ansible_collections" / "runbook" / "wordpress" / "MANIFEST.json").is_file()
    return into


def playbook(
    sandbox, collections: Path, name: str, *extra: str
) -> subprocess.CompletedProcess[str]:  # type: ignore[no-untyped-def]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANSIBLE_", "RUNBOOK_RUN"))}
    env.pop("RUNBOOK_WRAPPED", None)
    env["USER"] = "ci-runner"
    env["ANSIBLE_COLLECTIONS_PATH"] = str(collections)
    return subprocess.run(
        [
            str(Path(sys.executable).parent / "ansible-playbook"),
            "-i",
            str(sandbox.inventory),
            f"playbooks/{name}.yml",
            *extra,
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def runs(state_dir: Path) -> list[dict]:
    with Store(state_dir / "runbook.sqlite3") as store:
        return [store.run(r["run_id"]) for r in store.runs(20)]


def test_a_ci_job_runs_the_playbooks_and_leaves_the_record(
    sandbox, collections, runbook_cli, state_dir
) -> None:
    fleet.reset()
    # Read-only: nothing but the inventory.
    status = playbook(sandbox, collections, "status")
    assert status.returncode == 0, status.stdout[-2000:]
    assert "runbook: status: successful (3 ok); exit code 0" in status.stdout
    # A destructive playbook without a reason is refused before anything changes.
    refused = playbook(sandbox, collections, "p0-rollback")
    assert refused.returncode == 2
    assert "needs a reason" in refused.stdout and "-e reason=" in refused.stdout
    # With one (and the operator given, or the CI's user): it runs, the record says who and why.
    done = playbook(
        sandbox,
        collections,
        "p0-rollback",
        "-e",
        json.dumps({"reason": "CI: roll back the canary"}),
    )
    assert done.returncode == 0, done.stdout[-3000:]
    shown = runbook_cli("runs", "show", "last", "--exit-code")
    assert (shown.code, shown.out.strip()) == (0, "0")
    flagged = playbook(
        sandbox,
        collections,
        "set-rollout",
        "-e",
        json.dumps(
            {
                "reason": "CI: 10% of visitors",
                "operator": "release-bot",
                "runbook_params": {"feature": "modern_api_client", "percent": 10},
            }
        ),
    )
    assert flagged.returncode == 0, flagged.stdout[-3000:]
    recorded = runs(state_dir)
    assert [(r["runbook"], r["status"], r["exit_code"]) for r in recorded] == [
        ("set-rollout", "successful", 0),
        ("p0-rollback", "successful", 0),
        ("p0-rollback", "failed", int(ExitCode.HOSTS_FAILED)),
        ("status", "successful", 0),
    ]
    latest, rollback = recorded[0], recorded[1]
    assert (latest["operator"], latest["reason"]) == ("release-bot", "CI: 10% of visitors")
    assert (rollback["operator"], rollback["reason"]) == ("ci-runner", "CI: roll back the canary")
    assert {h["host"]: h["outcome"] for h in rollback["hosts"]} == {
        "alpha-1": "changed",
        "alpha-2": "changed",
        "beta-1": "changed",
    }
    # The locks carried the record's run id (the preflight said it), and were released.
    assert f"run {rollback['run_id']} (p0-rollback) by ci-runner" in done.stdout
    assert not list((sandbox.root / "hosts").rglob("locks/*.lock"))
    # runbook's exit code for a refused run, for the CI step after ansible-playbook.
    code = runbook_cli("runs", "show", recorded[2]["run_id"], "--exit-code")
    assert code.code == ExitCode.HOSTS_FAILED
