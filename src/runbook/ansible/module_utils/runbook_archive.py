# -*- coding: utf-8 -*-
"""Plugin backups and restores that never leave a half tree. Plain Python: no Ansible import.

A backup is `<slug>-backup-YYYYMMDD-HHMMSS.tar.gz` (members under `<slug>/`, as the workflow
document's `tar -xzf ... -C wp-content/plugins/` expects) with a manifest beside it,
`<same stem>.manifest.json`: the archive's sha256 and size, the plugin version, and every
file's path, size and sha256. A backup that fails verification gets a `.bad` marker beside it
and is never chosen again.

A restore checks the archive's checksum, then every member, before anything is written;
extracts into an empty staging folder beside the plugin folder (same filesystem); and swaps
the staging folder with the live one in one atomic step (renameat2 RENAME_EXCHANGE), so at
every instant the plugin folder is a whole tree, old or new. The old tree is kept as a
snapshot, so the restore itself can be undone.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import datetime
import errno
import hashlib
import json
import os
import re
import shutil
import stat
import tarfile
import tempfile
import zlib
from typing import Any, Callable, Dict, List, Optional, Pattern, Set, Tuple

from .runbook_lock import describe
from .runbook_wp import WpError, core_version, plugin_version

MANIFEST_FORMAT = 1
CHUNK = 1 << 20
VERSION_HEADER = re.compile(rb"^[ \t/*#@]*Version:(.*)$", re.IGNORECASE | re.MULTILINE)


class ArchiveError(Exception):
    """A backup or restore cannot go ahead; the message names the file and the reason."""


class HostileArchive(ArchiveError):
    """An archive member would write outside the plugin folder, or is not a plain file."""


def backup_regex(slug: str) -> Pattern[str]:
    return re.compile(re.escape(slug) + r"-backup-(\d{8})-(\d{6})\.tar\.gz")


def manifest_path(archive: str) -> str:
    return archive[: -len(".tar.gz")] + ".manifest.json"


def bad_marker(archive: str) -> str:
    return archive + ".bad"


def sha256_file(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def header_version(data: bytes) -> Optional[str]:
    if b"Plugin Name:" not in data[:8192]:
        return None
    match = VERSION_HEADER.search(data[:8192])
    if not match:
        return None
    return match.group(1).strip().rstrip(b"*/").strip().decode("utf-8", "replace")


def tree_files(plugin_dir: str, slug: str) -> Tuple[List[Dict[str, Any]], Optional[str]]:
    """Every regular file of a plugin folder: path (under slug/), size, sha256; and its version."""
    files: List[Dict[str, Any]] = []
    version = None
    for root, dirs, names in os.walk(plugin_dir):
        dirs.sort()
        for name in sorted(names):
            full = os.path.join(root, name)
            st = os.lstat(full)
            if not stat.S_ISREG(st.st_mode):
                continue
            rel = os.path.relpath(full, plugin_dir).replace(os.sep, "/")
            files.append({"path": f"{slug}/{rel}", "size": st.st_size, "sha256": sha256_file(full)})
            if version is None and "/" not in rel and rel.endswith(".php"):
                with open(full, "rb") as handle:
                    version = header_version(handle.read(8192))
    return files, version


def tree_symlinks(plugin_dir: str, slug: str) -> Dict[str, str]:
    """Every symlink of a plugin folder: path (under slug/) -> what it points at."""
    found: Dict[str, str] = {}
    for root, dirs, names in os.walk(plugin_dir):
        for name in sorted(dirs + names):
            full = os.path.join(root, name)
            if os.path.islink(full):
                rel = os.path.relpath(full, plugin_dir).replace(os.sep, "/")
                found[f"{slug}/{rel}"] = os.readlink(full)
    return found


def tree_digest(files: List[Dict[str, Any]]) -> str:
    digest = hashlib.sha256()
    for entry in sorted(files, key=lambda f: f["path"]):
        digest.update(f"{entry['path']}\0{entry['size']}\0{entry['sha256']}\n".encode())
    return digest.hexdigest()


def read_manifest(archive: str) -> Optional[Dict[str, Any]]:
    path = manifest_path(archive)
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise ArchiveError(f"{path}: unreadable manifest: {exc}") from None
    if not isinstance(data, dict) or data.get("format") != MANIFEST_FORMAT:
        raise ArchiveError(f"{path}: not a runbook backup manifest (format {MANIFEST_FORMAT})")
    return data


def list_backups(backup_dir: str, slug: str) -> List[Dict[str, Any]]:
    """The slug's backups, newest first: name, path, size, has a manifest, marked bad."""
    regex = backup_regex(slug)
    found: List[Dict[str, Any]] = []
    try:
        names = os.listdir(backup_dir)
    except FileNotFoundError:
        return []
    for name in names:
        if not regex.fullmatch(name):
            continue
        path = os.path.join(backup_dir, name)
        try:
            size = os.path.getsize(path)
        except OSError:
            continue  # removed (pruned) since listdir
        found.append(
            {
                "name": name,
                "path": path,
                "size": size,
                "manifest": os.path.exists(manifest_path(path)),
                "bad": os.path.exists(bad_marker(path)),
            }
        )
    found.sort(key=lambda b: b["name"], reverse=True)
    return found


