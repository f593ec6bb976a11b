"""What every use case needs to know: the project, the run record, the catalog, the target."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from runbook import catalog, target
from runbook.catalog import Runbook, find_project
from runbook.errors import RunbookError
from runbook.inventory import project_config
from runbook.store import Store


@dataclass
class Workspace:
    """The project folder (or none), the run record's path (None: the default), and the
    inventory used when no other is given (the CLI passes the sandbox's)."""

    project: Path | None = None
    db: Path | None = None
    fallback_inventory: Path | None = None
    _catalog: catalog.Catalog | None = field(default=None, repr=False)
    _profile: target.Profile | None = field(default=None, repr=False)

    def catalog(self) -> catalog.Catalog:
        """Every runbook that loaded; `.broken` holds the catalog files that did not."""
        if self._catalog is None:
            self._catalog = catalog.load(self.project, strict=False)
        return self._catalog

    def runbook(self, name: str) -> Runbook:
        books = self.catalog()
        if name in books.broken:
            raise books.broken[name]
        book = books.get(name)
        if book is None:
            near = closest(name, books)
            raise RunbookError(
                f"no runbook {name!r}"
                + (f"; did you mean {near}?" if near else "")
                + f" The catalog has: {', '.join(sorted(books))}"
            )
        return book

    def store(self) -> Store:
        return Store(self.db)

    def profile(self) -> target.Profile:
        """The target plugin: the project's runbook.yml `target:` file, else the shipped one."""
        if self._profile is None:
            named = project_config(self.project).get("target") if self.project else None
            if named is not None and not isinstance(named, str):
                raise RunbookError(f"{self.project}/runbook.yml: target: a file path")
            path = (self.project / named) if (named and self.project) else None
            self._profile = target.load(path)
        return self._profile


__all__ = ["Workspace", "closest", "find_project"]


def closest(name: str, names: Iterable[str]) -> str | None:
    """The most similar known name, for "did you mean" (difflib's ratio, 0.6 or better)."""
    import difflib

    found = difflib.get_close_matches(name, list(names), n=1, cutoff=0.6)
    return found[0] if found else None
