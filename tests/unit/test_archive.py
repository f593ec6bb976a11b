"""module_utils/runbook_archive.py: backups, verification, hostile archives, whole-tree swaps."""

from __future__ import annotations

import io
import json
import os
import tarfile
from pathlib import Path

import pytest

from runbook.ansible.module_utils import runbook_archive as ar

NOW = __import__("datetime").datetime(
    2026, 11, 20, 9, 30, 0, tzinfo=__import__("datetime").timezone.utc
)


def plugin(root: Path, version: str, extra: str = "") -> Path:
    tree = root / "mase"
    (tree / "includes").mkdir(parents=True, exist_ok=True)
    (tree / "mase.php").write_text(
        f"<?php\n/**\n * Plugin Name: MASE\n * Version: {version}\n */\n"
    )
    (tree / "includes" / "a.php").write_text(f"<?php // {version} {extra}\n")
    return tree


@pytest.fixture
def site(tmp_path: Path) -> dict[str, Path]:
    plugins = tmp_path / "wp" / "wp-content" / "plugins"
    plugins.mkdir(parents=True)
    backups = tmp_path / "backups"
    old = plugin(tmp_path / "old", "2.0.1")
    made = ar.create_backup(str(old), str(backups), "mase", now=NOW)
    assert made["created"]
    plugin(plugins, "2.1.0")
    return {
        "plugins": plugins,
        "backups": backups,
        "root": tmp_path,
        "backup": backups / made["name"],
    }


def tree_state(path: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()
    }


def test_backup_writes_archive_and_manifest(site: dict[str, Path]) -> None:
    manifest = json.loads(Path(ar.manifest_path(str(site["backup"]))).read_text())
    assert manifest["version"] == "2.0.1"
    assert manifest["archive_sha256"] == ar.sha256_file(str(site["backup"]))
    assert {f["path"] for f in manifest["files"]} == {"mase/mase.php", "mase/includes/a.php"}
    with tarfile.open(site["backup"]) as tar:
        assert all(n.startswith("mase") for n in tar.getnames())


def test_identical_tree_is_not_backed_up_twice(site: dict[str, Path]) -> None:
    live = site["plugins"] / "mase"
    first = ar.create_backup(str(live), str(site["backups"]), "mase", now=NOW.replace(hour=10))
    second = ar.create_backup(str(live), str(site["backups"]), "mase", now=NOW.replace(hour=11))
    assert first["created"] and not second["created"]
    assert second["skipped"] == f"identical to {first['name']}"


def test_keeps_newest_n(site: dict[str, Path], tmp_path: Path) -> None:
    for hour in range(10, 14):
        tree = plugin(tmp_path / f"v{hour}", f"2.{hour}.0")
        ar.create_backup(
            str(tree), str(site["backups"]), "mase", keep=2, now=NOW.replace(hour=hour)
        )
    names = sorted(p.name for p in site["backups"].glob("*.tar.gz"))
    assert names == ["mase-backup-20261120-123000.tar.gz", "mase-backup-20261120-133000.tar.gz"]
    assert len(list(site["backups"].glob("*.manifest.json"))) == 2


def test_refuses_when_space_is_short(
    site: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ar.shutil, "disk_usage", lambda _: type("U", (), {"free": 10})())
    with pytest.raises(ar.ArchiveError, match=r"not enough free space in .*backups: 10 bytes free"):
        ar.create_backup(
            str(site["plugins"] / "mase"), str(site["backups"]), "mase", now=NOW.replace(hour=12)
        )


def test_restore_swaps_whole_trees_and_keeps_a_snapshot(site: dict[str, Path]) -> None:
    result = ar.restore(str(site["plugins"]), str(site["backups"]), "mase", run_id="r1")
    assert result["changed"]
    assert (result["version_before"], result["version_after"]) == ("2.1.0", "2.0.1")
    snapshot = Path(result["snapshot"])
    assert snapshot.name.startswith("mase-snapshot-") and snapshot.name.endswith("-r1")
    assert ar.header_version((snapshot / "mase.php").read_bytes()) == "2.1.0"
    # Old code is kept out of the web root's reach: beside the plugins, in a 0700 folder.
    assert sorted(p.name for p in site["plugins"].iterdir()) == ["mase"]
    assert snapshot.parent == site["plugins"].parent / ".runbook"
    assert snapshot.parent.stat().st_mode & 0o777 == 0o700
    again = ar.restore(str(site["plugins"]), str(site["backups"]), "mase", run_id="r2")
    assert not again["changed"]  # idempotent: the live tree already is the backup


def test_check_mode_writes_nothing(site: dict[str, Path]) -> None:
    before = tree_state(site["root"])
    result = ar.restore(str(site["plugins"]), str(site["backups"]), "mase", check_mode=True)
    assert result["changed"] and result["version_after"] == "2.0.1"
    assert tree_state(site["root"]) == before


