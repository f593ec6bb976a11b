"""A plugin package made ready for the fleet: checked on the controller before any node
changes, and turned into the one archive shape the nodes' restore already verifies.

A package is a `.zip` (as WordPress plugins ship), a `.tar.gz` or a folder. Every member is
checked as a restore checks a backup (no absolute paths, no `..`, nothing outside `slug/`, no
links that escape, no devices; bounded in count and size; a zip's symlinks and bombs refused),
then the tree is packed again as `slug-backup-STAMP.tar.gz` with a manifest (sizes, sha256s,
the tree's digest, the version from the plugin header): on each node `plugin_restore` verifies
it, stages it, swaps it in atomically and checks the version, as it does for a backup.
"""

from __future__ import annotations

import datetime
import json
import os
import shutil
import stat
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runbook.ansible.module_utils import runbook_archive as archive
from runbook.errors import RunbookError

MAX_MEMBERS = 20_000
MAX_BYTES = 256 << 20
MAX_RATIO = 200  # uncompressed / compressed, per zip member: more is a bomb


@dataclass(frozen=True)
class Package:
    path: Path  # the canonical archive
    manifest: dict[str, Any]

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def version(self) -> str | None:
        return self.manifest.get("version")


def manifest_of(path: Path) -> str:
    """Where the archive's manifest is (beside it, as a backup's)."""
    return archive.manifest_path(str(path))


def _refuse(source: Path, why: str) -> RunbookError:
    return RunbookError(f"--package {source}: refused: {why}")


def _check_zip_member(source: Path, info: zipfile.ZipInfo, slug: str) -> list[str]:
    """The member's path parts, or a refusal naming it."""
    name = info.filename
    where = f"member {name!r}"
    if name.startswith(("/", "\\")) or "\\" in name or (len(name) > 1 and name[1] == ":"):
        raise _refuse(source, f"{where} has an absolute or Windows path")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise _refuse(source, f"{where} climbs out with '..'")
    if not parts or parts[0] != slug:
        raise _refuse(source, f"{where} is outside the {slug}/ folder")
    kind = stat.S_IFMT(info.external_attr >> 16)
    if kind and kind not in (stat.S_IFREG, stat.S_IFDIR):
        raise _refuse(source, f"{where} is a symlink or special file")
    if info.compress_size and info.file_size / info.compress_size > MAX_RATIO:
        raise _refuse(source, f"{where} unpacks {MAX_RATIO}x its size (a zip bomb)")
    return parts


def _unzip(source: Path, slug: str, staging: Path) -> None:
    try:
        with zipfile.ZipFile(source) as bundle:
            infos = bundle.infolist()
            if len(infos) > MAX_MEMBERS:
                raise _refuse(source, f"more than {MAX_MEMBERS} members")
            if sum(i.file_size for i in infos) > MAX_BYTES:
                raise _refuse(source, f"more than {MAX_BYTES >> 20} MiB unpacked")
            paths = [(info, _check_zip_member(source, info, slug)) for info in infos]
            for info, parts in paths:
                dest = staging.joinpath(*parts)
                if info.is_dir():
                    dest.mkdir(parents=True, exist_ok=True)
                    continue
                dest.parent.mkdir(parents=True, exist_ok=True)
                written = 0
                with bundle.open(info) as data, open(dest, "xb") as out:
                    while chunk := data.read(1 << 20):
                        written += len(chunk)
                        if written > info.file_size:
                            raise _refuse(
                                source, f"member {info.filename!r} is longer than it says"
                            )
                        out.write(chunk)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError) as exc:
        raise RunbookError(f"--package {source}: not a readable zip: {exc}") from None


def _untar(source: Path, slug: str, staging: Path) -> None:
    try:
        members = archive.inspect_members(str(source), slug, MAX_MEMBERS, MAX_BYTES)
        archive.extract_members(str(source), members, str(staging))
    except archive.HostileArchive as exc:
        raise _refuse(source, str(exc).split(": ", 1)[-1]) from None
    except archive.ArchiveError as exc:
        raise RunbookError(f"--package {exc}") from None


def _copy_folder(source: Path, slug: str, staging: Path) -> None:
    tree = source if source.name == slug else source / slug
    if not (tree / f"{slug}.php").is_file():
        raise RunbookError(f"--package {source}: no {slug}/{slug}.php in this folder")
    for path in tree.rglob("*"):
        if path.is_symlink() or not (path.is_file() or path.is_dir()):
            raise _refuse(source, f"{path} is a symlink or special file")
    shutil.copytree(tree, staging / slug, symlinks=True)


def prepare(
    source: Path,
    slug: str,
    version: str | None,
    out_dir: Path,
    now: datetime.datetime | None = None,
) -> Package:
    """Check `source`, and write its canonical archive and manifest into `out_dir`."""
    if not source.exists():
        raise RunbookError(f"--package {source}: no such file or folder")
    now = now or datetime.datetime.now(datetime.UTC)
    out_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    with tempfile.TemporaryDirectory(prefix="runbook-package-", dir=out_dir) as tmp:
        staging = Path(tmp) / "tree"
        staging.mkdir()
        name = source.name.lower()
        if source.is_dir():
            _copy_folder(source, slug, staging)
        elif name.endswith(".zip"):
            _unzip(source, slug, staging)
        elif name.endswith((".tar.gz", ".tgz")):
            _untar(source, slug, staging)
        else:
            raise RunbookError(f"--package {source}: a .zip, a .tar.gz or a folder")
        tree = staging / slug
        if not (tree / f"{slug}.php").is_file():
            raise RunbookError(f"--package {source}: holds no {slug}/{slug}.php")
        files, found = archive.tree_files(str(tree), slug)
        if not found:
            raise RunbookError(f"--package {source}: {slug}.php has no Version: header")
        if version and version != found:
            raise RunbookError(
                f"--package {source}: its plugin header says version {found}, "
                f"--version says {version}"
            )
        target = out_dir / f"{slug}-backup-{now:%Y%m%d-%H%M%S}.tar.gz"
        with tarfile.open(target, "w:gz") as tar:
            tar.add(str(tree), arcname=slug, recursive=True, filter=archive._clean_tarinfo)
        manifest = {
            "format": archive.MANIFEST_FORMAT,
            "archive": target.name,
            "archive_sha256": archive.sha256_file(str(target)),
            "archive_size": os.path.getsize(target),
            "plugin": slug,
            "version": found,
            "created_at": now.isoformat(timespec="seconds"),
            "tree_sha256": archive.tree_digest(files),
            "files": files,
            "symlinks": archive.tree_symlinks(str(tree), slug),
            "source": str(source),
        }
        Path(archive.manifest_path(str(target))).write_text(json.dumps(manifest, indent=1))
    # The archive as the nodes will read it: checked once more.
    archive.inspect_members(str(target), slug)
    return Package(target, manifest)
