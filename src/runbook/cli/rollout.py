"""`runbook rollout start|status|list|pause|resume|promote|abort`: parse, call the service,
print. The steps, gates and the record live in runbook.service.rollout and runbook.rollout."""

from __future__ import annotations

import json
import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from runbook.cli.options import common, with_options
from runbook.service import rollout as service
from runbook.service.monitor import seconds
from runbook.views import text


def _ws() -> Any:
    return click.get_current_context().find_root().obj.ws


def _say(message: str) -> None:
    click.echo(message, err=True)


def _drive(call: Callable[[threading.Event], int], show: int | None = None) -> None:
    """Run a driver; SIGTERM or Ctrl-C stop it at the next look at the record (resumable).
    `show`: the rollout or deploy whose status --json prints at the end, however it ended."""
    stop = threading.Event()
    saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}

    def halt(signum: int, _frame: FrameType | None) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        _say(
            f"rollout: {signal.Signals(signum).name}: stopping; `runbook rollout resume ID` "
            "carries on from here"
        )
        stop.set()

    for sig in saved:
        signal.signal(sig, halt)
    try:
        code = call(stop)
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)
        if show is not None:
            click.echo(json.dumps(service.status(_ws(), show)[0], indent=2, default=str))
    raise click.exceptions.Exit(code)


def _checked(found: dict[str, Any], as_json: bool, lines: list[str]) -> None:
    """A --check's outcome: the plan (text or JSON) and the check run's exit code."""
    if as_json:
        click.echo(json.dumps(found, indent=2, default=str))
    else:
        for line in lines:
            click.echo(line)
        click.echo(
            f"check run {found['run_id']}: {found['status']} (exit {found['exit_code']}); "
            "nothing was changed or recorded as started"
        )
    raise click.exceptions.Exit(found["exit_code"])


@click.group("rollout")
def rollout_cmd() -> None:
    """Turn a feature on for more and more users, each step behind a health gate.

    \b
    runbook rollout start modern_api_client --steps 10,50,100 --analysis 10m --reason "..."
    runbook rollout status [ID]        where it stands, each gate's verdict and evidence
    runbook rollout pause|promote|abort ID --reason "..."   by hand, from any terminal
    runbook rollout resume ID          carry on (after a pause, a kill, a reboot)
    """


@rollout_cmd.command("start")
@click.argument("feature")
@click.option("--steps", default="10,25,50,100", show_default=True, help="Rising percentages.")
@click.option(
    "--analysis",
    default="10m",
    show_default=True,
    help="How long each step is judged before the next (30s, 10m ...).",
)
@click.option(
    "--min-samples",
    type=click.IntRange(min=1),
    help="The fewest requests a gate accepts (default: the thresholds' own).",
)
@click.option(
    "--canary-sites",
    metavar="SITE,...",
    default="",
    help="These sites take each step first; the rest follow once they passed it.",
)
@click.option("--reason", required=True, help="Why; recorded with every write.")
@click.option(
    "--check",
    is_flag=True,
    help="Show the plan and what its first write would change (Ansible's check mode); "
    "nothing is written or recorded as started.",
)
@click.option(
    "--json", "as_json", is_flag=True, help="Print the rollout's status as JSON at the end."
)
@with_options(common("inventory", "limit"))
def start_cmd(
    feature: str,
    steps: str,
    analysis: str,
    min_samples: int | None,
    canary_sites: str,
    reason: str,
    check: bool,
    as_json: bool,
    inventory: tuple[str, ...],
    limit: str | None,
) -> None:
    """Start a rollout of FEATURE and drive it to 100%, a pause or an abort.

    Each step writes the percentage once per site (read back, every other key untouched, the
    flag on), then judges the step's hosts over the analysis window against a baseline taken
    just before it. Green: the next step. Too few samples: the window is extended (twice),
    then it pauses. Yellow: it pauses and pages. Red: it aborts: the feature at 0% and off
    where it reached, verified, a P1 incident opened and the notices sent. Exit 0 at 100%,
    10 paused, 11 aborted, 130 stopped (resumable).
    """
    try:
        window = seconds(analysis)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--analysis") from None
    ws = _ws()
    given = service.StartOptions(
        feature=feature,
        reason=reason,
        steps=service.steps_from(steps),
        analysis=window,
        min_samples=min_samples,
        inventory=tuple(inventory),
        limit=limit,
        canaries=tuple(s for s in canary_sites.split(",") if s),
    )
    if check:
        found = service.check(ws, given, _say)
        plan = found["plan"]
        _checked(
            found,
            as_json,
            [
                f"rollout of {feature} in steps {', '.join(f'{p}%' for p in plan['steps'])}, "
                f"each judged over {plan['analysis_seconds']:g} s",
                *(
                    f"  wave {n}: {', '.join(w)} "
                    f"({', '.join(h for s in w for h in plan['hosts'][s])})"
                    for n, w in enumerate(plan["waves"], 1)
                ),
            ],
        )
    rollout_id = service.start(ws, given, _say)
    _drive(
        lambda stop: service.Driver(ws, rollout_id, _say, stop).drive(),
        rollout_id if as_json else None,
    )