def test_checksum_mismatch_marks_bad_and_falls_back(site: dict[str, Path], tmp_path: Path) -> None:
    newer = plugin(tmp_path / "newer", "2.0.2")
    made = ar.create_backup(str(newer), str(site["backups"]), "mase", now=NOW.replace(hour=12))
    newest = site["backups"] / made["name"]
    with open(newest, "ab") as handle:
        handle.write(b"corruption")
    result = ar.restore(str(site["plugins"]), str(site["backups"]), "mase")
    assert result["backup"] == site["backup"].name
    assert result["rejected"][0]["name"] == newest.name
    assert "does not match its manifest" in result["rejected"][0]["reason"]
    assert Path(ar.bad_marker(str(newest))).exists()
    # Never chosen again, and refused by name.
    with pytest.raises(ar.ArchiveError, match="marked bad"):
        ar.choose_backup(str(site["backups"]), "mase", newest.name)


def hostile(backups: Path, name: str, build) -> Path:  # type: ignore[no-untyped-def]
    """A hostile archive with a manifest that matches it, so only inspection can stop it."""
    path = backups / name
    with tarfile.open(path, "w:gz") as tar:
        ok = b"<?php\n/**\n * Plugin Name: MASE\n * Version: 6.6.6\n */\n"
        info = tarfile.TarInfo("mase/mase.php")
        info.size = len(ok)
        tar.addfile(info, io.BytesIO(ok))
        build(tar)
    Path(ar.manifest_path(str(path))).write_text(
        json.dumps(
            {
                "format": 1,
                "archive": name,
                "archive_sha256": ar.sha256_file(str(path)),
                "archive_size": path.stat().st_size,
                "plugin": "mase",
                "version": "6.6.6",
                "tree_sha256": "x",
                "files": [],
            }
        )
    )
    return path


def member(name: str, kind: bytes = tarfile.REGTYPE, link: str = "", data: bytes = b"x"):  # type: ignore[no-untyped-def]
    def build(tar: tarfile.TarFile) -> None:
        info = tarfile.TarInfo(name)
        info.type = kind
        info.linkname = link
        if kind == tarfile.REGTYPE:
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        else:
            tar.addfile(info)

    return build


@pytest.mark.parametrize(
    ("build", "reason"),
    [
        (member("mase/../../../escaped.php"), "climbs out with '..'"),
        (member("/tmp/absolute-pwned"), "absolute path"),
        (member("mase/etc", tarfile.SYMTYPE, "/etc"), "symlink to an absolute path"),
        (member("mase/up", tarfile.SYMTYPE, "../../../../etc"), "symlink out of the tree"),
        (member("mase/hard", tarfile.LNKTYPE, "etc/passwd"), "hard link out of the tree"),
        (member("mase/null", tarfile.CHRTYPE), "device, fifo or other special file"),
        (member("other/file.php"), "outside the mase/ folder"),
    ],
)
def test_hostile_archives_are_refused_with_nothing_written(
    site: dict[str, Path], build, reason: str
) -> None:  # type: ignore[no-untyped-def]
    bad = hostile(site["backups"], "mase-backup-20261121-000000.tar.gz", build)
    before = tree_state(site["root"])
    with pytest.raises(ar.HostileArchive, match=reason):
        ar.inspect_members(str(bad), "mase")
    # Named: refused outright. Latest: marked bad, and the good older backup restored instead.
    with pytest.raises(ar.ArchiveError, match=reason):
        ar.restore(str(site["plugins"]), str(site["backups"]), "mase", wanted=bad.name)
    assert tree_state(site["root"] / "wp") == {
        k.removeprefix("wp/"): v for k, v in before.items() if k.startswith("wp/")
    }
    assert not (site["root"].parent / "escaped.php").exists()
    assert not Path("/tmp/absolute-pwned").exists()
    assert Path(ar.bad_marker(str(bad))).exists()  # never chosen again
    result = ar.restore(str(site["plugins"]), str(site["backups"]), "mase")
    assert result["backup"] == site["backup"].name
    assert result["version_after"] == "2.0.1"


def test_corrupt_gzip_is_a_clear_error(site: dict[str, Path]) -> None:
    path = site["backups"] / "mase-backup-20261122-000000.tar.gz"
    path.write_bytes(b"\x1f\x8b not really gzip")
    with pytest.raises(ar.ArchiveError, match=r"not a readable tar\.gz"):
        ar.inspect_members(str(path), "mase")


