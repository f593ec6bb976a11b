"""A deploy's package, checked on the controller before any node changes: zip, tar.gz and
folder; the hostile shapes refused, naming the member."""

from __future__ import annotations

import io
import stat
import tarfile
import zipfile
from pathlib import Path

import pytest

from runbook.ansible.module_utils import runbook_archive as archive
from runbook.errors import RunbookError
from runbook.rollout.package import prepare

HEADER = b"<?php\n/*\n * Plugin Name: MASE\n * Version: 2.1.1\n */\n"


def zipped(path: Path, members: dict[str, bytes], symlink: str | None = None) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(name, data)
        if symlink:
            info = zipfile.ZipInfo(symlink)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            z.writestr(info, "/etc/passwd")
    return path


def test_a_zip_becomes_the_archive_the_nodes_verify(tmp_path: Path) -> None:
    source = zipped(
        tmp_path / "mase.zip",
        {"mase/mase.php": HEADER, "mase/includes/rest.php": b"<?php // rest\n"},
    )
    package = prepare(source, "mase", "2.1.1", tmp_path / "out")
    assert package.version == "2.1.1" and package.name.startswith("mase-backup-")
    # Exactly what plugin_restore checks on a node: the manifest, then every member.
    assert archive.verify_archive(str(package.path))["version"] == "2.1.1"
    names = {m.name for m in archive.inspect_members(str(package.path), "mase")}
    assert {"mase/mase.php", "mase/includes/rest.php"} <= names


def test_a_tarball_and_a_folder(tmp_path: Path) -> None:
    tree = tmp_path / "src" / "mase"
    tree.mkdir(parents=True)
    (tree / "mase.php").write_bytes(HEADER)
    assert prepare(tree, "mase", None, tmp_path / "a").version == "2.1.1"
    tarball = tmp_path / "mase.tar.gz"
    with tarfile.open(tarball, "w:gz") as tar:
        tar.add(tree, arcname="mase")
    assert prepare(tarball, "mase", "2.1.1", tmp_path / "b").version == "2.1.1"


@pytest.mark.parametrize(
    ("members", "symlink", "message"),
    [
        ({"mase/mase.php": HEADER, "../evil.php": b"x"}, None, "climbs out with '..'"),
        ({"mase/mase.php": HEADER, "/etc/cron.d/x": b"x"}, None, "absolute or Windows path"),
        ({"mase/mase.php": HEADER, "other/x.php": b"x"}, None, "outside the mase/ folder"),
        ({"mase/mase.php": HEADER}, "mase/link", "is a symlink or special file"),
        ({"mase/mase.php": HEADER, "mase/zeros": b"\0" * (1 << 20)}, None, "a zip bomb"),
    ],
)
def test_hostile_zips_are_refused(tmp_path: Path, members, symlink, message: str) -> None:
    source = zipped(tmp_path / "bad.zip", members, symlink)
    with pytest.raises(RunbookError, match="refused") as caught:
        prepare(source, "mase", None, tmp_path / "out")
    assert message in caught.value.message
    assert not list((tmp_path / "out").glob("*.tar.gz"))


def test_a_tar_symlink_out_of_the_tree_is_refused(tmp_path: Path) -> None:
    tarball = tmp_path / "bad.tar.gz"
    with tarfile.open(tarball, "w:gz") as tar:
        info = tarfile.TarInfo("mase/mase.php")
        info.size = len(HEADER)
        tar.addfile(info, io.BytesIO(HEADER))
        link = tarfile.TarInfo("mase/escape")
        link.type = tarfile.SYMTYPE
        link.linkname = "../../../etc"
        tar.addfile(link)
    with pytest.raises(RunbookError, match="symlink out of the tree"):
        prepare(tarball, "mase", None, tmp_path / "out")


@pytest.mark.parametrize(
    ("members", "version", "message"),
    [
        ({"mase/mase.php": HEADER}, "2.2.0", "header says version 2.1.1, --version says 2.2.0"),
        ({"mase/readme.txt": b"x"}, None, "holds no mase/mase.php"),
        ({"mase/mase.php": b"<?php // no header\n"}, None, "has no Version: header"),
    ],
)
def test_versions_and_headers(tmp_path: Path, members, version, message: str) -> None:
    with pytest.raises(RunbookError, match=message):
        prepare(zipped(tmp_path / "p.zip", members), "mase", version, tmp_path / "out")


def test_not_a_zip(tmp_path: Path) -> None:
    bad = tmp_path / "broken.zip"
    bad.write_bytes(b"PK\x03\x04 this is not really a zip")
    with pytest.raises(RunbookError, match="not a readable zip"):
        prepare(bad, "mase", None, tmp_path / "out")
