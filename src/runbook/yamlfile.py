"""Reading the YAML files users hand in (catalog, contacts, policies, profiles, extra vars):
bounded in size, safe types only, and no aliases, so that a billion-laughs file is an error
at once instead of gigabytes of expansion."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from runbook.errors import RunbookError

#: No file a user hands in needs more; a larger one is refused before it is parsed.
MAX_BYTES = 1 << 20


class _NoAliases(yaml.SafeLoader):
    """SafeLoader that refuses anchors' use (`*name`): the one way YAML can multiply itself."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            raise yaml.constructor.ConstructorError(
                None,
                None,
                "aliases (*name) are not allowed here",
                self.peek_event().start_mark,  # type: ignore[no-untyped-call]
            )
        return super().compose_node(parent, index)


def loads(text: str, where: str) -> Any:
    """Parse YAML text from `where` (named in errors)."""
    if len(text) > MAX_BYTES:
        raise RunbookError(f"{where}: larger than {MAX_BYTES // 1024} KiB: refused")
    try:
        return yaml.load(text, Loader=_NoAliases)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise RunbookError(f"{where}: not valid YAML: {exc}") from None


def load(path: Path, what: str = "") -> Any:
    """Read and parse one user file; errors name the file (and what it is for)."""
    where = f"{what} {path}".strip()
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise RunbookError(
                f"{where}: {size} bytes, larger than {MAX_BYTES // 1024} KiB: refused"
            )
        with path.open("rb") as handle:
            raw = handle.read(MAX_BYTES + 1)
    except OSError as exc:
        raise RunbookError(f"{where}: cannot read: {exc.strerror or exc}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise RunbookError(f"{where}: not UTF-8 text") from None
    return loads(text, where)
