"""Each fault an operator's worst night brings, on the sandbox: the runbook survives it and
nothing is lost (see conftest.lost). The table at the end of the run lists them."""

from __future__ import annotations

import hashlib
import io
import json
import os
import signal
import subprocess
import tarfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from tests.faults.record import NODES, fault, plugin_tree, site_dir
from tests.integration.streamed import RESTORE_STARTS, Streamed, kill_controller

from runbook.errors import ExitCode
from runbook.sandbox import fleet

pytestmark = pytest.mark.sandbox
REASON = "P0: admin crashes after 2.1.0"


@pytest.fixture
def fleet_(sandbox):  # type: ignore[no-untyped-def]
    fleet.reset()
    return sandbox


def p0(cli, *extra: str, env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    return cli("p0-rollback", "--reason", REASON, "--yes", "--json", *extra, env=env)


def version(sandbox, node: str) -> str | None:  # type: ignore[no-untyped-def]
    from runbook.ansible.module_utils.runbook_wp import plugin_version

    return plugin_version(str(plugin_tree(sandbox, node)), "mase")


def rolled_back(sandbox) -> bool:  # type: ignore[no-untyped-def]
    return {version(sandbox, n) for n in NODES} == {"2.0.1"}


# -- runs that fail, die or are stopped --------------------------------------------------------


def test_every_host_fails_a_play(fleet_, runbook_cli, state_dir: Path) -> None:
    with fault("every host fails a play (a mistyped backup name)", fleet_, state_dir):
        result = p0(runbook_cli, "--backup", "mase-backup-20000101-000000.tar.gz")
        assert result.code == ExitCode.HOSTS_FAILED
        again = p0(runbook_cli)
        assert again.code == 0, again.err
        assert rolled_back(fleet_)


def test_database_down(fleet_, runbook_cli, state_dir: Path) -> None:
    with fault("a site's database down during p0-rollback", fleet_, state_dir):
        with fleet_.broken("db-stop", "beta"):
            result = p0(runbook_cli)
        assert result.code == ExitCode.HOSTS_FAILED
        assert version(fleet_, "beta-1") == "2.0.1"  # files restored all the same
        again = p0(runbook_cli)
        assert again.code == 0, again.err


def test_controller_killed(fleet_, runbook_cli, state_dir: Path) -> None:
    with fault("kill -9 of the controller mid-restore, then a re-run", fleet_, state_dir):
        stream = Streamed("p0-rollback", "--reason", "dies", "--yes", "-e", "runbook_serial=1")
        stream.wait_for(RESTORE_STARTS)
        kill_controller(stream)
        again = p0(runbook_cli)
        assert again.code == 0, again.err
        assert rolled_back(fleet_)


def test_interrupted_twice(fleet_, runbook_cli, state_dir: Path) -> None:
    with fault("Ctrl-C twice mid-restore, then a re-run", fleet_, state_dir):
        stream = Streamed("p0-rollback", "--reason", "stop", "--yes", "-e", "runbook_serial=1")
        stream.wait_for(RESTORE_STARTS)
        stream.send_signal(signal.SIGINT)
        stream.send_signal(signal.SIGINT)
        stream.finish()
        assert stream.returncode == ExitCode.INTERRUPTED
        again = p0(runbook_cli)
        assert again.code == 0, again.err
        assert rolled_back(fleet_)


def test_two_operators(fleet_, runbook_cli, state_dir: Path) -> None:
    with fault("two operators roll the same site back at once", fleet_, state_dir):
        first = Streamed(
            "p0-rollback", "--reason", "first", "--yes", "-e", "runbook_serial=1", "-l", "alpha"
        )
        first.wait_for(RESTORE_STARTS)
        playbook = first.playbook_pid()
        os.kill(playbook, signal.SIGSTOP)
        try:
            second = p0(runbook_cli, "-l", "alpha")
        finally:
            os.kill(playbook, signal.SIGCONT)
        first.finish()
        assert second.code == ExitCode.LOCK_HELD and first.returncode == 0


# -- the network and the nodes -----------------------------------------------------------------


def test_unreachable_before(fleet_, runbook_cli, state_dir: Path) -> None:
    with fault("a node unreachable before the run", fleet_, state_dir):
        with fleet_.broken("link-cut", "beta-1"):
            result = p0(runbook_cli)
        assert result.code == ExitCode.HOSTS_UNREACHABLE
        assert version(fleet_, "alpha-1") == version(fleet_, "alpha-2") == "2.0.1"


def test_link_cut_mid_restore(fleet_, runbook_cli, state_dir: Path) -> None:
    with fault("a link cut mid-restore", fleet_, state_dir):
        stream = Streamed("p0-rollback", "--reason", "cut", "--yes", "-e", "runbook_serial=1")
        stream.wait_for(RESTORE_STARTS)
        with fleet_.broken("link-cut", "beta-1"):
            stream.finish()
        assert stream.returncode == ExitCode.HOSTS_UNREACHABLE
        # beta-1's lock could not be released while it was cut off; the next run knows that
        # run is over, takes the lock over and finishes the job.
        again = p0(runbook_cli)
        assert again.code == 0, again.err
        assert rolled_back(fleet_)


def test_changed_host_key(fleet_, runbook_cli, state_dir: Path, tmp_path: Path) -> None:
    known = fleet_.root / "ssh" / "known_hosts"
    saved = known.read_text()
    address = fleet_.node("beta-1").ip
    forged = subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / "forged")],
        check=True,
        capture_output=True,
    )
    assert forged.returncode == 0
    key = (tmp_path / "forged.pub").read_text().split()[:2]
    lines = [
        " ".join([line.split()[0], *key]) if line.split()[0] in (address, "beta-1") else line
        for line in saved.splitlines()
        if line.strip()
    ]
    # Ansible's persistent connection to beta-1 was authenticated with the right key and would
    # be reused: close it, so that the next connection meets the forged key.
    control = (
        Path.home()
        / ".ansible"
        / "cp"
        / hashlib.sha1(f"{address}-None-root".encode()).hexdigest()[:10]
    )
    subprocess.run(
        ["ssh", "-o", f"ControlPath={control}", "-O", "exit", address],
        check=False,
        capture_output=True,
    )
    with fault("a changed host key on a node", fleet_, state_dir):
        known.write_text("\n".join(lines) + "\n")
        try:
            result = p0(runbook_cli)
        finally:
            known.write_text(saved)
        assert result.code == ExitCode.HOSTS_UNREACHABLE
        assert version(fleet_, "beta-1") == "2.1.0"  # refused: nothing done on it


