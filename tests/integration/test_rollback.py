"""The rollback runbooks over real SSH against the sandbox, then the hosts' state read back."""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import signal
import tarfile
from pathlib import Path

import pytest
from tests.integration.streamed import RESTORE_STARTS, Streamed

from runbook.errors import ExitCode
from runbook.sandbox import fleet

P0_FLAGS = {
    "modern_preview_engine": False,
    "modern_state_manager": False,
    "modern_api_client": False,
    "legacy_fallback": True,
}
ON_FLAGS = {
    "modern_preview_engine": True,
    "modern_state_manager": True,
    "modern_api_client": True,
    "legacy_fallback": False,
}
NODES = ("alpha-1", "alpha-2", "beta-1")


@pytest.fixture
def fleet_(sandbox):
    """The sandbox as `up` built it, before every test here."""
    fleet.reset()
    return sandbox


def flags(sandbox, site: str, node: str | None = None) -> dict:
    """The site's flags, read with wp on `node` (default: the site's first node)."""
    node = node or sandbox.topology.sites[0 if site == "alpha" else 1].nodes[0].name
    out = sandbox.on(
        node,
        "wp",
        "option",
        "get",
        "mase_feature_flags",
        "--format=json",
        f"--path=/var/www/{site}/htdocs",
        "--skip-plugins=mase",
        "--allow-root",
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def plugin_tree(sandbox, node: str) -> Path:
    return sandbox.root / "hosts" / node / "wp-content" / "plugins" / "mase"


def version(sandbox, node: str) -> str:
    text = (plugin_tree(sandbox, node) / "mase.php").read_text()
    return text.split("Version:")[1].split()[0]


def digest(path: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(path.rglob("*")):
        if p.is_file():
            h.update(str(p.relative_to(path)).encode() + b"\0" + p.read_bytes())
    return h.hexdigest()


def http(sandbox, node: str, path: str) -> str:
    site = sandbox.node(node).site
    out = sandbox.on(
        node,
        "curl",
        "-s",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "-H",
        f"Host: {site}.sandbox.test",
        f"http://127.0.0.1{path}",
    )
    return out.stdout


def backups(sandbox, node: str) -> Path:
    return sandbox.root / "hosts" / node / "www" / sandbox.node(node).site / "backups"


def p0(runbook_cli, *extra: str):
    return runbook_cli(
        "p0-rollback", "--reason", "P0: admin crashes after 2.1.0", "--yes", "--json", *extra
    )


# -- p0-rollback ------------------------------------------------------------------------------


def test_p0_rolls_the_fleet_back_and_verifies(fleet_, runbook_cli) -> None:
    assert http(fleet_, "alpha-1", "/wp-json/mase/v1/status") == "200"
    result = p0(runbook_cli)
    assert result.code == 0, result.err + result.out
    doc = result.json()
    assert doc["report"]["not_rolled_back"] == {}
    for site in ("alpha", "beta"):
        assert flags(fleet_, site) == P0_FLAGS
    for node in NODES:
        assert version(fleet_, node) == "2.0.1"
        assert http(fleet_, node, "/wp-login.php") == "200"
        assert http(fleet_, node, "/wp-json/") == "200"
        node_report = doc["report"]["sites"][fleet_.node(node).site]["nodes"][node]
        assert (node_report["version_before"], node_report["version_after"]) == ("2.1.0", "2.0.1")
        assert node_report["opcache_reset"] is True  # in the restore's own round trip
        # Every node's "no new PHP fatal" check reads both logs, from where the swap left them.
        assert set(doc["hosts"][node]["report"]["restore"]["log_offsets"]) == {
            f"/var/www/{fleet_.node(node).site}/htdocs/wp-content/debug.log",
            "/var/log/php/error.log",
        }
        assert Path(
            node_report["snapshot"].replace(
                f"/var/www/{fleet_.node(node).site}/htdocs/wp-content",
                str(fleet_.root / "hosts" / node / "wp-content"),
            )
        ).is_dir()
        # Old code is kept where no URL reaches it: neither served nor run by PHP.
        kept = node_report["snapshot"].split("/htdocs", 1)[1]
        assert kept.startswith("/wp-content/.runbook/mase-snapshot-")
        for path in (f"{kept}/mase.php", f"{kept}/includes/", f"{kept}/"):
            assert http(fleet_, node, path) != "200", path
        # The lock is released.
        assert not list((backups(fleet_, node).parent / "locks").glob("*.lock"))
    engines = fleet_.on(
        "beta-1",
        "curl",
        "-s",
        "-H",
        "Host: beta.sandbox.test",
        "http://127.0.0.1/wp-json/mase/v1/status",
    ).stdout
    assert json.loads(engines)["engines"] == {
        "preview": "legacy",
        "state": "legacy",
        "api": "legacy",
    }
    checks = doc["report"]["sites"]["alpha"]["checks"]
    assert {c["name"] for c in checks} >= {
        "colour change",
        "template application",
        "settings save/load round trip",
    }
    run = runbook_cli("runs", "show", doc["run_id"], "--json").json()
    assert run["reason"] == "P0: admin crashes after 2.1.0" and run["exit_code"] == 0

    # Idempotence: nothing changes the second time, and nothing is reported changed.
    before = {n: digest(plugin_tree(fleet_, n)) for n in NODES}
    again = p0(runbook_cli)
    assert again.code == 0, again.err
    assert again.json()["counts"]["changed"] == 0
    assert {n: digest(plugin_tree(fleet_, n)) for n in NODES} == before


def test_check_mode_changes_nothing_and_says_what_would(fleet_, runbook_cli) -> None:
    before = (
        {s: flags(fleet_, s) for s in ("alpha", "beta")},
        {n: digest(plugin_tree(fleet_, n)) for n in NODES},
        {n: sorted(p.name for p in backups(fleet_, n).iterdir()) for n in NODES},
    )
    result = p0(runbook_cli, "--check")
    assert result.code == 0, result.err
    doc = result.json()
    assert doc["check"] is True
    assert doc["counts"]["changed"] == 3  # every node would change
    after = (
        {s: flags(fleet_, s) for s in ("alpha", "beta")},
        {n: digest(plugin_tree(fleet_, n)) for n in NODES},
        {n: sorted(p.name for p in backups(fleet_, n).iterdir()) for n in NODES},
    )
    assert after == before
    alpha = doc["report"]["sites"]["alpha"]
    assert alpha["options_changed"]["mase_feature_flags"]["after"] == P0_FLAGS
    assert alpha["nodes"]["alpha-1"]["version_after"] == "2.0.1"


def test_no_restore_and_a_named_backup(fleet_, runbook_cli) -> None:
    result = p0(runbook_cli, "--no-restore")
    assert result.code == 0, result.err
    assert flags(fleet_, "alpha") == P0_FLAGS
    assert {version(fleet_, n) for n in NODES} == {"2.1.0"}
    oldest = sorted(p.name for p in backups(fleet_, "alpha-1").glob("*.tar.gz"))[0]
    result = p0(runbook_cli, "--backup", oldest)
    assert result.code == 0, result.err
    assert {version(fleet_, n) for n in NODES} == {"2.0.0"}
    bad = p0(runbook_cli, "--backup", "../../etc/passwd")
    assert bad.code == ExitCode.USAGE
    assert "--backup" in bad.err


def test_rollback_works_while_the_plugin_fatals_on_load(fleet_, runbook_cli) -> None:
    fleet_.fault("plugin-load", "alpha")
    assert http(fleet_, "alpha-1", "/wp-login.php") == "500"
    result = p0(runbook_cli)
    assert result.code == 0, result.err
    assert http(fleet_, "alpha-1", "/wp-login.php") == "200"
    assert version(fleet_, "alpha-2") == "2.0.1"


# -- faults -----------------------------------------------------------------------------------


def test_unreachable_node_before_the_run(fleet_, runbook_cli) -> None:
    with fleet_.broken("link-cut", "alpha-2"):
        result = p0(runbook_cli)
    assert result.code == ExitCode.HOSTS_UNREACHABLE
    doc = result.json()
    report = doc["report"]
    assert list(report["not_rolled_back"]) == ["alpha"]
    assert "alpha-2" in report["not_rolled_back"]["alpha"]
    assert report["sites"]["alpha"]["split_versions"] is True
    assert version(fleet_, "alpha-1") == version(fleet_, "beta-1") == "2.0.1"
    assert version(fleet_, "alpha-2") == "2.1.0"
    assert flags(fleet_, "alpha") == P0_FLAGS  # the site's options changed through alpha-1
    table = runbook_cli("p0-rollback", "--reason", "finish the job", "--yes")
    assert table.code == 0, table.err  # run again: the job is finished
    assert version(fleet_, "alpha-2") == "2.0.1"


def test_an_unreachable_first_node_hands_the_site_to_its_next(fleet_, runbook_cli) -> None:
    """lock.yml's stand-in play: the site's next node takes the lock and the site's options,
    and the lock is released at the end."""
    with fleet_.broken("link-cut", "alpha-1"):
        result = p0(runbook_cli)
    assert result.code == ExitCode.HOSTS_UNREACHABLE, result.out
    assert version(fleet_, "alpha-2") == version(fleet_, "beta-1") == "2.0.1"
    assert version(fleet_, "alpha-1") == "2.1.0"
    # Changed through alpha-2, and read there: alpha-1's link, just back up, may not reach the
    # database yet ("No route to host" under load).
    assert flags(fleet_, "alpha", "alpha-2") == P0_FLAGS
    assert not list((fleet_.root / "hosts").rglob("locks/*.lock"))


def test_unreachable_node_during_the_run(fleet_, runbook_cli, state_dir: Path) -> None:
    proc = start_p0(["-e", "runbook_serial=1"])
    proc.wait_for(RESTORE_STARTS)
    with fleet_.broken("link-cut", "beta-1"):  # beta-1 is the last wave
        proc.finish()
    assert proc.returncode == ExitCode.HOSTS_UNREACHABLE
    assert version(fleet_, "alpha-1") == version(fleet_, "alpha-2") == "2.0.1"
    assert version(fleet_, "beta-1") in ("2.1.0", "2.0.1")  # whole, old or new
    assert_whole_trees(fleet_)


def test_site_database_down(fleet_, runbook_cli) -> None:
    with fleet_.broken("db-stop", "beta"):
        result = p0(runbook_cli)
    assert result.code == ExitCode.HOSTS_FAILED
    doc = result.json()
    beta = doc["hosts"]["beta-1"]
    assert beta["outcome"] == "failed"
    assert "Error establishing a database connection" in beta["message"]
    assert "beta-1" in doc["report"]["not_rolled_back"]["beta"]
    # Rollback first: the files need no database, and are restored all the same; the summary
    # says which steps could not run there.
    assert version(fleet_, "beta-1") == "2.0.1"
    assert (
        "the files were restored, but the flags and caches could not be changed"
        in (beta["message"])
    )
    assert version(fleet_, "alpha-1") == "2.0.1"
    assert flags(fleet_, "beta") == ON_FLAGS
    assert flags(fleet_, "alpha") == P0_FLAGS


def test_backup_with_wrong_checksum_is_marked_bad_and_skipped(fleet_, runbook_cli) -> None:
    newest = sorted(backups(fleet_, "alpha-1").glob("*.tar.gz"))[-1]
    with open(newest, "ab") as handle:
        handle.write(b"bitrot")
    result = p0(runbook_cli)
    assert result.code == 0, result.err
    assert Path(str(newest) + ".bad").exists()
    assert version(fleet_, "alpha-1") == "2.0.0"  # the next good backup
    assert version(fleet_, "alpha-2") == "2.0.1"
    doc = result.json()
    assert doc["report"]["sites"]["alpha"]["split_versions"] is True
    # status names the newest good backup, the one a restore would pick, and counts the bad.
    status = runbook_cli("status", "--json").json()["report"]["sites"]["alpha"]["nodes"]
    assert status["alpha-1"]["newest_backup"] != newest.name
    assert status["alpha-1"]["bad_backups"] == 1
    assert status["alpha-2"]["bad_backups"] == 0
    assert "IS SPLIT" in runbook_cli("p0-rollback", "--reason", "r", "--yes").out


def test_hostile_backup_is_refused_and_nothing_escapes(fleet_, runbook_cli) -> None:
    folder = backups(fleet_, "beta-1")
    name = "mase-backup-20991231-235959.tar.gz"
    path = folder / name
    with tarfile.open(path, "w:gz") as tar:
        for member, data in (
            ("mase/mase.php", b"<?php /* Plugin Name: x\n Version: 9 */"),
            ("mase/../../../pwned.php", b"<?php echo 1;"),
        ):
            info = tarfile.TarInfo(member)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    (folder / name.replace(".tar.gz", ".manifest.json")).write_text(
        json.dumps(
            {
                "format": 1,
                "archive": name,
                "archive_sha256": sha,
                "archive_size": path.stat().st_size,
                "plugin": "mase",
                "version": "9",
                "tree_sha256": "x",
                "files": [],
            }
        )
    )
    result = p0(runbook_cli)
    assert result.code == 0, result.err
    assert "climbs out with '..'" in (folder / (name + ".bad")).read_text()
    assert version(fleet_, "beta-1") == "2.0.1"
    host = fleet_.root / "hosts" / "beta-1"
    assert not list(host.rglob("pwned.php"))
    assert fleet_.on("beta-1", "ls", "/var/www/pwned.php").returncode != 0


def test_failed_verification_exits_5_and_names_the_check(fleet_, runbook_cli) -> None:
    with fleet_.broken("nginx-stop", "beta-1"):
        result = p0(runbook_cli)
    assert result.code == ExitCode.VERIFICATION_FAILED, result.err
    message = result.json()["hosts"]["beta-1"]["message"]
    assert "verification failed" in message and "GET /wp-login.php: HTTP None" in message
    assert version(fleet_, "beta-1") == "2.0.1"  # rolled back, but not verified: said so


# -- locks ------------------------------------------------------------------------------------


def held_lock(fleet_, site: str = "alpha") -> Path:
    node = f"{site}-1"
    locks = fleet_.root / "hosts" / node / "www" / site / "locks"
    locks.mkdir(exist_ok=True)
    lock = locks / f"{site}.lock"
    lock.write_text(
        json.dumps(
            {
                "site": site,
                "run_id": "20261127T090000Z-other",
                "owner": "alice",
                "reason": "P0 by alice",
                "runbook": "p0-rollback",
                "since": "2026-11-27T09:00:00+00:00",
                "expires": "2099-01-01T00:00:00+00:00",
            }
        )
    )
    return lock


def test_locked_site_stops_at_once_and_says_who_holds_it(fleet_, runbook_cli) -> None:
    held_lock(fleet_)
    result = p0(runbook_cli)
    assert result.code == ExitCode.LOCK_HELD
    doc = result.json()
    assert "locked by run 20261127T090000Z-other" in doc["hosts"]["alpha-1"]["message"]
    assert "alice" in doc["hosts"]["alpha-1"]["message"]
    assert doc["hosts"]["alpha-2"]["outcome"] == "failed"  # the whole site stops
    # The record keeps what the stopped nodes hold, each read before it stopped.
    assert doc["hosts"]["alpha-2"]["report"]["plugin_version"] == "2.1.0"
    assert flags(fleet_, "alpha") == ON_FLAGS
    assert version(fleet_, "alpha-2") == "2.1.0"
    assert version(fleet_, "beta-1") == "2.0.1"  # other sites go on


def test_a_host_without_site_stops_alone_and_says_what_it_lacks(
    fleet_, runbook_cli, tmp_path: Path
) -> None:
    """lock.yml checks every host's variables in one pass and stops, in a play of its own, only
    the hosts that lack one: the other sites roll back."""
    folder = tmp_path / "inventory"
    shutil.copytree(fleet_.inventory.parent, folder)  # its group_vars (the API token) too
    inventory = folder / fleet_.inventory.name
    inventory.write_text(inventory.read_text().replace("site: beta", "nosite: beta"))
    result = p0(runbook_cli, "-i", str(inventory))
    assert result.code == ExitCode.HOSTS_FAILED, result.out
    doc = result.json()
    assert "beta-1 lacks site" in doc["hosts"]["beta-1"]["message"]
    assert version(fleet_, "beta-1") == "2.1.0"
    assert version(fleet_, "alpha-1") == version(fleet_, "alpha-2") == "2.0.1"
    assert flags(fleet_, "alpha") == P0_FLAGS


def test_force_unlock_is_recorded(fleet_, runbook_cli) -> None:
    lock = held_lock(fleet_)
    result = p0(runbook_cli, "--force-unlock")
    assert result.code == 0, result.err
    assert not lock.exists()
    run = runbook_cli("runs", "show", result.json()["run_id"], "--json").json()
    assert run["parameters"]["force_unlock"] is True
    # The takeover itself is evidence: whose lock, and why it could be taken.
    taken = run["summary"]["sites"]["alpha"]["lock_taken_over"]
    assert taken["from"]["run_id"] == "20261127T090000Z-other"
    assert taken["why"] == "forced (--force-unlock)"


def test_two_rollbacks_at_once(fleet_, runbook_cli) -> None:
    proc = start_p0(["-e", "runbook_serial=1", "-l", "alpha"])
    proc.wait_for(RESTORE_STARTS)
    # Hold the first run mid-restore (its lock taken) for as long as the second one takes.
    playbook = proc.playbook_pid()
    os.kill(playbook, signal.SIGSTOP)
    try:
        second = p0(runbook_cli, "-l", "alpha")
    finally:
        os.kill(playbook, signal.SIGCONT)
    proc.finish()
    assert second.code == ExitCode.LOCK_HELD
    message = second.json()["hosts"]["alpha-1"]["message"]
    assert "is locked by run" in message
    assert "is alive: still running here, pid" in message  # whether its run is alive
    assert proc.returncode == 0


# -- interrupts -------------------------------------------------------------------------------


def assert_whole_trees(fleet_) -> None:
    """Every node's plugin folder is exactly one version's tree, never a mix."""
    from runbook.ansible.module_utils.runbook_archive import read_manifest, tree_digest, tree_files

    for node in NODES:
        known = {tree_digest(tree_files(str(fleet_.root / "cache" / "plugin"), "mase")[0])}
        for archive in backups(fleet_, node).glob("*.tar.gz"):
            manifest = read_manifest(str(archive))
            if manifest:
                known.add(manifest["tree_sha256"])
        live = tree_digest(tree_files(str(plugin_tree(fleet_, node)), "mase")[0])
        assert live in known, f"{node} has a half tree"


def start_p0(extra: list[str]) -> Streamed:
    return Streamed("p0-rollback", "--reason", "interrupted", "--yes", *extra)


def test_interrupted_restore_leaves_whole_trees_and_a_rerun_finishes(fleet_, runbook_cli) -> None:
    proc = start_p0(["-e", "runbook_serial=1"])
    proc.wait_for(RESTORE_STARTS)
    proc.send_signal(signal.SIGTERM)
    proc.send_signal(signal.SIGTERM)
    proc.finish()
    assert proc.returncode == ExitCode.INTERRUPTED
    assert_whole_trees(fleet_)
    run = runbook_cli("runs", "--json").json()[0]
    shown = runbook_cli("runs", "show", run["run_id"], "--json").json()
    assert shown["status"] == "interrupted"
    assert all(h["last_task"] for h in shown["hosts"] if h["outcome"] != "not-run")
    # The interrupted run released its locks: running the runbook again finishes the job.
    assert not [p for n in NODES for p in (backups(fleet_, n).parent / "locks").glob("*.lock")]
    again = runbook_cli("p0-rollback", "--reason", "finish", "--yes")
    assert again.code == 0, again.err + again.out
    assert {version(fleet_, n) for n in NODES} == {"2.0.1"}


# -- the other runbooks -----------------------------------------------------------------------


def test_p1_disables_one_feature_only(fleet_, runbook_cli) -> None:
    result = runbook_cli(
        "p1-disable-feature",
        "--feature",
        "modern_preview_engine",
        "--reason",
        "P1: preview broken",
        "--yes",
        "--json",
    )
    assert result.code == 0, result.err
    expected = dict(ON_FLAGS, modern_preview_engine=False)
    assert flags(fleet_, "alpha") == flags(fleet_, "beta") == expected
    assert list(flags(fleet_, "alpha")) == list(ON_FLAGS)  # key order kept
    assert {version(fleet_, n) for n in NODES} == {"2.1.0"}
    again = runbook_cli(
        "p1-disable-feature",
        "--feature",
        "modern_preview_engine",
        "--reason",
        "again",
        "--yes",
        "--json",
    )
    assert again.code == 0 and again.json()["counts"]["changed"] == 0
    bad = runbook_cli("p1-disable-feature", "--feature", "Bad Name", "--reason", "x", "--yes")
    assert bad.code == ExitCode.USAGE and "--feature" in bad.err


def test_cache_flush_deletes_transients(fleet_, runbook_cli) -> None:
    args = ("--path=/var/www/beta/htdocs", "--skip-plugins=mase", "--allow-root")
    fleet_.on("beta-1", "wp", "option", "update", "_transient_rb_probe", "x", *args)
    result = runbook_cli("cache-flush", "--json")
    assert result.code == 0, result.err
    assert result.json()["counts"]["changed"] == 0  # flushes are actions, not changes
    gone = fleet_.on("beta-1", "wp", "option", "get", "_transient_rb_probe", *args)
    assert gone.returncode == 1


def test_backup_then_restore_backup(fleet_, runbook_cli) -> None:
    result = runbook_cli("backup", "--json")
    assert result.code == 0, result.err
    assert result.json()["counts"]["changed"] == 3
    made = {n: sorted(backups(fleet_, n).glob("*.tar.gz"))[-1] for n in NODES}
    for archive in made.values():
        manifest = json.loads(Path(str(archive).replace(".tar.gz", ".manifest.json")).read_text())
        assert manifest["version"] == "2.1.0"
    again = runbook_cli("backup", "--json")
    assert again.code == 0 and again.json()["counts"]["changed"] == 0  # identical tree: skipped
    # The backup of 2.1.0 is the newest now: roll back to 2.0.1 by name, then undo by name.
    older = sorted(p.name for p in backups(fleet_, "beta-1").glob("*.tar.gz"))[-2]
    down = runbook_cli("restore-backup", "--backup", older, "--reason", "r", "--yes", "-l", "beta")
    assert down.code == 0, down.err + down.out
    assert version(fleet_, "beta-1") == "2.0.1"
    name = made["beta-1"].name
    back = runbook_cli(
        "restore-backup", "--backup", name, "--reason", "undo", "--yes", "-l", "beta"
    )
    assert back.code == 0, back.err + back.out
    assert version(fleet_, "beta-1") == "2.1.0"
    assert version(fleet_, "alpha-1") == "2.1.0"  # -l beta: alpha untouched


@pytest.mark.parametrize(
    "args",
    [
        ("p1-disable-feature", "--feature", "modern_api_client", "--reason", "r", "--yes"),
        ("cache-flush",),
        ("backup",),
        ("restore-backup", "--reason", "r", "--yes"),
    ],
    ids=lambda a: a[0],
)
def test_check_mode_changes_nothing_for_every_runbook(fleet_, runbook_cli, args) -> None:
    def state():  # type: ignore[no-untyped-def]
        return (
            {s: flags(fleet_, s) for s in ("alpha", "beta")},
            {n: digest(plugin_tree(fleet_, n)) for n in NODES},
            {n: sorted(p.name for p in backups(fleet_, n).iterdir()) for n in NODES},
        )

    before = state()
    result = runbook_cli(*args, "--check", "--json")
    assert result.code == 0, result.err + result.out
    assert result.json()["check"] is True
    assert state() == before
    if args[0] in ("backup", "restore-backup", "p1-disable-feature"):
        assert result.json()["counts"]["changed"] > 0  # it says what it would change
