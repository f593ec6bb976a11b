"""A throwaway sandbox beside the main one: killed halfway, rebuilt, then removed without trace."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from runbook.errors import ExitCode
from runbook.sandbox import fleet


@pytest.fixture
def throwaway() -> dict[str, str]:
    if not sys.platform.startswith("linux") or os.geteuid() != 0:
        pytest.skip("the sandbox needs Linux and root")
    # Not pytest's tmp_path: its 0700 parents keep MariaDB (user mysql) out.
    parent = Path(tempfile.mkdtemp(prefix="runbook-test-", dir="/var/tmp"))
    parent.chmod(0o755)
    env = dict(os.environ)
    env.update(
        {
            "RUNBOOK_SANDBOX_DIR": str(parent / "sandbox"),
            "RUNBOOK_SANDBOX_PREFIX": "rbt",
            "RUNBOOK_SANDBOX_SUBNET": "10.213.78.0/24",
        }
    )
    yield env
    subprocess.run(
        [sys.executable, "-m", "runbook", "sandbox", "down"],
        env=env,
        capture_output=True,
        check=False,
        timeout=120,
    )
    shutil.rmtree(parent, ignore_errors=True)


def sandbox(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "runbook", "sandbox", *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )


def traces(env: dict[str, str]) -> list[str]:
    """What of the throwaway sandbox is still on the machine, found independently of it."""
    root = env["RUNBOOK_SANDBOX_DIR"]
    found = [
        f"netns {n}"
        for n in subprocess.run(
            ["ip", "netns", "list"], capture_output=True, text=True, check=False
        ).stdout.split()
        if n.startswith("rbt-")
    ]
    links = subprocess.run(
        ["ip", "-o", "link", "show"], capture_output=True, text=True, check=False
    ).stdout
    found += [
        f"link {line.split(':')[1].strip()}"
        for line in links.splitlines()
        if line.split(":")[1].strip().startswith("rbt")
    ]
    found += [
        f"mount {line.split()[4]}"
        for line in Path("/proc/self/mountinfo").read_text().splitlines()
        if line.split()[4].startswith(root)
    ]
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if root.encode() in (proc / "cmdline").read_bytes():
                    found.append(f"process {proc.name}")
            except OSError:
                pass
    if Path(root).exists():
        found.append(f"directory {root}")
    return found


def test_killed_build_recovers_and_down_leaves_nothing(throwaway: dict[str, str]) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "runbook", "sandbox", "up", "--sites", "1", "--nodes", "2"],
        env=throwaway,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stderr
    said = []
    for line in proc.stderr:
        said.append(line)
        if "starting 1 site databases" in line:
            break
    else:
        raise AssertionError("the build never reached its databases:\n" + "".join(said))
    time.sleep(0.2)  # the bridge, the namespace folder and a mariadbd are in place by now
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert traces(throwaway), "the killed build left nothing to recover from"

    up = sandbox(throwaway, "up", "--sites", "1", "--nodes", "2")
    assert up.returncode == 0, up.stderr
    assert "removing what a previous sandbox left behind" in up.stderr
    status = sandbox(throwaway, "status", "--json")
    assert status.returncode == 0, status.stdout
    # Both hosts answer SSH with the key the sandbox wrote, host key checked.
    root = Path(throwaway["RUNBOOK_SANDBOX_DIR"])
    for ip in ("10.213.78.11", "10.213.78.12"):
        ssh = subprocess.run(
            [
                *fleet.ssh_command(root),
                f"root@{ip}",
                "hostname",
            ],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert ssh.returncode == 0, ssh.stderr
        assert ssh.stdout.strip().startswith("alpha-")

    down = sandbox(throwaway, "down")
    assert down.returncode == 0, down.stderr
    assert traces(throwaway) == []
    after = sandbox(throwaway, "status")
    assert after.returncode == ExitCode.ENVIRONMENT
    assert "the sandbox is down" in after.stdout