# -- hostile input -----------------------------------------------------------------------------


def chain_archive(folder: Path) -> Path:
    """A symlink chain climbing out of staging, with a manifest that matches the rest."""
    name = "mase-backup-20991231-235959.tar.gz"
    path = folder / name
    ok = b"<?php\n/**\n * Plugin Name: MASE\n * Version: 6.6.6\n */\n"
    with tarfile.open(path, "w:gz") as tar:
        info = tarfile.TarInfo("mase/mase.php")
        info.size = len(ok)
        tar.addfile(info, io.BytesIO(ok))
        for link, target in (
            ("mase/s", "."),
            ("mase/t", "s/.."),
            ("mase/u1", "t/.."),
            ("mase/u2", "u1/.."),
        ):
            info = tarfile.TarInfo(link)
            info.type, info.linkname = tarfile.SYMTYPE, target
            tar.addfile(info)
        info = tarfile.TarInfo("mase/u2/escaped-by-chain")
        info.size = 1
        tar.addfile(info, io.BytesIO(b"x"))
    from runbook.ansible.module_utils.runbook_archive import tree_digest

    files = [{"path": "mase/mase.php", "size": len(ok), "sha256": hashlib.sha256(ok).hexdigest()}]
    (folder / name.replace(".tar.gz", ".manifest.json")).write_text(
        json.dumps(
            {
                "format": 1,
                "archive": name,
                "archive_sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
                "archive_size": path.stat().st_size,
                "plugin": "mase",
                "version": "6.6.6",
                "tree_sha256": tree_digest(files),
                "files": files,
            }
        )
    )
    return path


def test_hostile_archive(fleet_, runbook_cli, state_dir: Path) -> None:
    with fault("a backup whose symlinks climb out of the plugin folder", fleet_, state_dir):
        planted = [chain_archive(site_dir(fleet_, n) / "backups") for n in NODES]
        result = p0(runbook_cli)
        assert result.code == 0, result.err  # the hostile one marked bad, the next one used
        assert all(Path(str(p) + ".bad").exists() for p in planted)
        assert rolled_back(fleet_)
        assert not list(fleet_.root.rglob("escaped-by-chain"))


def test_hostile_reason(fleet_, runbook_cli, state_dir: Path) -> None:
    reason = "[/bold] [link=https://evil.example]x[/link] \u202eevil {{ 7*7 }} <!channel>"
    with fault("markup, bidi overrides, escapes and Jinja in --reason", fleet_, state_dir):
        escaped = runbook_cli("p0-rollback", "--reason", "\x1b]0;pwned\x07", "--yes")
        assert escaped.code == ExitCode.USAGE and "control characters" in escaped.err
        result = runbook_cli("p0-rollback", "--reason", reason, "--yes")
        assert result.code == 0, result.err
        assert "\u202e" not in result.out
        shown = runbook_cli("runs", "show", "last", "--json").json()
        assert shown["reason"] == reason  # recorded verbatim, never templated


