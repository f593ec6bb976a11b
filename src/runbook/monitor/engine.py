"""From a site's verdict and its history to what the monitor does, with the loop protection.

Pure: the state is a JSON-able dict per site (stored by the monitor between cycles, so a
restarted monitor carries on where the last one stopped), and `now` is given.

  - a streak per trigger: a policy may want several consecutive firing cycles before acting;
  - one action per site at a time (in flight), a cooldown after each, a circuit breaker after
    too many in a window (it stays open until someone resets it);
  - verification: after an action the site must be green before the verification window ends,
    or the incident escalates (and a flag-first action becomes a p0-rollback);
  - the fleet-wide brake: more than half the sites red at once pages instead of acting.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from runbook import clock
from runbook.monitor.policy import ACTIONS, Policy

ACTING = ("p0-rollback", "p1-disable-feature")


def new_state() -> dict[str, Any]:
    return {
        "streaks": {},
        "actions": [],
        "cooldown_until": None,
        "cooldown_triggers": [],
        "breaker": None,
        "verifying": None,
        "in_flight": None,
        "incident_id": None,
        "paged": {},
        "critical": {},
        "last": None,
    }


@dataclass
class Plan:
    """What the monitor does about one site this cycle, and why."""

    site: str
    verdict: str
    fired: list[str] = field(default_factory=list)
    action: str = "none"  # p0-rollback, p1-disable-feature, notify, none
    trigger: str | None = None
    feature: str | None = None
    held: str | None = None  # why an action was wanted and not taken
    would: bool = False  # dry run: the action is recorded, not taken
    escalate: str | None = None  # why the incident escalates this cycle
    page: str | None = None  # why people are paged this cycle
    verified: bool = False  # a previous action's verification passed
    summary: str = ""  # the evidence in one line (the rollback's reason)
    evidence: dict[str, Any] = field(default_factory=dict)

    @property
    def acts(self) -> bool:
        return self.action in ACTING and self.held is None and not self.would

    def to_dict(self) -> dict[str, Any]:
        return {
            "site": self.site,
            "verdict": self.verdict,
            "fired": self.fired,
            "action": self.action,
            "trigger": self.trigger,
            "feature": self.feature,
            "held": self.held,
            "would": self.would,
            "escalate": self.escalate,
            "page": self.page,
            "verified": self.verified,
            "summary": self.summary,
        }


def short_fingerprint(fingerprint: str, limit: int = 140) -> str:
    """level|path|line|message as "level file.php|line message", cut to `limit`."""
    parts = str(fingerprint).split("|", 3)
    if len(parts) == 4:
        level, path, line, message = parts
        name = path.rsplit("/", 1)[-1]
        fingerprint = f"{level} {name}|{line} {message.strip()}"
    return fingerprint[:limit]


def evidence_line(rule: Mapping[str, Any]) -> str:
    """One fired rule's evidence as the rollback's reason says it."""
    name, ev = rule["rule"], rule.get("evidence") or {}
    if name == "critical_errors_last_5m":
        hosts = ev.get("hosts") or {}
        where = ", ".join(f"{h}" for h in sorted(hosts))
        line = f"{name}={sum(hosts.values())} on {where}"
        if ev.get("fingerprint"):
            line += f" (fingerprint {short_fingerprint(ev['fingerprint'])})"
        return line
    if name == "error_rate_over_5_percent":
        over = ev.get("over") or {}
        return ", ".join(
            f"error_rate={rate:.1f}% for {what}" for what, rate in sorted(over.items())
        )
    if name == "performance_degradation_over_20_percent":
        over = ev.get("over") or {}
        return ", ".join(
            f"{metric} +{v.get('change_percent')}% over baseline"
            for metric, v in sorted(over.items())
        )
    if name == "user_complaints_over_5_per_hour":
        return f"complaints={ev.get('last_hour')} in the last hour"
    if name == "new_fatal_fingerprint":
        new = sorted(ev.get("new") or {})
        return f"new fatal fingerprint {short_fingerprint(new[0])}" if new else str(name)
    if name == "web_server_critical":
        return f"web server critical lines={ev.get('count')} on {', '.join(ev.get('hosts') or [])}"
    if name.startswith("manual:"):
        return f"{name} declared: {ev.get('reason', '')}"[:200]
    return str(name)


def _feature(rule: Mapping[str, Any], flags: Iterable[str]) -> str | None:
    """The feature flag an error-rate trigger names ("name@site"), if it is one of the flags."""
    known = set(flags)
    for what in sorted((rule.get("evidence") or {}).get("over") or {}):
        name = what.split("@", 1)[0]
        if name in known:
            return str(name)
    return None


def _ago(now: datetime, stamp: str | None) -> float:
    return (now - clock.parse(stamp)).total_seconds() if stamp else float("inf")


def plan_site(
    site: str,
    verdict: str,
    rules: list[dict[str, Any]],
    policy: Policy,
    state: dict[str, Any],
    now: datetime,
    *,
    dry_run: bool = False,
    flags: Iterable[str] = (),
) -> Plan:
    """Decide for one site; updates `state` (streaks, verification, breaker) in place."""
    plan = Plan(site, verdict)
    by_name = {r["rule"]: r for r in rules}
    plan.fired = [r["rule"] for r in rules if r["result"] == "fired"]
    streaks = _streaks(rules, policy, state)
    plan.summary = "; ".join(evidence_line(by_name[n]) for n in plan.fired)
    plan.evidence = {n: by_name[n].get("evidence") for n in plan.fired}
    _choose(plan, by_name, policy, streaks, flags)
    _verification(plan, state, policy, now)
    if plan.action in ACTING:
        _protect(plan, state, policy, now)
    _page(plan, state, policy, now)
    if plan.action in ACTING and plan.held is None and dry_run:
        plan.would = True
    return plan


def _streaks(rules: list[dict[str, Any]], policy: Policy, state: dict[str, Any]) -> dict[str, int]:
    """A firing cycle adds one, an ok one ends the streak, an inconclusive one counts only if
    the policy says so (else it neither adds nor ends)."""
    streaks: dict[str, int] = state.setdefault("streaks", {})
    for r in rules:
        if r["result"] == "fired" or (
            r["result"] == "inconclusive" and policy.rule(r["rule"]).inconclusive_counts
        ):
            streaks[r["rule"]] = int(streaks.get(r["rule"], 0)) + 1
        elif r["result"] == "ok":
            streaks.pop(r["rule"], None)
    return streaks


def _choose(
    plan: Plan,
    by_name: Mapping[str, Mapping[str, Any]],
    policy: Policy,
    streaks: Mapping[str, int],
    flags: Iterable[str],
) -> None:
    """The strongest action among the triggers that fired long enough, and its trigger."""
    wanted: list[tuple[int, str, str]] = []
    waiting = []
    for name in plan.fired:
        rule = policy.rule(name)
        if rule.action == "none":
            continue
        if int(streaks.get(name, 0)) < rule.after:
            waiting.append(f"{name} {streaks.get(name, 0)}/{rule.after} cycles")
            continue
        wanted.append((ACTIONS.index(rule.action), name, rule.action))
    if not wanted:
        if waiting:
            plan.held = "waiting: " + ", ".join(waiting)
        return
    _, plan.trigger, plan.action = min(wanted)
    if plan.action == "p1-disable-feature":
        plan.feature = _feature(by_name[plan.trigger], flags)
        if plan.feature is None:
            # Flag-first needs a flag to turn off: no feature named, so the whole rollback.
            plan.action = "p0-rollback"
            plan.summary += "; no feature flag named, so p0-rollback"


def _page(plan: Plan, state: dict[str, Any], policy: Policy, now: datetime) -> None:
    """Page for a notify action or an action held back: once per trigger and hold within a
    cooldown, not every cycle."""
    if not (plan.action == "notify" or (plan.action in ACTING and plan.held)):
        return
    key = f"{plan.trigger}:{plan.held or 'notify'}"
    paged = state.setdefault("paged", {})
    if _ago(now, paged.get(key)) > policy.cooldown:
        paged[key] = clock.stamp(now)
        held = f": {plan.held}" if plan.held else ""
        plan.page = plan.page or f"{plan.trigger} on {plan.site}{held}"


def _verification(plan: Plan, state: dict[str, Any], policy: Policy, now: datetime) -> None:
    """After an action: green in time is verified; not green by the deadline escalates."""
    verifying = state.get("verifying")
    if not verifying:
        return
    if plan.verdict == "green":
        plan.verified = True
        state["verifying"] = None
        return
    if now < clock.parse(verifying["until"]) or verifying.get("escalated"):
        return
    verifying["escalated"] = clock.stamp(now)
    why = (
        f"{verifying['action']} at {verifying['since']} did not bring {plan.site} back to green "
        f"within {int(policy.verification)} s (verdict {plan.verdict})"
    )
    plan.escalate = why
    plan.page = why
    if verifying["action"] == "p1-disable-feature" and plan.verdict == "red":
        # Flag-first did not do it: the whole rollback, whatever the trigger's own action.
        plan.action, plan.trigger = "p0-rollback", "verification_failed"
        plan.feature = None
        plan.summary = f"{why}; escalating to p0-rollback" + (
            f" ({plan.summary})" if plan.summary else ""
        )
        plan.held = None


def _protect(plan: Plan, state: dict[str, Any], policy: Policy, now: datetime) -> None:
    """One action at a time, cooldown, circuit breaker (in that order)."""
    if state.get("in_flight"):
        plan.held = f"an action is in flight ({state['in_flight']['action']})"
        return
    if state.get("breaker"):
        plan.held = f"circuit breaker open since {state['breaker']['tripped_at']}"
        return
    until = state.get("cooldown_until")
    escalating = plan.trigger == "verification_failed"
    if (
        not escalating
        and until
        and now < clock.parse(until)
        and plan.trigger in state.get("cooldown_triggers", [])
    ):
        plan.held = f"cooldown until {until}"
        return
    window_start = now - timedelta(seconds=policy.breaker_within)
    recent = [a for a in state.get("actions", []) if clock.parse(a["at"]) >= window_start]
    if len(recent) >= policy.breaker_actions:
        state["breaker"] = {
            "tripped_at": clock.stamp(now),
            "why": f"{len(recent)} automatic actions within {int(policy.breaker_within)} s",
        }
        plan.held = f"circuit breaker tripped: {state['breaker']['why']}"
        plan.escalate = plan.escalate or (
            f"circuit breaker tripped on {plan.site}: {state['breaker']['why']}; "
            f"{plan.trigger} still firing, the monitor stops acting on this site"
        )
        plan.page = plan.escalate


def brake(plans: list[Plan], policy: Policy) -> str | None:
    """More than half the sites red in one cycle: suspect the monitor or a shared dependency.
    Every action this cycle becomes a page. Returns why, or None."""
    if len(plans) < policy.brake_min_sites:
        return None
    red = [p.site for p in plans if p.verdict == "red"]
    if len(red) / len(plans) <= policy.brake_more_than:
        return None
    why = (
        f"fleet-wide brake: {len(red)} of {len(plans)} sites red in one cycle "
        f"({', '.join(red)}); suspecting a shared dependency or the monitor itself "
        "(a log format change, the database server, the metrics source): paging, not acting"
    )
    for plan in plans:
        if plan.action in ACTING and plan.held is None:
            plan.held = "fleet-wide brake"
            plan.would = False
        if plan.verdict == "red":
            plan.page = plan.page or why
    return why


def record_action(
    state: dict[str, Any], plan: Plan, policy: Policy, now: datetime, run_id: str | None
) -> None:
    """After an action: it counts for the breaker, starts the cooldown and the verification."""
    state.setdefault("actions", []).append(
        {
            "at": clock.stamp(now),
            "action": plan.action,
            "trigger": plan.trigger,
            "feature": plan.feature,
            "run_id": run_id,
        }
    )
    cutoff = now - timedelta(seconds=max(policy.breaker_within, 86400))
    state["actions"] = [a for a in state["actions"] if clock.parse(a["at"]) >= cutoff]
    state["cooldown_until"] = clock.stamp(now + timedelta(seconds=policy.cooldown))
    state["cooldown_triggers"] = sorted(set(plan.fired) | {plan.trigger or ""})
    state["verifying"] = {
        "action": plan.action,
        "trigger": plan.trigger,
        "feature": plan.feature,
        "since": clock.stamp(now),
        "until": clock.stamp(now + timedelta(seconds=policy.verification)),
        "escalated": None,
    }
    # The verification judges what happens after the action: the errors before it are its
    # cause, not its result.
    state["streaks"] = {}
    state["critical"] = {}


def rolling_critical(
    state: dict[str, Any], per_host: Mapping[str, int], now: datetime, window: float = 300
) -> dict[str, int]:
    """Each host's critical errors over the last `window` seconds of cycles: an incremental
    scan counts what is new since the last cycle, the trigger wants the last five minutes."""
    history = state.setdefault("critical", {})
    cutoff = now - timedelta(seconds=window)
    out = {}
    for host, count in per_host.items():
        kept = [[at, n] for at, n in history.get(host, []) if clock.parse(at) > cutoff]
        if count:
            kept.append([clock.stamp(now), int(count)])
        history[host] = kept
        out[host] = sum(n for _, n in kept)
    return out
