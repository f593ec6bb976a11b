"""Showing a run as it goes: a live per-host table on a terminal, plain lines elsewhere."""

from __future__ import annotations

import time
from typing import Any, ClassVar, TextIO

from rich.console import Console
from rich.live import Live
from rich.table import Table
from rich.text import Text

from runbook.events import RunModel
from runbook.text import visible

STYLE = {
    "ok": "green",
    "changed": "yellow",
    "failed": "bold red",
    "unreachable": "bold magenta",
    "not-run": "dim",
    "skipped": "cyan",
}


#: Ansible's own role argument checks: a task per role and host that says nothing to an operator.
HIDDEN_TASKS = ("Validating arguments against arg spec",)


def hidden(task: str | None) -> bool:
    return bool(task) and str(task).startswith(HIDDEN_TASKS)


def shorten(text: str, width: int = 60) -> str:
    """Cut at a word boundary, never mid-word, with an ellipsis."""
    import textwrap

    return textwrap.shorten(text, width=width, placeholder=" …") or text[:width]


def host_table(model: RunModel, title: str | None = None) -> Table:
    table = Table(title=title, expand=False, title_justify="left")
    for column in ("host", "site", "task", "ok", "changed", "failed", "unreachable"):
        table.add_column(
            column,
            justify="right" if column in ("ok", "changed", "failed", "unreachable") else "left",
        )
    for state in model.hosts.values():
        outcome = state.outcome if state.seen else "waiting"
        style = STYLE.get(outcome, "")
        table.add_row(
            Text(visible(state.host), style=style),
            Text(visible(state.site or "-")),
            Text(visible(shorten(state.failed_task or state.task or "-"))),
            str(state.ok),
            str(state.changed),
            Text(str(state.failed), style="bold red" if state.failed else ""),
            Text(str(state.unreachable), style="bold magenta" if state.unreachable else ""),
        )
    return table


class LiveProgress:
    """A table redrawn as events arrive (at most a few times a second)."""

    def __init__(self, console: Console, title: str) -> None:
        self.console = console
        self.title = title
        self.live: Live | None = None
        self.started = time.monotonic()

    def __enter__(self) -> LiveProgress:
        self.live = Live(console=self.console, refresh_per_second=6, transient=False)
        self.live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.live:
            self.live.__exit__(None, None, None)

    def __call__(self, model: RunModel, event: dict[str, Any]) -> None:
        if self.live:
            play = f" - {model.play}" if model.play else ""
            elapsed = f" ({time.monotonic() - self.started:.0f} s)"
            self.live.update(host_table(model, f"{self.title}{play}{elapsed}"))


class PlainProgress:
    """One line per task and per host result: for CI logs and pipes."""

    RESULTS: ClassVar[dict[str, str]] = {
        "runner_on_ok": "ok",
        "runner_on_failed": "failed",
        "runner_on_unreachable": "unreachable",
        "runner_on_skipped": "skipped",
    }

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.started = time.monotonic()

    def __enter__(self) -> PlainProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def __call__(self, model: RunModel, event: dict[str, Any]) -> None:
        kind = event.get("event", "")
        data = event.get("event_data") or {}
        stamp = f"{time.monotonic() - self.started:7.1f}s"
        if hidden(data.get("task") or data.get("name")):
            return
        if kind == "playbook_on_task_start":
            print(f"{stamp} task: {visible(model.task)}", file=self.stream, flush=True)
        elif kind in self.RESULTS:
            raw = data.get("res")
            res: dict[str, Any] = raw if isinstance(raw, dict) else {}
            word = self.RESULTS[kind]
            if word == "ok" and res.get("changed"):
                word = "changed"
            if kind == "runner_on_failed" and data.get("ignore_errors"):
                word = "failed (ignored)"
            line = f"{stamp}   {visible(data.get('host'))}: {word}"
            if kind in ("runner_on_failed", "runner_on_unreachable"):
                line += f": {visible(str(res.get('msg', '')).strip()[:300])}"
            print(line, file=self.stream, flush=True)


class NoProgress:
    def __enter__(self) -> NoProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def __call__(self, model: RunModel, event: dict[str, Any]) -> None:
        pass