def test_canary_secrets(fleet_, runbook_cli, state_dir: Path) -> None:
    canary = "canary-secret-0f9e8d7c"
    with fault("secrets in the operator's environment", fleet_, state_dir):
        result = p0(runbook_cli, env={"AWS_SECRET_ACCESS_KEY": canary, "DB_PASSWORD": canary})
        assert result.code == 0, result.err
        for path in state_dir.rglob("*"):
            if path.is_file():
                assert canary.encode() not in path.read_bytes(), path


def test_hostile_catalog_parameter(fleet_, runbook_cli, state_dir: Path, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    (tmp_path / "runbooks").mkdir()
    (tmp_path / "runbooks" / "sneaky.yml").write_text(
        "name: sneaky\ndescription: Looks harmless.\npriority: P3\nplaybook: status.yml\n"
        "parameters:\n  - name: ansible-ssh-common-args\n    type: string\n"
        f"    default: \"-o ProxyCommand='touch {marker}'\"\n    help: x\n"
    )
    with fault("a catalog parameter named after an Ansible connection variable", fleet_, state_dir):
        refused = runbook_cli("--project", str(tmp_path), "sneaky")
        assert refused.code == ExitCode.USAGE and "is refused" in refused.err
        shipped = runbook_cli("--project", str(tmp_path), "status", "--json")
        assert shipped.code == 0, shipped.err  # the bad file fails only its own runbook
        assert not marker.exists()


def test_yaml_bomb(fleet_, runbook_cli, state_dir: Path, tmp_path: Path) -> None:
    levels = ['a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for prev, name in zip("abcdefgh", "bcdefghi", strict=True):
        levels.append(f"{name}: &{name} [" + ", ".join([f"*{prev}"] * 9) + "]")
    bomb = tmp_path / "vars.yml"
    bomb.write_text("\n".join(levels) + "\n")  # 9**9 strings once expanded
    with fault("a billion-laughs file through -e @file", fleet_, state_dir):
        result = runbook_cli("status", "-e", f"@{bomb}", timeout=60)
        assert result.code == ExitCode.USAGE and "aliases" in result.err


def test_absurd_window(fleet_, runbook_cli, state_dir: Path) -> None:
    with fault("an absurd time window", fleet_, state_dir):
        result = runbook_cli("logs", "errors", "--since", "99999999999d")
        assert result.code == ExitCode.USAGE and "3650 days" in result.err


# -- the controller's own disk and its receivers -------------------------------------------------


def test_state_disk_full(fleet_, runbook_cli, state_dir: Path, tmp_path: Path) -> None:
    full = tmp_path / "full"
    full.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(full)], check=True)
    try:
        with fault("a full state disk", fleet_, state_dir):
            result = p0(runbook_cli, env={"RUNBOOK_STATE_DIR": str(full)})
            assert result.code == ExitCode.ENVIRONMENT, result.err
            assert "disk is full" in result.err or "nothing was run" in result.err
            assert {version(fleet_, n) for n in NODES} == {"2.1.0"}  # nothing touched
    finally:
        subprocess.run(["umount", str(full)], check=False)


class Trickle(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        self.wfile.write(b"HTTP/1.1 200 OK\r\n")
        for n in range(300):
            try:
                self.wfile.write(f"X-Slow-{n}: 1\r\n".encode())
                self.wfile.flush()
            except OSError:
                return
            time.sleep(0.5)

    def log_message(self, *args: Any) -> None:
        pass


def test_slow_receiver(fleet_, runbook_cli, state_dir: Path, tmp_path: Path) -> None:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Trickle)
    httpd.daemon_threads = True
    httpd.handle_error = lambda *a: None  # type: ignore[method-assign]
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    (tmp_path / "contacts.yml").write_text(
        "channels:\n  - {name: hook, type: slack, url: 'env:SLOW_HOOK', timeout: 1}\n"
    )
    try:
        with fault("a notification receiver that answers a byte at a time", fleet_, state_dir):
            result = runbook_cli(
                "--project",
                str(tmp_path),
                "p0-rollback",
                "--reason",
                REASON,
                "--yes",
                "--json",
                env={"SLOW_HOOK": f"http://127.0.0.1:{httpd.server_address[1]}/"},
                timeout=120,
            )
            assert result.code == 0, result.err  # the rollback's own exit code, in time
            assert "failed" in result.err and "timed out" in result.err
            assert rolled_back(fleet_)
    finally:
        httpd.shutdown()