def mark_bad(archive: str, reason: str) -> None:
    with open(bad_marker(archive), "w", encoding="utf-8") as handle:
        json.dump({"reason": reason, "marked_at": _now()}, handle)


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def _fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_json_atomic(path: str, data: Any) -> None:
    folder = os.path.dirname(path)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=2, sort_keys=True)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


# -- backup ----------------------------------------------------------------------------------


def create_backup(
    plugin_dir: str,
    backup_dir: str,
    slug: str,
    keep: int = 10,
    now: Optional[datetime.datetime] = None,
    check_mode: bool = False,
    min_free_margin: int = 1 << 20,
) -> Dict[str, Any]:
    """Back the plugin folder up unless the newest good backup already holds the same tree.

    Returns a dict: created (bool), name, version, skipped (reason or None), pruned (names).
    """
    if not os.path.isdir(plugin_dir):
        raise ArchiveError(f"{plugin_dir}: no plugin folder to back up")
    files, version = tree_files(plugin_dir, slug)
    digest = tree_digest(files)
    for backup in list_backups(backup_dir, slug):
        if backup["bad"] or not backup["manifest"]:
            continue
        manifest = read_manifest(backup["path"])
        if manifest and manifest.get("tree_sha256") == digest:
            return {
                "created": False,
                "name": backup["name"],
                "version": version,
                "skipped": f"identical to {backup['name']}",
                "pruned": [],
            }
        break  # only the newest good backup counts
    now = now or datetime.datetime.now(datetime.timezone.utc)
    name = f"{slug}-backup-{now:%Y%m%d-%H%M%S}.tar.gz"
    need = sum(f["size"] for f in files) + min_free_margin
    if check_mode:
        return {
            "created": True,
            "name": name,
            "version": version,
            "skipped": None,
            "pruned": _prune_names(backup_dir, slug, keep, extra=name),
        }
    os.makedirs(backup_dir, mode=0o750, exist_ok=True)
    free = shutil.disk_usage(backup_dir).free
    if free < need:
        raise ArchiveError(
            f"not enough free space in {backup_dir}: {free} bytes free, "
            f"{need} needed for a backup of {plugin_dir}"
        )
    path = os.path.join(backup_dir, name)
    if os.path.exists(path):
        raise ArchiveError(f"{path} exists already: one backup per second at most")
    fd, tmp = tempfile.mkstemp(dir=backup_dir, prefix=".tmp-", suffix=".tar.gz")
    os.close(fd)
    try:
        with tarfile.open(tmp, "w:gz") as tar:
            tar.add(plugin_dir, arcname=slug, recursive=True, filter=_clean_tarinfo)
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        manifest = {
            "format": MANIFEST_FORMAT,
            "archive": name,
            "archive_sha256": sha256_file(tmp),
            "archive_size": os.path.getsize(tmp),
            "plugin": slug,
            "version": version,
            "created_at": now.isoformat(timespec="seconds"),
            "tree_sha256": digest,
            "files": files,
            "symlinks": tree_symlinks(plugin_dir, slug),
        }
        os.chmod(tmp, 0o640)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    _write_json_atomic(manifest_path(path), manifest)
    _fsync_dir(backup_dir)
    pruned = _prune_names(backup_dir, slug, keep)
    for old in pruned:
        old_path = os.path.join(backup_dir, old)
        for victim in (old_path, manifest_path(old_path), bad_marker(old_path)):
            if os.path.exists(victim):
                os.unlink(victim)
    return {"created": True, "name": name, "version": version, "skipped": None, "pruned": pruned}