@rollout_cmd.command("resume")
@click.argument("rollout_id", type=int)
@click.option(
    "--json", "as_json", is_flag=True, help="Print the rollout's status as JSON at the end."
)
def resume_cmd(rollout_id: int, as_json: bool) -> None:
    """Carry on from the recorded step and phase: no gate skipped, no percentage written twice."""
    ws = _ws()
    _drive(
        lambda stop: service.resume(ws, rollout_id, _say, stop),
        rollout_id if as_json else None,
    )


@rollout_cmd.command("pause")
@click.argument("rollout_id", type=int)
@click.option("--reason", required=True)
def pause_cmd(rollout_id: int, reason: str) -> None:
    """Pause: the driver stops at its next look; `resume` goes on."""
    service.pause(_ws(), rollout_id, reason)
    click.echo(f"rollout {rollout_id} paused")


@rollout_cmd.command("promote")
@click.argument("rollout_id", type=int)
@click.option("--reason", required=True)
def promote_cmd(rollout_id: int, reason: str) -> None:
    """Pass the current gate by hand (recorded with who and why)."""
    changed = service.promote(_ws(), rollout_id, reason)
    click.echo(
        f"rollout {rollout_id}: the current gate passes; "
        + ("its driver goes on" if changed["pid"] else f"runbook rollout resume {rollout_id}")
    )


@rollout_cmd.command("abort")
@click.argument("rollout_id", type=int)
@click.option("--reason", required=True)
def abort_cmd(rollout_id: int, reason: str) -> None:
    """Abort: the feature at 0% and off wherever it reached, verified; incident and notices."""
    code = service.abort(_ws(), rollout_id, reason, _say)
    click.echo(f"rollout {rollout_id} aborted")
    raise click.exceptions.Exit(code)


@rollout_cmd.command("status")
@click.argument("rollout_id", type=int, required=False)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def status_cmd(rollout_id: int | None, as_json: bool) -> None:
    """Where every rollout is (or one, with its events): the step, the wave, the time left in
    its analysis, each gate's verdict with evidence, who paused or promoted and why."""
    found = service.status(_ws(), rollout_id)
    if as_json:
        click.echo(json.dumps(found if rollout_id is None else found[0], indent=2, default=str))
        return
    _print(found)


@rollout_cmd.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def list_cmd(as_json: bool) -> None:
    """Every rollout, newest first."""
    found = service.status(_ws())
    if as_json:
        click.echo(json.dumps(found, indent=2, default=str))
        return
    _print(found)


def _print(found: list[dict[str, Any]]) -> None:
    console = Console(width=160)
    table = Table(title="Rollouts", title_justify="left")
    for column in ("id", "feature", "status", "step", "wave", "phase", "left", "sites at"):
        table.add_column(column)
    for r in found:
        where = r["where"]
        table.add_row(
            text(r["id"]),
            text(r["subject"]),
            text(r["status"]),
            text(f"{where['step']}%" if where["step"] is not None else "-"),
            text(",".join(where["wave"] or []) or "-"),
            text(where["phase"]),
            text(
                f"{where['analysis_left_seconds']} s"
                if where["analysis_left_seconds"] is not None
                else "-"
            ),
            text(", ".join(f"{s} {p}%" for s, p in where["written"].items()) or "-"),
        )
    console.print(table)
    if len(found) == 1:
        for event in found[0]["events"]:
            console.print(text(f"  {event['at']} {event['kind']}: {event['summary']}"))