def test_interrupted_staging_is_cleaned_never_the_live_tree(site: dict[str, Path]) -> None:
    stale = site["plugins"] / ".mase-staging-old-abc" / "mase"
    stale.mkdir(parents=True)
    (stale / "half.php").write_text("<?php")
    result = ar.restore(str(site["plugins"]), str(site["backups"]), "mase", run_id="r3")
    assert result["staging_removed"] == [".mase-staging-old-abc"]
    assert (site["plugins"] / "mase" / "mase.php").exists()


def test_exchange_is_atomic_swap(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "f").write_text("a")
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "f").write_text("b")
    if not ar.exchange(str(tmp_path / "a"), str(tmp_path / "b")):
        pytest.skip("renameat2 RENAME_EXCHANGE unsupported here")
    assert (tmp_path / "a" / "f").read_text() == "b"
    assert (tmp_path / "b" / "f").read_text() == "a"


def test_manifest_of_another_format_is_refused(site: dict[str, Path]) -> None:
    Path(ar.manifest_path(str(site["backup"]))).write_text('{"format": 99}')
    with pytest.raises(ar.ArchiveError, match="not a runbook backup manifest"):
        ar.verify_archive(str(site["backup"]))


def test_merge_values_keeps_order_and_is_stable() -> None:
    from runbook.ansible.module_utils.runbook_wp import merge_values, validate_values

    current = {"modern_preview_engine": True, "legacy_fallback": False}
    merged = merge_values(current, {"legacy_fallback": True, "b_new": False, "a_new": True})
    assert list(merged) == ["modern_preview_engine", "legacy_fallback", "a_new", "b_new"]
    assert merge_values(merged, {"a_new": True}) == merged
    assert validate_values({"Bad-Name": True, "x": "yes"}, "flags") == [
        "'Bad-Name' is not a valid name (lowercase letters, digits, _)",
        "x='yes' is not a boolean",
    ]
    assert validate_values({"x": 101, "y": True}, "percentages") == [
        "x=101 is not a whole number from 0 to 100",
        "y=True is not a whole number from 0 to 100",
    ]
    assert os.sep == "/"


def chain(depth: int):  # type: ignore[no-untyped-def]
    """`s -> .`, `t -> s/..`, `u1 -> t/..`, ...: each link looks inside, and each climbs one
    real directory; then a file written through the last one."""

    def build(tar: tarfile.TarFile) -> None:
        links = [("mase/s", "."), ("mase/t", "s/..")]
        previous = "t"
        for n in range(1, depth + 1):
            links.append((f"mase/u{n}", f"{previous}/.."))
            previous = f"u{n}"
        for name, target in links:
            member(name, tarfile.SYMTYPE, target)(tar)
        member(f"mase/{previous}/x", data=b"escaped")(tar)

    return build


def matching_manifest(path: Path) -> None:
    """A manifest that matches what lands in staging: only inspection can stop the archive."""
    manifest = json.loads(Path(ar.manifest_path(str(path))).read_text())
    ok = b"<?php\n/**\n * Plugin Name: MASE\n * Version: 6.6.6\n */\n"
    import hashlib

    files = [{"path": "mase/mase.php", "size": len(ok), "sha256": hashlib.sha256(ok).hexdigest()}]
    manifest.update(files=files, tree_sha256=ar.tree_digest(files))
    Path(ar.manifest_path(str(path))).write_text(json.dumps(manifest))


@pytest.mark.parametrize("depth", [1, 2, 3, 4, 5, 6, 8])
def test_symlink_chains_of_every_depth_write_nothing_outside(
    site: dict[str, Path], depth: int
) -> None:
    """A chain of links that each look inside climbed out of staging, out of the site, into
    the host's /tmp; with a matching manifest the restore said success."""
    bad = hostile(site["backups"], "mase-backup-20261121-000000.tar.gz", chain(depth))
    matching_manifest(bad)
    before = tree_state(site["root"])
    with pytest.raises(ar.HostileArchive, match=r"through the symlink|not a regular file"):
        ar.inspect_members(str(bad), "mase")
    with pytest.raises(ar.ArchiveError):
        ar.restore(str(site["plugins"]), str(site["backups"]), "mase", wanted=bad.name)
    after = tree_state(site["root"])
    after.pop(f"backups/{bad.name}.bad")  # marked bad: never chosen again
    assert after == before  # nothing else written anywhere under the site
    assert not any(p.name == "x" for p in site["root"].parent.rglob("x"))