def _clean_tarinfo(info: tarfile.TarInfo) -> tarfile.TarInfo:
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


def _prune_names(backup_dir: str, slug: str, keep: int, extra: Optional[str] = None) -> List[str]:
    names = [b["name"] for b in list_backups(backup_dir, slug)]
    if extra:
        names = sorted([*names, extra], reverse=True)
    return names[keep:] if keep > 0 else []


# -- restore ---------------------------------------------------------------------------------


def verify_archive(archive: str) -> Optional[Dict[str, Any]]:
    """The archive matches its manifest (size and sha256). Returns the manifest or None."""
    manifest = read_manifest(archive)
    if manifest is None:
        return None
    size = os.path.getsize(archive)
    if size != manifest.get("archive_size"):
        raise ArchiveError(
            f"{archive}: size {size} does not match its manifest ({manifest.get('archive_size')})"
        )
    actual = sha256_file(archive)
    if actual != manifest.get("archive_sha256"):
        raise ArchiveError(
            f"{archive}: sha256 {actual} does not match its manifest "
            f"({manifest.get('archive_sha256')})"
        )
    return manifest


def inspect_members(
    archive: str, slug: str, max_members: int = 20000, max_bytes: int = 1 << 30
) -> List[tarfile.TarInfo]:
    """Every member, checked before anything is written. Returns the members to extract."""
    members: List[tarfile.TarInfo] = []
    total = 0
    seen = _Seen()
    try:
        with tarfile.open(archive, "r:gz") as tar:
            for member in tar:
                members.append(_check_member(archive, member, slug, seen))
                total += member.size
                if len(members) > max_members or total > max_bytes:
                    raise HostileArchive(
                        f"{archive}: more than {max_members} members or {max_bytes} bytes: refused"
                    )
    except (tarfile.TarError, EOFError, OSError, zlib.error) as exc:
        raise ArchiveError(f"{archive}: not a readable tar.gz: {exc}") from None
    if not any(m.name == f"{slug}/{slug}.php" or m.name.startswith(f"{slug}/") for m in members):
        raise ArchiveError(f"{archive}: holds no {slug}/ folder")
    # A symlink may only name a regular file of the archive: never a directory (`s -> .`) or
    # another symlink, whose chains climb one real directory per link (`t -> s/..`).
    for link, target in seen.links.items():
        if target not in seen.files:
            raise HostileArchive(
                f"{archive}: member {link!r} is a symlink to {target!r}, which is not a regular "
                "file of the archive (a directory, another symlink, or nothing)"
            )
    return members


class _Seen:
    """What the members before this one are: how later ones are judged."""

    def __init__(self) -> None:
        self.files: Set[str] = set()
        self.dirs: Set[str] = set()
        #: symlink member -> the archive path it points at
        self.links: Dict[str, str] = {}

    def through_link(self, parts: List[str]) -> Optional[str]:
        """The symlink member among the parents of `parts`, if any."""
        for n in range(1, len(parts)):
            prefix = "/".join(parts[:n])
            if prefix in self.links:
                return prefix
        return None


