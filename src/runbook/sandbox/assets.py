"""The sandbox's `mase` plugin trees, its dated backups and its `wp` entry point."""

from __future__ import annotations

import os
import shutil
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

FILES = Path(__file__).resolve().parent / "files"

#: The version every site runs, and the versions of its two dated backups (newest first).
INSTALLED_VERSION = "2.1.0"
BACKUP_VERSIONS = ("2.0.1", "2.0.0")
#: Files new in the installed version: the modern API client carries the incident.
NEW_IN_INSTALLED = ("includes/modern-api-client.php",)

FEATURE_FLAGS = {
    "modern_preview_engine": True,
    "modern_state_manager": True,
    "modern_api_client": True,
    "legacy_fallback": False,
}
DEFAULT_SETTINGS = {
    "menu_background": "#23282d",
    "menu_text": "#eeeeee",
    "highlight": "#0073aa",
    "template": "default",
}
ROLLOUT_PERCENTAGES = {
    "modern_preview_engine": 100,
    "modern_state_manager": 100,
    "modern_api_client": 100,
}


def plugin_files(version: str) -> dict[str, bytes]:
    """The plugin's files at one version, relative to the plugin directory."""
    root = FILES / "mase"
    files: dict[str, bytes] = {}
    for path in sorted(root.rglob("*.php")):
        rel = path.relative_to(root).as_posix()
        if version != INSTALLED_VERSION and rel in NEW_IN_INSTALLED:
            continue
        files[rel] = path.read_bytes().replace(b"@VERSION@", version.encode())
    return files


def write_plugin(dest: Path, version: str) -> None:
    if dest.exists():
        shutil.rmtree(dest)
    for rel, data in plugin_files(version).items():
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)


def write_backups(dest: Path, now: datetime | None = None) -> list[Path]:
    """Two dated backups with their manifests, made the way the backup runbook makes them."""
    from runbook.ansible.module_utils.runbook_archive import create_backup

    now = now or datetime.now(UTC)
    dest.mkdir(parents=True, exist_ok=True)
    written = []
    with tempfile.TemporaryDirectory() as scratch:
        for age_days, version in zip((1, 8), BACKUP_VERSIONS, strict=True):
            when = (now - timedelta(days=age_days)).replace(microsecond=0)
            tree = Path(scratch) / version / "mase"
            write_plugin(tree, version)
            made = create_backup(str(tree), str(dest), "mase", keep=0, now=when)
            path = dest / made["name"]
            os.utime(path, (when.timestamp(), when.timestamp()))
            written.append(path)
    return written


def wp_entry_point() -> Path:
    return FILES / "wp"
