"""`runbook deploy --package FILE ...` and `runbook deploy resume|status|pause|promote|abort`:
parse, call the service, print. The waves, gates and revert live in runbook.service.deploy."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from runbook.cli.options import common, with_options
from runbook.cli.rollout import _checked, _drive, _print, _say, _ws
from runbook.service import deploy as service
from runbook.service import rollout as rollouts
from runbook.service.monitor import seconds


@click.group("deploy", invoke_without_command=True)
@click.option(
    "--package",
    type=click.Path(path_type=Path),
    help="The new plugin: a .zip (as WordPress ships plugins), a .tar.gz or a folder.",
)
@click.option("--version", "version", help="The version the package must declare.")
@click.option(
    "--waves",
    default="1,25%,100%",
    show_default=True,
    help="How many nodes have it after each wave: counts or percentages.",
)
@click.option(
    "--features-off",
    metavar="FLAG,...",
    help="Turned off on every site before any node changes (default: every modern feature).",
)
@click.option(
    "--analysis",
    default="2m",
    show_default=True,
    help="How long each wave's nodes are judged before the next wave.",
)
@click.option("--min-samples", type=click.IntRange(min=1), help="The fewest requests a gate takes.")
@click.option(
    "--visual",
    type=click.Choice(["gate", "manual", "off"]),
    default="gate",
    show_default=True,
    help="Screenshots of each site's key pages before and after each wave (headless Chromium): "
    "a change over the threshold fails the wave (gate) or pauses it for a person (manual).",
)
@click.option(
    "--visual-pages",
    default="/,/wp-login.php,sitemap:1",
    show_default=True,
    metavar="PATH,...",
    help="The pages photographed on every site; sitemap:N adds the first N pages its sitemap "
    "lists.",
)
@click.option(
    "--visual-threshold",
    default="1%",
    show_default=True,
    help="The share of pixels that may change (anti-aliasing aside).",
)
@click.option(
    "--visual-mask",
    multiple=True,
    metavar="X,Y,W,H",
    help="A region left out of the comparison (a clock, a banner); repeatable.",
)
@click.option("--reason", help="Why; recorded with every run.")
@click.option(
    "--check",
    is_flag=True,
    help="Check the package, show the waves and pages, and prepare every node in Ansible's "
    "check mode (room, backup, features off): nothing changes, no deploy is recorded.",
)
@click.option(
    "--json", "as_json", is_flag=True, help="Print the deploy's status as JSON at the end."
)
@with_options(common("inventory", "limit"))
@click.pass_context
def deploy_cmd(
    ctx: click.Context,
    /,
    package: Path | None,
    version: str | None,
    waves: str,
    features_off: str | None,
    analysis: str,
    min_samples: int | None,
    visual: str,
    visual_pages: str,
    visual_threshold: str,
    visual_mask: tuple[str, ...],
    reason: str | None,
    check: bool,
    as_json: bool,
    inventory: tuple[str, ...],
    limit: str | None,
) -> None:
    """Deploy a new plugin version across the fleet in waves, each behind a health gate.

    The package is checked first (members as a restore checks a backup, the header's version).
    Then every node is backed up and the features turned off on every site; then the nodes
    in waves: copied, swapped atomically, OPcache reset, smoke tested; after each wave its
    nodes are judged over --analysis (no new fatal fingerprint, error rate and p95 within
    their thresholds) and photographed (--visual: each site's key pages against the shots
    taken before the deploy; the images are kept with the deploy). A failed gate reverts
    every node deployed so far to its backup, verified, and opens a P1 incident. The
    features stay off: `runbook rollout` turns them on. Exit 0 deployed, 10 paused, 11
    reverted, 3 failed before any node changed.
    """
    if ctx.invoked_subcommand:
        return
    if package is None or reason is None:
        raise click.UsageError("runbook deploy needs --package and --reason")
    try:
        window = seconds(analysis)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--analysis") from None
    try:
        threshold = float(visual_threshold.removesuffix("%")) / 100
    except ValueError:
        raise click.BadParameter(
            "a percentage such as 1%", param_hint="--visual-threshold"
        ) from None
    if not 0 <= threshold <= 1:
        raise click.BadParameter("between 0% and 100%", param_hint="--visual-threshold")
    ws = _ws()
    given = service.DeployOptions(
        package=package,
        reason=reason,
        version=version,
        waves=waves,
        features_off=tuple(f for f in features_off.split(",") if f)
        if features_off is not None
        else None,
        analysis=window,
        min_samples=min_samples,
        inventory=tuple(inventory),
        limit=limit,
        visual=visual,
        visual_pages=tuple(p for p in visual_pages.split(",") if p),
        visual_threshold=threshold,
        visual_masks=visual_mask,
    )
    if check:
        found = service.check(ws, given, _say)
        plan = found["plan"]
        order = plan["order"]
        lines = [
            f"deploy of {plan['package']['version']} ({plan['package']['sha256'][:12]}) to "
            f"{len(order)} nodes; features off first: "
            f"{', '.join(plan['package']['flags_off']) or 'none'}",
        ]
        done = 0
        for n, upto in enumerate(plan["waves"], 1):
            lines.append(f"  wave {n}: {', '.join(order[done:upto])}")
            done = upto
        if plan["visual"]:
            lines += [
                f"  visual check ({plan['visual']['mode']}) on {site}: {', '.join(pages)}"
                for site, pages in plan["visual"]["site_pages"].items()
            ]
        _checked(found, as_json, lines)
    deploy_id = service.start(ws, given, _say)
    _drive(
        lambda stop: service.DeployDriver(ws, deploy_id, _say, stop).drive(),
        deploy_id if as_json else None,
    )


@deploy_cmd.command("resume")
@click.argument("deploy_id", type=int)
@click.option(
    "--json", "as_json", is_flag=True, help="Print the deploy's status as JSON at the end."
)
def resume_cmd(deploy_id: int, as_json: bool) -> None:
    """Carry on from the recorded wave and phase."""
    ws = _ws()
    _drive(
        lambda stop: service.resume(ws, deploy_id, _say, stop),
        deploy_id if as_json else None,
    )


@deploy_cmd.command("status")
@click.argument("deploy_id", type=int, required=False)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def status_cmd(deploy_id: int | None, as_json: bool) -> None:
    """Where every deploy (and rollout) is, or one with its events."""
    found: list[dict[str, Any]] = rollouts.status(_ws(), deploy_id)
    if as_json:
        click.echo(json.dumps(found if deploy_id is None else found[0], indent=2, default=str))
        return
    _print(found)


@deploy_cmd.command("pause")
@click.argument("deploy_id", type=int)
@click.option("--reason", required=True)
def pause_cmd(deploy_id: int, reason: str) -> None:
    """Pause at the next look at the record; `resume` goes on."""
    rollouts.pause(_ws(), deploy_id, reason)
    click.echo(f"deploy {deploy_id} paused")


@deploy_cmd.command("promote")
@click.argument("deploy_id", type=int)
@click.option("--reason", required=True)
def promote_cmd(deploy_id: int, reason: str) -> None:
    """Pass the current wave's gate by hand (recorded with who and why)."""
    rollouts.promote(_ws(), deploy_id, reason)
    click.echo(f"deploy {deploy_id}: the current gate passes")


@deploy_cmd.command("abort")
@click.argument("deploy_id", type=int)
@click.option("--reason", required=True)
def abort_cmd(deploy_id: int, reason: str) -> None:
    """Revert every node deployed so far to its backup, verified; incident and notices."""
    raise click.exceptions.Exit(rollouts.abort(_ws(), deploy_id, reason, _say))