def _check_member(
    archive: str, member: tarfile.TarInfo, slug: str, seen: Optional[_Seen] = None
) -> tarfile.TarInfo:
    name = member.name
    where = f"{archive}: member {name!r}"
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        raise HostileArchive(f"{where} has an absolute path")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise HostileArchive(f"{where} climbs out with '..'")
    if not parts or parts[0] != slug:
        raise HostileArchive(f"{where} is outside the {slug}/ folder")
    if (
        member.isdev()
        or member.isfifo()
        or not (member.isfile() or member.isdir() or member.issym() or member.islnk())
    ):
        raise HostileArchive(f"{where} is a device, fifo or other special file")
    if member.islnk():
        target = [p for p in member.linkname.split("/") if p not in ("", ".")]
        if member.linkname.startswith("/") or ".." in target or not target or target[0] != slug:
            raise HostileArchive(f"{where} is a hard link out of the tree ({member.linkname})")
    resolved = None
    if member.issym():
        link = member.linkname
        if link.startswith("/"):
            raise HostileArchive(f"{where} is a symlink to an absolute path ({link})")
        resolved = os.path.normpath(os.path.join(os.path.dirname("/".join(parts)), link))
        if resolved.startswith("..") or resolved.split("/")[0] != slug:
            raise HostileArchive(f"{where} is a symlink out of the tree ({link})")
    path = "/".join(parts)
    if seen is not None:
        _check_against(seen, where, path, parts, member, resolved)
    member.name = path
    return member


def _check_against(
    seen: _Seen,
    where: str,
    path: str,
    parts: List[str],
    member: tarfile.TarInfo,
    resolved: Optional[str],
) -> None:
    """Judge a member by what the archive already holds: nothing is written through a
    symlink, nothing replaces an earlier member, a hard link names an earlier regular file."""
    via = seen.through_link(parts)
    if via:
        raise HostileArchive(f"{where} would be written through the symlink {via!r}")
    if path in seen.files or path in seen.links or (path in seen.dirs and not member.isdir()):
        raise HostileArchive(f"{where} appears twice in the archive")
    if member.islnk():
        target = "/".join(p for p in member.linkname.split("/") if p not in ("", "."))
        if target not in seen.files:
            raise HostileArchive(
                f"{where} is a hard link to {member.linkname!r}, not an earlier regular file"
            )
        seen.files.add(path)
    elif member.issym():
        seen.links[path] = str(resolved)
    elif member.isdir():
        seen.dirs.add(path)
    else:
        seen.files.add(path)


def extract_members(archive: str, members: List[tarfile.TarInfo], staging: str) -> None:
    """Write the checked members into the empty staging folder, by hand (never extractall)."""
    with tarfile.open(archive, "r:gz") as tar:
        for member in members:
            dest = os.path.join(staging, member.name)
            if member.isdir():
                os.makedirs(dest, mode=0o755, exist_ok=True)
                continue
            os.makedirs(os.path.dirname(dest), mode=0o755, exist_ok=True)
            if member.issym():
                os.symlink(member.linkname, dest)
            elif member.islnk():
                shutil.copyfile(os.path.join(staging, os.path.normpath(member.linkname)), dest)
                os.chmod(dest, 0o644)
            else:
                source = tar.extractfile(member)
                if source is None:
                    raise ArchiveError(f"{archive}: member {member.name!r} has no data")
                flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
                fd = os.open(dest, flags, 0o644 if not member.mode & 0o111 else 0o755)
                with os.fdopen(fd, "wb") as out:
                    shutil.copyfileobj(source, out, CHUNK)
                    out.flush()
                    os.fsync(out.fileno())


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def exchange(a: str, b: str) -> bool:
    """Swap two paths atomically (renameat2 RENAME_EXCHANGE). False where unsupported."""
    libc_name = ctypes.util.find_library("c")
    if not libc_name:
        return False
    libc = ctypes.CDLL(libc_name, use_errno=True)
    renameat2 = getattr(libc, "renameat2", None)
    if renameat2 is None:
        return False
    result = renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    if result == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS):
        return False
    raise OSError(err, os.strerror(err), a)


