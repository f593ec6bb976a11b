"""The target plugin profile: the plugin's slug, its flag options, the rollback flag set and
its log prefix, from one YAML file (targets/default.yml, or the project's `target:`)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runbook import yamlfile
from runbook.errors import RunbookError
from runbook.paths import content_dir

NAME = re.compile(r"[a-z][a-z0-9_-]{0,63}")


@dataclass(frozen=True)
class Profile:
    slug: str
    name: str
    flags_option: str
    rollout_option: str
    flags: tuple[str, ...]
    rollback_flags: dict[str, bool]
    log_prefix: str
    api_prefix: str
    source: Path
    #: The option holding the plugin's settings (an object), read back by an investigation.
    settings_option: str | None = None
    #: Which flag guards which code: a path under the plugin's folder -> a flag.
    code_flags: tuple[tuple[str, str], ...] = ()

    def options(self) -> list[str]:
        """The plugin's options an investigation reads back and checks."""
        return [o for o in (self.flags_option, self.rollout_option, self.settings_option) if o]

    def flag_for(self, path: str) -> str | None:
        """The flag that guards the code at `path` (a file path as a log names it)."""
        marker = f"/plugins/{self.slug}/"
        rel = path.split(marker, 1)[1] if marker in path else path
        for prefix, flag in self.code_flags:
            if rel == prefix or rel.startswith(prefix.rstrip("/") + "/"):
                return flag
        return None

    def as_vars(self) -> dict[str, Any]:
        """The profile as the playbooks read it: the `runbook_target` variable."""
        return {
            "slug": self.slug,
            "name": self.name,
            "flags_option": self.flags_option,
            "rollout_option": self.rollout_option,
            "flags": list(self.flags),
            "rollback_flags": dict(self.rollback_flags),
            "log_prefix": self.log_prefix,
            "api_prefix": self.api_prefix,
            "settings_option": self.settings_option,
        }


def default_path() -> Path:
    return content_dir() / "targets" / "default.yml"


def load(path: Path | None = None) -> Profile:
    """Read and check a profile; errors name the file and the field."""
    path = path or default_path()
    data = yamlfile.load(path, "target profile")
    raw = data.get("runbook_target") if isinstance(data, dict) else None
    if not isinstance(raw, dict):
        raise RunbookError(f"target profile {path}: must hold a runbook_target mapping")

    def text(key: str, pattern: re.Pattern[str] | None = NAME) -> str:
        value = raw.get(key)
        if not isinstance(value, str) or (pattern and not pattern.fullmatch(value)):
            raise RunbookError(f"target profile {path}: field {key}: {value!r} is not valid")
        return value

    slug, name = text("slug"), text("name", re.compile(r"[^\x00-\x1f]{1,64}"))
    flags = raw.get("flags")
    if not isinstance(flags, list) or not all(
        isinstance(f, str) and NAME.fullmatch(f) for f in flags
    ):
        raise RunbookError(f"target profile {path}: field flags: a list of flag names")
    rollback = raw.get("rollback_flags")
    if not isinstance(rollback, dict) or not all(
        isinstance(k, str) and NAME.fullmatch(k) and isinstance(v, bool)
        for k, v in rollback.items()
    ):
        raise RunbookError(f"target profile {path}: field rollback_flags: flag -> true/false")
    code_flags = raw.get("code_flags") or {}
    if not isinstance(code_flags, dict) or not all(
        isinstance(k, str) and k and ".." not in k and isinstance(v, str) and v in flags
        for k, v in code_flags.items()
    ):
        raise RunbookError(
            f"target profile {path}: field code_flags: a path under the plugin's folder -> "
            "one of its flags"
        )
    settings = raw.get("settings_option")
    if settings is not None:
        settings = text("settings_option")
    return Profile(
        settings_option=settings,
        code_flags=tuple(sorted(code_flags.items())),
        slug=slug,
        name=name,
        flags_option=text("flags_option"),
        rollout_option=text("rollout_option"),
        flags=tuple(flags),
        rollback_flags=rollback,
        log_prefix=text("log_prefix", re.compile(r"[A-Za-z0-9_-]{1,32}")),
        api_prefix=text("api_prefix", re.compile(r"/[A-Za-z0-9_./-]*")),
        source=path,
    )
