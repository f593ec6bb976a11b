"""Click options made from the one declaration of the common options (COMMON_OPTIONS)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from runbook.service import COMMON_OPTIONS, CommonOption


def click_option(option: CommonOption, help_text: str | None = None) -> click.Option:
    flags = [f"--{option.name}", *([option.short] if option.short else [])]
    decls = [*flags, option.dest]
    help_text = help_text or option.help
    if option.kind == "flag":
        return click.Option(decls, is_flag=True, help=help_text)
    if option.kind == "count":
        return click.Option(decls, count=True, help=help_text)
    if option.kind == "multiple":
        return click.Option(decls, multiple=True, metavar=option.metavar, help=help_text)
    if option.kind == "integer":
        kind: Any = click.IntRange(1, 500) if option.name == "forks" else int
        return click.Option(decls, type=kind, metavar=option.metavar, help=help_text)
    return click.Option(decls, metavar=option.metavar, help=help_text)


def common(*names: str) -> list[click.Option]:
    """The named common options, as click options (for commands that run a runbook inside)."""
    by_name = {o.name: o for o in COMMON_OPTIONS}
    return [click_option(by_name[n]) for n in names]


F = TypeVar("F", bound=Callable[..., Any])


def with_options(options: list[click.Option]) -> Callable[[F], F]:
    """A decorator adding `options` to a click command."""

    def decorate(f: F) -> F:
        given = getattr(f, "__click_params__", [])
        f.__click_params__ = [*given, *reversed(options)]  # type: ignore[attr-defined]
        return f

    return decorate