def private_dir(plugins_dir: str) -> str:
    """Where staging folders and snapshots live: `.runbook` beside the plugins folder (so on
    the same filesystem, for the atomic swap), 0700, so that neither the web server nor PHP
    can read, let alone serve or run, old code from it."""
    path = os.path.join(os.path.dirname(os.path.abspath(plugins_dir)), ".runbook")
    os.makedirs(path, mode=0o700, exist_ok=True)
    if os.stat(path).st_mode & 0o077:
        os.chmod(path, 0o700)
    return path


def cleanup_staging(plugins_dir: str, slug: str) -> List[str]:
    """Remove staging folders an interrupted restore left (never the live one, never
    snapshots), and move snapshots an older runbook kept in the plugins folder out of it."""
    removed = []
    private = private_dir(plugins_dir)
    for folder, prefix in ((plugins_dir, f".{slug}-staging-"), (private, f"{slug}-staging-")):
        for name in os.listdir(folder):
            if name.startswith(prefix):
                shutil.rmtree(os.path.join(folder, name), ignore_errors=True)
                removed.append(name)
    for name in os.listdir(plugins_dir):
        if name.startswith(f".{slug}-snapshot-"):  # web-reachable where it was
            os.rename(os.path.join(plugins_dir, name), os.path.join(private, name[1:]))
    return removed


def choose_backup(backup_dir: str, slug: str, wanted: Optional[str] = None) -> Dict[str, Any]:
    """The named backup, or the newest one not marked bad."""
    backups = list_backups(backup_dir, slug)
    if wanted and wanted != "latest":
        for backup in backups:
            if backup["name"] == wanted:
                if backup["bad"]:
                    raise ArchiveError(f"{backup['path']} is marked bad: choose another")
                return backup
        raise ArchiveError(
            f"no backup {wanted} in {backup_dir} "
            f"(has: {', '.join(b['name'] for b in backups) or 'none'})"
        )
    for backup in backups:
        if not backup["bad"]:
            return backup
    raise ArchiveError(f"no good backup of {slug} in {backup_dir}")


