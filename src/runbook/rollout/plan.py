"""A feature rollout's plan and its state machine.

The plan: percentage steps (10, 25, 50, 100), the sites in waves (the canary sites first, the
rest after the canaries passed the same step), an analysis window per step, the fewest samples
a gate accepts, and how many times a window may be extended for want of samples.

The state: which step and wave, and the phase within it ("write": the percentage is to be
written on the wave's sites; "analyse": it was, and the gate waits for its window), what was
written where, the baseline taken just before the step, the window, extensions, a promotion.
Everything needed to resume after the driving process died: a step's write is recorded
before its gate, so a resumed rollout neither skips a gate nor writes a percentage twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from runbook import clock
from runbook.errors import RunbookError

DEFAULT_STEPS = (10, 25, 50, 100)
MAX_EXTENSIONS = 2


@dataclass(frozen=True)
class Gate:
    """What a gate's verdict does: next, extend, pause or abort, and why."""

    outcome: str  # pass, extend, pause, abort
    why: str


def steps_from(text: str) -> list[int]:
    """`10,25,50,100`: rising whole percentages, 1 to 100, ending at 100."""
    try:
        steps = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise RunbookError(f"--steps {text!r}: whole percentages such as 10,25,50,100") from None
    if not steps or any(not 0 < s <= 100 for s in steps):
        raise RunbookError(f"--steps {text!r}: each between 1 and 100")
    if steps != sorted(set(steps)):
        raise RunbookError(f"--steps {text!r}: rising, each once")
    return steps


def waves(sites: list[str], canaries: list[str]) -> list[list[str]]:
    """The canary sites first, then the rest (one wave each); no canaries: one wave."""
    unknown = sorted(set(canaries) - set(sites))
    if unknown:
        raise RunbookError(
            f"--canary-sites {', '.join(unknown)}: not among the sites ({', '.join(sites)})"
        )
    rest = [s for s in sites if s not in canaries]
    return [w for w in ([s for s in sites if s in canaries], rest) if w]


def new_plan(
    steps: list[int], wave_list: list[list[str]], analysis: float, min_samples: int | None
) -> dict[str, Any]:
    return {
        "steps": steps,
        "waves": wave_list,
        "analysis_seconds": analysis,
        "min_samples": min_samples,
        "max_extensions": MAX_EXTENSIONS,
    }


def new_state() -> dict[str, Any]:
    return {
        "step": 0,
        "wave": 0,
        "phase": "write",
        "written": {},
        "baseline": {},
        "analysis_started": None,
        "analysis_until": None,
        "extensions": 0,
        "promote": None,
    }


def current(plan: dict[str, Any], state: dict[str, Any]) -> tuple[int, list[str]] | None:
    """The step's percentage and the wave's sites; None when every step is done."""
    if state["step"] >= len(plan["steps"]):
        return None
    return plan["steps"][state["step"]], plan["waves"][state["wave"]]


def wrote(
    state: dict[str, Any], sites: list[str], percent: int, now: datetime, analysis: float
) -> None:
    """The step's percentage is on the wave's sites: its analysis window begins."""
    for site in sites:
        state["written"][site] = percent
    state["phase"] = "analyse"
    state["analysis_started"] = clock.stamp(now)
    state["analysis_until"] = clock.stamp(now + timedelta(seconds=analysis))
    state["extensions"] = 0


def advance(plan: dict[str, Any], state: dict[str, Any]) -> None:
    """The gate passed: the next wave of this step, or the first wave of the next step."""
    if state["wave"] + 1 < len(plan["waves"]):
        state["wave"] += 1
    else:
        state["step"] += 1
        state["wave"] = 0
    state.update(
        phase="write",
        analysis_started=None,
        analysis_until=None,
        extensions=0,
        promote=None,
        baseline={},
    )


def gate(
    verdict: str,
    plan: dict[str, Any],
    state: dict[str, Any],
    abort: str = "the feature goes back to 0% and off",
) -> Gate:
    """Green: next. Inconclusive (too few samples): extend the window, up to a limit, then
    pause. Yellow: pause for a person. Red: abort."""
    if verdict == "green":
        return Gate("pass", "green over the analysis window")
    if verdict == "inconclusive":
        if state["extensions"] < plan["max_extensions"]:
            return Gate("extend", "too few samples: the window is extended")
        return Gate(
            "pause",
            f"still too few samples after {plan['max_extensions']} extensions: a person "
            "decides (runbook rollout promote or abort)",
        )
    if verdict == "yellow":
        return Gate("pause", "yellow: a person decides (runbook rollout promote or abort)")
    return Gate("abort", f"red: {abort}")


def extend(plan: dict[str, Any], state: dict[str, Any]) -> None:
    until = clock.parse(state["analysis_until"])
    state["analysis_until"] = clock.stamp(until + timedelta(seconds=plan["analysis_seconds"]))
    state["extensions"] += 1


def describe(rollout: dict[str, Any]) -> dict[str, Any]:
    """Where a rollout stands, for status: the step, the wave, the time left in its window."""
    plan, state = rollout["plan"], rollout["state"]
    here = current(plan, state)
    left = None
    if here and state["phase"] == "analyse" and state["analysis_until"]:
        left = max(0.0, (clock.parse(state["analysis_until"]) - clock.now()).total_seconds())
    return {
        "step": None if here is None else here[0],
        "step_index": state["step"],
        "wave": None if here is None else here[1],
        "phase": state["phase"] if here else "done",
        "analysis_left_seconds": None if left is None else round(left),
        "written": state["written"],
    }