@pytest.mark.parametrize(
    ("build", "reason"),
    [
        (member("mase/d", tarfile.SYMTYPE, "."), "not a regular file"),
        (
            lambda tar: (
                member("mase/a.php", data=b"a")(tar),
                member("mase/l1", tarfile.SYMTYPE, "a.php")(tar),
                member("mase/l2", tarfile.SYMTYPE, "l1")(tar),
            ),
            "not a regular file",
        ),
        (
            lambda tar: (
                member("mase/l", tarfile.SYMTYPE, "mase.php")(tar),
                member("mase/l", data=b"overwrite")(tar),
            ),
            "appears twice",
        ),
        (
            lambda tar: (
                member("mase/sub", tarfile.SYMTYPE, "mase.php")(tar),
                member("mase/h", tarfile.LNKTYPE, "mase/sub")(tar),
            ),
            "not an earlier regular file",
        ),
    ],
)
def test_links_to_directories_links_and_duplicates_are_refused(
    site: dict[str, Path], build, reason: str
) -> None:  # type: ignore[no-untyped-def]
    bad = hostile(site["backups"], "mase-backup-20261121-000000.tar.gz", build)
    with pytest.raises(ar.HostileArchive, match=reason):
        ar.inspect_members(str(bad), "mase")


def test_a_symlink_to_a_file_restores_and_the_manifest_checks_it(site: dict[str, Path]) -> None:
    live = site["plugins"] / "mase"
    (live / "alias.php").symlink_to("mase.php")
    made = ar.create_backup(str(live), str(site["backups"]), "mase", now=NOW.replace(hour=13))
    manifest = ar.read_manifest(str(site["backups"] / made["name"]))
    assert manifest is not None and manifest["symlinks"] == {"mase/alias.php": "mase.php"}
    (live / "alias.php").unlink()
    (live / "mase.php").write_text("<?php\n/**\n * Plugin Name: MASE\n * Version: 9.9.9\n */\n")
    result = ar.restore(str(site["plugins"]), str(site["backups"]), "mase", wanted=made["name"])
    assert result["changed"] and (live / "alias.php").is_symlink()
    # A manifest that does not list a symlink the archive holds: refused before the swap.
    del manifest["symlinks"]
    Path(ar.manifest_path(str(site["backups"] / made["name"]))).write_text(json.dumps(manifest))
    (live / "alias.php").unlink()
    (live / "mase.php").write_text("<?php\n/**\n * Plugin Name: MASE\n * Version: 9.9.9\n */\n")
    with pytest.raises(ar.ArchiveError, match="does not match its manifest"):
        ar.restore(str(site["plugins"]), str(site["backups"]), "mase", wanted=made["name"])


def test_a_node_read_reports_what_it_holds_and_says_what_it_cannot(
    site: dict[str, Path],
) -> None:
    """read_node: what wp_site_info and mase_smoke_test (read) record of a node before any
    change, from the files WordPress, the plugin, the backups and the logs keep."""
    root = site["root"] / "wp"
    (root / "wp-includes").mkdir()
    (root / "wp-includes" / "version.php").write_text("<?php\n$wp_version = '6.4.2';\n")
    log = root / "wp-content" / "debug.log"
    log.write_text("[20-Nov-2026 09:30:00 UTC] PHP Notice: x\n")
    newer = ar.create_backup(str(site["plugins"] / "mase"), str(site["backups"]), "mase")
    ar.mark_bad(str(site["backups"] / newer["name"]), "checksum")
    locks = site["root"] / "locks"
    locks.mkdir()
    (locks / "shop.lock").write_text("{not json")
    params = {
        "path": str(root),
        "plugin": "mase",
        "backup_dir": str(site["backups"]),
        "logs": [str(log), str(root / "missing.log")],
        "lock_file": str(locks / "shop.lock"),
    }
    node, fields = ar.read_node(params)
    assert node["wordpress_version"] == "6.4.2" and node["plugin_version"] == "2.1.0"
    assert (node["backups"], node["bad_backups"]) == (2, 1)
    assert node["newest_backup"] == site["backup"].name  # never one a restore marked bad
    assert node["lock"]["path"] == str(locks / "shop.lock") and "unreadable" in node["lock"]
    assert fields["log_offsets"] == {str(log): log.stat().st_size, str(root / "missing.log"): 0}
    assert fields["errors"] == node["errors"] == []

    # version.php unreadable: WP-CLI is asked, and what it says when it fails is kept.
    (root / "wp-includes" / "version.php").unlink()
    site["backups"].chmod(0)
    try:

        def wp(args: list[str]) -> str:
            raise ar.WpError(
                ["wp", *args], 1, "", "Error: This does not seem to be a WordPress installation."
            )

        node, fields = ar.read_node({**params, "lock_file": None}, wp)
    finally:
        site["backups"].chmod(0o755)
    assert node["wordpress_version"] is None and node["lock"] is None
    assert "does not seem to be a WordPress installation" in node["errors"][0]
    if os.geteuid() != 0:  # root reads a folder it may not list
        assert node["errors"][1].startswith(f"cannot list the backups in {site['backups']}")