def restore(
    plugins_dir: str,
    backup_dir: str,
    slug: str,
    wanted: Optional[str] = None,
    run_id: str = "manual",
    check_mode: bool = False,
    wp_root: Optional[str] = None,
) -> Dict[str, Any]:
    """Restore a backup of plugins_dir/slug. Returns what happened (see RETURN of the module).

    Tries the named backup, or the newest good ones in turn: a backup that fails verification
    or inspection is marked bad (and, when none was named, the next one is tried).
    """
    live = os.path.join(plugins_dir, slug)
    current_files, current_version = tree_files(live, slug) if os.path.isdir(live) else ([], None)
    current_digest = tree_digest(current_files) if current_files else None
    rejected = []
    while True:
        backup = choose_backup(backup_dir, slug, wanted)
        try:
            manifest = verify_archive(backup["path"])
            members = inspect_members(backup["path"], slug)
            break
        except ArchiveError as exc:
            if not check_mode:
                mark_bad(backup["path"], str(exc))
            rejected.append({"name": backup["name"], "reason": str(exc)})
            if (wanted and wanted != "latest") or check_mode:
                raise ArchiveError(str(exc)) from None
    expected = manifest.get("version") if manifest else None
    result = {
        "backup": backup["name"],
        "verified": manifest is not None,
        "rejected": rejected,
        "version_before": current_version,
        "version_expected": expected,
        "changed": False,
        "snapshot": None,
        "staging_removed": [],
    }
    if (
        manifest
        and current_digest == manifest.get("tree_sha256")
        and tree_symlinks(live, slug) == manifest.get("symlinks", {})
    ):
        result["version_after"] = current_version
        return result  # the live tree is already this backup: nothing to do
    result["changed"] = True
    if check_mode:
        result["version_after"] = expected
        return result
    result["staging_removed"] = cleanup_staging(plugins_dir, slug)
    private = private_dir(plugins_dir)
    staging_parent = tempfile.mkdtemp(prefix=f"{slug}-staging-{run_id}-", dir=private)
    extract_members(backup["path"], members, staging_parent)
    staged = os.path.join(staging_parent, slug)
    files, _staged_version = tree_files(staged, slug)
    # Before the swap: the files, and the symlinks too (a manifest of old lists none).
    if manifest and (
        tree_digest(files) != manifest.get("tree_sha256")
        or tree_symlinks(staged, slug) != manifest.get("symlinks", {})
    ):
        shutil.rmtree(staging_parent)
        mark_bad(backup["path"], "extracted tree does not match the manifest")
        raise ArchiveError(f"{backup['path']}: extracted tree does not match its manifest")
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%d-%H%M%S")
    snapshot = os.path.join(private, f"{slug}-snapshot-{stamp}-{run_id}")
    if os.path.isdir(live):
        if exchange(staged, live):
            # `live` is now the restored tree; the old one sits where the staged one was.
            os.rename(staged, snapshot)
        else:
            os.rename(live, snapshot)
            os.rename(staged, live)
        result["snapshot"] = snapshot
    else:
        os.rename(staged, live)
    os.rmdir(staging_parent)
    _fsync_dir(plugins_dir)
    _fsync_dir(private)
    if wp_root:
        maintenance = os.path.join(wp_root, ".maintenance")
        if os.path.exists(maintenance):
            try:
                os.unlink(maintenance)
                result["maintenance_removed"] = True
            except OSError:
                result["maintenance_removed"] = False
    _live_files, restored = tree_files(live, slug)
    result["version_after"] = restored
    if expected and restored != expected:
        raise ArchiveError(f"{live}: restored version {restored}, its manifest says {expected}")
    return result


#: plugin_restore's options; mase_smoke_test's `restore` takes the same (a restore and the
#: checks of what it restored, in one call).
RESTORE_SPEC: Dict[str, Any] = dict(
    plugins_dir=dict(type="path", required=True),
    backup_dir=dict(type="path", required=True),
    slug=dict(type="str", required=True),
    backup=dict(type="str", default="latest"),
    run_id=dict(type="str", default="manual"),
    wp_root=dict(type="path"),
    reload_argv=dict(type="list", elements="str", default=[]),
    logs=dict(type="list", elements="path", default=[]),
)


class RestoreFailed(Exception):
    """plugin_restore's call failed: `msg` and the result `fields` its failure returns."""

    def __init__(self, msg: str, fields: Dict[str, Any]) -> None:
        super().__init__(msg)
        self.msg = msg
        self.fields = fields


def restore_and_reload(
    params: Dict[str, Any], check_mode: bool, run_command: Any
) -> Tuple[bool, Dict[str, Any]]:
    """plugin_restore's whole call, with RESTORE_SPEC's `params`: the restore, the OPcache
    reset after a swap (`run_command`: AnsibleModule.run_command), then the logs' sizes.
    Returns (changed, result); raises RestoreFailed with what the failure reports."""
    p = params
    if "/" in p["backup"] or p["backup"].startswith("."):
        raise RestoreFailed(
            f"backup must be a file name in {p['backup_dir']}, not {p['backup']!r}", {}
        )
    run_id = "".join(c for c in p["run_id"] if c.isalnum() or c in "-_")[:40] or "manual"
    try:
        result = restore(
            p["plugins_dir"],
            p["backup_dir"],
            p["slug"],
            wanted=p["backup"],
            run_id=run_id,
            check_mode=check_mode,
            wp_root=p["wp_root"],
        )
    except (ArchiveError, OSError) as exc:
        raise RestoreFailed(
            f"restore of {p['slug']} from {p['backup_dir']} failed: {exc}",
            {"runbook_report": {"node": {"restore": {"error": str(exc)}}}},
        ) from None
    changed = result.pop("changed")
    result["opcache_reset"] = False
    if changed and not check_mode and p["reload_argv"]:
        rc, out, err = run_command(p["reload_argv"])
        if rc != 0:
            raise RestoreFailed(
                f"{p['slug']} restored from {result.get('backup')}, but the OPcache reset "
                f"failed ({' '.join(p['reload_argv'])}, rc {rc}): {(err or out).strip()[:500]}",
                {**result, "changed": True, "runbook_report": {"node": {"restore": result}}},
            )
        result["opcache_reset"] = True
    if p["logs"]:
        result["log_offsets"] = log_sizes(p["logs"])
    return changed, result


def log_sizes(paths: List[str]) -> Dict[str, int]:
    """Each log's size now, 0 for one that is not there: where a later check starts reading
    what was written after this point."""
    sizes = {}
    for path in paths:
        try:
            sizes[path] = os.path.getsize(path)
        except OSError:
            sizes[path] = 0
    return sizes


#: read_node's options, as a module takes them (mase_smoke_test's `read`).
NODE_READ_SPEC: Dict[str, Any] = dict(
    path=dict(type="path", required=True),
    plugin=dict(type="str", required=True),
    backup_dir=dict(type="path"),
    logs=dict(type="list", elements="path", default=[]),
    lock_file=dict(type="path"),
    wp_bin=dict(type="str", default="wp"),
    allow_root=dict(type="bool", default=False),
    url=dict(type="str"),
)


def read_node(
    p: Dict[str, Any],
    wp: Optional[Callable[[List[str]], str]] = None,
    errors: Optional[List[str]] = None,
) -> Tuple[Dict[str, Any], Dict[str, Any]]:
    """What a node holds before anything changes (NODE_READ_SPEC's options in `p`): the run
    record's part for the node, and the result's fields. Read-only; what cannot be read is
    said in `errors` (the list given, extended), never raised."""
    errors = [] if errors is None else errors
    # What `wp core version` does (it reads version.php without booting WordPress), without
    # starting PHP: one process less per node; WP-CLI only when the file cannot be parsed.
    wordpress_version = core_version(p["path"])
    if wordpress_version is None and wp is not None:
        try:
            wordpress_version = wp(["core", "version"]).strip() or None
        except (WpError, OSError) as exc:
            errors.append(str(exc))
    plugin_dir = os.path.join(p["path"], "wp-content", "plugins", p["plugin"])
    version = plugin_version(plugin_dir, p["plugin"])
    # The same list a restore chooses from: a backup it marked bad is never "newest".
    try:
        backups = list_backups(p["backup_dir"], p["plugin"]) if p["backup_dir"] else []
    except OSError as exc:  # not a missing folder (that is no backups): unreadable
        backups = []
        errors.append(f"cannot list the backups in {p['backup_dir']}: {exc}")
    good = [b for b in backups if not b["bad"]]
    node = {
        "wordpress_version": wordpress_version,
        "plugin": p["plugin"],
        "plugin_version": version,
        "newest_backup": good[0]["name"] if good else None,
        "backups": len(backups),
        "bad_backups": len(backups) - len(good),
        "errors": errors,
        "lock": describe(p["lock_file"]) if p["lock_file"] else None,
    }
    fields = dict(
        log_offsets=log_sizes(p["logs"]),
        wordpress_version=wordpress_version,
        plugin_version=version,
        backups=backups,
        errors=errors,
    )
    return node, fields
