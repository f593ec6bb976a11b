"""`runbook rollout` as a use case: a feature's percentage in steps, each behind a health gate.

For each step and wave: a baseline of the wave's hosts just before the step, the percentage
written (the set-rollout runbook: once per site, read back, every other key untouched, the
flag on), then the gate: the wave's hosts judged over the analysis window by the same
evaluation as `runbook health` and the monitor (thresholds, decision matrix, the baseline).
Green: on. Too few samples: the window extended, then a pause. Yellow: a pause. Red: abort,
the percentage back to 0 and the flag off on every site it reached, verified, the incident
opened and the notices sent.

The rollout lives in the record: `pause`, `promote` and `abort` from any terminal change it,
and the driving process sees it within seconds; killed, `resume` carries on from the recorded
step and phase.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from runbook import clock
from runbook.errors import ExitCode, RunbookError
from runbook.execution import operator_name
from runbook.health.evaluate import ORDER, evaluate, node_metrics
from runbook.incidents.records import Incidents
from runbook.rollout import plan as plans
from runbook.service import logs
from runbook.service.driving import POLL_SECONDS, RecordDriver, gate_rows
from runbook.service.pages import refresh_status_pages
from runbook.service.runs import RunOptions, check_reason, run, send_notices
from runbook.service.runs import targets as resolve_targets
from runbook.service.workspace import Workspace

steps_from = plans.steps_from
#: The fewest timed requests in a step's window for its p95 to be compared with the baseline.
DEGRADATION_MIN_SAMPLES = 100
KIND = "rollout"
STATUS_EXIT = {
    "completed": ExitCode.OK,
    "paused": ExitCode.HEALTH_YELLOW,
    "aborted": ExitCode.HEALTH_RED,
    "running": ExitCode.INTERRUPTED,
}


@dataclass
class StartOptions:
    feature: str
    reason: str
    steps: list[int]
    analysis: float
    min_samples: int | None = None
    inventory: tuple[str, ...] = ()
    limit: str | None = None
    canaries: tuple[str, ...] = ()


def _plan(
    ws: Workspace, given: StartOptions, say: Callable[[str], None]
) -> tuple[dict[str, Any], list[str], Any]:
    if given.feature not in ws.profile().flags:
        raise RunbookError(
            f"{given.feature!r} is not one of {ws.profile().name}'s feature flags: "
            f"{', '.join(ws.profile().flags)}"
        )
    check_reason(ws.runbook("set-rollout"), given.reason)
    found = resolve_targets(ws, given.inventory, given.limit, say)
    sites = sorted({s for s in found.hosts.values() if s})
    if not sites:
        raise RunbookError("the hosts name no sites (each host needs `site`)")
    plan = plans.new_plan(
        given.steps, plans.waves(sites, list(given.canaries)), given.analysis, given.min_samples
    )
    plan["hosts"] = {s: sorted(h for h, site in found.hosts.items() if site == s) for s in sites}
    return plan, sites, found


def check(ws: Workspace, given: StartOptions, say: Callable[[str], None]) -> dict[str, Any]:
    """`runbook rollout start --check`: the plan, and its first write (the first step on the
    first wave's sites) in Ansible's check mode: what would change, nothing recorded as a
    rollout (the check run is), nothing written."""
    plan, sites, found = _plan(ws, given, say)
    first = plan["waves"][0]
    result = run(
        ws,
        ws.runbook("set-rollout"),
        {"feature": given.feature, "percent": plan["steps"][0]},
        RunOptions(
            reason=f"rollout check: {given.reason}",
            inventory=tuple(str(s) for s in found.inventory.sources),
            limit=",".join(h for s in first for h in plan["hosts"][s]),
            check=True,
            yes=True,
        ),
        warn=say,
        file_on_incident=False,
    )
    return {
        "check": True,
        "feature": given.feature,
        "sites": sites,
        "plan": plan,
        "run_id": result.run_id,
        "status": result.status,
        "exit_code": int(result.exit_code),
    }


def start(ws: Workspace, given: StartOptions, say: Callable[[str], None]) -> int:
    """Record a new rollout (refused while another of the feature runs on these sites)."""
    plan, sites, found = _plan(ws, given, say)
    with ws.store() as store:
        rollout_id = store.start_rollout(
            kind=KIND,
            subject=given.feature,
            sites=sites,
            plan=plan,
            state=plans.new_state(),
            reason=given.reason,
            operator=operator_name(),
            inventory=",".join(str(s) for s in found.inventory.sources),
        )
        store.add_rollout_event(
            rollout_id,
            "started",
            f"rollout of {given.feature} in steps {given.steps} over "
            + " then ".join("+".join(w) for w in plan["waves"])
            + f": {given.reason}",
            plan,
        )
    say(f"rollout {rollout_id}: {given.feature} {given.steps} on {', '.join(sites)}")
    return rollout_id


@dataclass
class Driver(RecordDriver):
    """Drives one rollout to its end, a pause, an abort, or a stop (SIGTERM: resumable)."""

    def _event(self, kind: str, summary: str, data: Any = None, run_id: str | None = None) -> None:
        with self.ws.store() as store:
            store.add_rollout_event(self.rollout_id, kind, summary, data, run_id)
        self.say(f"rollout {self.rollout_id}: {summary}")

    def drive(self) -> int:
        with self.ws.store() as store:
            rollout = store.hold_rollout(self.rollout_id)
        assert self.stop is not None
        while not self.stop.is_set():
            rollout = self._load()
            if rollout["status"] == "aborting":
                self._abort(rollout, rollout["state"].get("abort_why") or "aborted by hand")
                break
            if rollout["status"] != "running":
                break
            plan, state = rollout["plan"], rollout["state"]
            here = plans.current(plan, state)
            if here is None:
                self._save(state, "completed")
                self._event("completed", f"{rollout['subject']} is at 100% on every site")
                break
            percent, sites = here
            if state["phase"] == "write":
                self._write(rollout, percent, sites)
            else:
                self._analyse(rollout, percent, sites)
        final = self._load()["status"]
        return int(STATUS_EXIT.get(final, ExitCode.INTERRUPTED))

    def _hosts(self, rollout: dict[str, Any], sites: list[str]) -> list[str]:
        return [h for s in sites for h in rollout["plan"]["hosts"][s]]

    def _options(self, rollout: dict[str, Any], hosts: list[str], reason: str) -> RunOptions:
        return RunOptions(
            reason=reason,
            inventory=tuple(rollout["inventory"].split(",")),
            limit=",".join(hosts),
            yes=True,
            incident=rollout["incident_id"],
        )

    def _write(self, rollout: dict[str, Any], percent: int, sites: list[str]) -> None:
        feature, state = rollout["subject"], rollout["state"]
        hosts = self._hosts(rollout, sites)
        # The baseline, just before the step: each host's metrics and known fingerprints
        # over the last analysis window.
        window = logs.Window(
            since=f"{int(rollout['plan']['analysis_seconds'])}s",
            inventory=tuple(rollout["inventory"].split(",")),
            limit=",".join(hosts),
        )
        scan = logs.scan(
            self.ws, window, 1000, warn=self.say, reason=f"rollout {self.rollout_id} baseline"
        )
        # A metric measured on too few requests is no baseline (the comparison is then
        # inconclusive, never a false "20% slower").
        state["baseline"] = logs.baselines_of(scan, int(rollout["plan"].get("min_samples") or 10))
        todo = [s for s in sites if state["written"].get(s) != percent]
        if todo:
            result = run(
                self.ws,
                self.ws.runbook("set-rollout"),
                {"feature": feature, "percent": percent},
                self._options(
                    rollout,
                    self._hosts(rollout, todo),
                    f"rollout {self.rollout_id}: {feature} to {percent}% on {', '.join(todo)}: "
                    f"{rollout['reason']}",
                ),
                warn=self.say,
                file_on_incident=False,
            )
            if result.status == "interrupted":
                # SIGTERM or Ctrl-C during the write (the run took the signal): stop here,
                # resumable; the write is idempotent and is done again on resume.
                self._event("stopped", f"stopped while writing {percent}%", run_id=result.run_id)
                assert self.stop is not None
                self.stop.set()
                return
            if result.exit_code != ExitCode.OK:
                self._event(
                    "write-failed",
                    f"writing {percent}% on {', '.join(todo)} ended {result.status} "
                    f"(exit {int(result.exit_code)})",
                    run_id=result.run_id,
                )
                self._abort(rollout, f"the {percent}% step could not be written and verified")
                return
            wrote: tuple[str, str, Any, str | None] | None = (
                "wrote",
                f"{feature} at {percent}% on {', '.join(todo)} (read back, verified)",
                {"percent": percent, "sites": todo},
                result.run_id,
            )
        else:
            wrote = None  # a resumed step whose write was recorded: not written again
        plans.wrote(state, sites, percent, clock.now(), rollout["plan"]["analysis_seconds"])
        self._save(state, event=wrote)

    def _analyse(self, rollout: dict[str, Any], percent: int, sites: list[str]) -> None:
        state, plan = rollout["state"], rollout["plan"]
        if not state.get("promote") and not self._wait(state["analysis_until"]):
            current = self._load()
            if current["status"] != "running" or not current["state"].get("promote"):
                return  # paused, aborting or stopped: the loop (or a resume) takes it from here
            state = current["state"]
        if state.get("promote"):
            who = state["promote"]
            promoted = (
                "promoted",
                f"the {percent}% gate on {', '.join(sites)} passed by hand: {who['by']}: "
                f"{who['reason']}",
                who,
                None,
            )
            plans.advance(plan, state)
            self._save(state, event=promoted)
            return
        verdicts, evidence, scan_run = self._judge(rollout, sites)
        worst = max(verdicts.values(), key=lambda v: ORDER.get(v, 1), default="inconclusive")
        decided = plans.gate(worst, plan, state)
        fired = sorted({r for e in evidence.values() for r in e["fired"]})
        gated = (
            "gate",
            f"{percent}% on {', '.join(sites)}: {worst} ({decided.why})"
            + (f"; fired: {', '.join(fired)}" if fired else ""),
            {
                "percent": percent,
                "verdicts": verdicts,
                "evidence": evidence,
                "outcome": decided.outcome,
            },
            scan_run,
        )
        if decided.outcome == "pass":
            plans.advance(plan, state)
            self._save(state, event=gated)
        elif decided.outcome == "extend":
            plans.extend(plan, state)
            self._save(state, event=gated)
        elif decided.outcome == "pause":
            self._save(state, "paused", event=gated)
            self._page(
                rollout, f"rollout {self.rollout_id} of {rollout['subject']} paused: {decided.why}"
            )
        else:
            state["abort_why"] = f"{percent}% on {', '.join(sites)}: {decided.why}"
            self._save(state, "aborting", event=gated)
            self._abort(self._load(), state["abort_why"])

    def _judge(
        self, rollout: dict[str, Any], sites: list[str]
    ) -> tuple[dict[str, str], dict[str, Any], str]:
        """Each site of the wave over its analysis window, against the step's baseline."""
        state, plan = rollout["state"], rollout["plan"]
        window = logs.Window(
            since=state["analysis_started"],
            inventory=tuple(rollout["inventory"].split(",")),
            limit=",".join(self._hosts(rollout, sites)),
        )
        scan = logs.scan(
            self.ws, window, 20, warn=self.say, reason=f"rollout {self.rollout_id} gate"
        )
        rows = gate_rows(plan.get("min_samples"))
        # "20% slower than before" needs a p95 worth the name on both sides: of a few dozen
        # requests it is one request's luck (a loaded host turned a healthy step red).
        baseline = {
            h: {
                "metrics": b["metrics"]
                if node_metrics((scan.hosts.get(h) or {}).get("logs") or {})["api_response"][1]
                >= DEGRADATION_MIN_SAMPLES
                else {},
                "fingerprints": b["fingerprints"],
            }
            for h, b in state["baseline"].items()
        }
        verdicts, evidence = {}, {}
        for site in sites:
            nodes = {h: n for h, n in scan.hosts.items() if n["site"] == site}
            outcome = evaluate(nodes, {}, baseline, rows)
            verdicts[site] = outcome["verdict"]
            evidence[site] = {
                "fired": outcome["decision"]["fired"],
                "table": [
                    {k: r.get(k) for k in ("target", "metric", "value", "samples", "verdict")}
                    for r in outcome["table"]
                ],
            }
        return verdicts, evidence, scan.result.run_id

    def _incident(self, rollout: dict[str, Any], title: str) -> int:
        with self.ws.store() as store:
            incidents = Incidents(store)
            found = rollout["incident_id"]
            if found is None or incidents.get(int(found))["status"] == "resolved":
                found = incidents.open(
                    title[:200], "P1", classification="opened by runbook rollout"
                )
                store.update_rollout(self.rollout_id, incident_id=found)
        return int(found)

    def _page(self, rollout: dict[str, Any], why: str) -> None:
        incident = self._incident(rollout, f"rollout of {rollout['subject']}: {why}")
        with self.ws.store() as store:
            Incidents(store).record(incident, "rollout", why)
            for failed in send_notices(self.ws, store, ("p1",), incident):
                self.say(f"rollout {self.rollout_id}: warning: {failed}")
        refresh_status_pages(self.ws, self.say)

    def _abort(self, rollout: dict[str, Any], why: str) -> None:
        """Every site the feature reached back to 0% and its flag off, verified; the incident
        and the notices."""
        feature = rollout["subject"]
        reached = sorted(s for s, p in rollout["state"]["written"].items() if p > 0)
        incident = self._incident(rollout, f"rollout of {feature} aborted: {why}")
        rollout = self._load()
        if reached:
            result = run(
                self.ws,
                self.ws.runbook("set-rollout"),
                {"feature": feature, "percent": 0},
                self._options(
                    rollout,
                    self._hosts(rollout, reached),
                    f"rollout {self.rollout_id} aborted: {feature} off on "
                    f"{', '.join(reached)}: {why}",
                ),
                warn=self.say,
                file_on_incident=False,
            )
            with self.ws.store() as store:
                Incidents(store).attach_run(incident, result.run_id)
            ok = result.exit_code == ExitCode.OK
            self._event(
                "reverted" if ok else "revert-failed",
                f"{feature} at 0% and off on {', '.join(reached)}: {result.status}"
                + ("" if ok else f" (exit {int(result.exit_code)}): check these sites by hand"),
                run_id=result.run_id,
            )
            if ok:
                for site in reached:
                    rollout["state"]["written"][site] = 0
        with self.ws.store() as store:
            store.update_rollout(self.rollout_id, status="aborted", state=rollout["state"])
            Incidents(store).record(
                incident, "rollout", f"rollout {self.rollout_id} aborted: {why}"
            )
            for failed in send_notices(self.ws, store, ("p1",), incident):
                self.say(f"rollout {self.rollout_id}: warning: {failed}")
        refresh_status_pages(self.ws, self.say)
        self._event("aborted", why, {"incident_id": incident})


# -- by hand, from any terminal -------------------------------------------------------------


def _change(ws: Workspace, rollout_id: int, kind: str, who: str, reason: str) -> dict[str, Any]:
    if not reason.strip():
        raise RunbookError(f"--reason is empty: say why you {kind} it")
    with ws.store() as store:
        current = store.rollout(rollout_id)
        if current["status"] not in ("running", "paused"):
            raise RunbookError(f"rollout {rollout_id} is {current['status']}: nothing to {kind}")
        state = current["state"]
        if kind == "pause":
            store.update_rollout(rollout_id, status="paused")
        elif kind == "promote":
            state["promote"] = {"by": who, "reason": reason, "at": clock.stamp()}
            store.update_rollout(rollout_id, status="running", state=state)
        elif kind == "abort":
            state["abort_why"] = f"aborted by {who}: {reason}"
            store.update_rollout(rollout_id, status="aborting", state=state)
        store.add_rollout_event(rollout_id, kind, f"{kind} by {who}: {reason}", {"by": who})
        return store.rollout(rollout_id)


def pause(ws: Workspace, rollout_id: int, reason: str) -> dict[str, Any]:
    return _change(ws, rollout_id, "pause", operator_name(), reason)


def promote(ws: Workspace, rollout_id: int, reason: str) -> dict[str, Any]:
    """Pass the current gate by hand (recorded); a paused rollout runs again (`resume`)."""
    return _change(ws, rollout_id, "promote", operator_name(), reason)


def abort(ws: Workspace, rollout_id: int, reason: str, say: Callable[[str], None]) -> int:
    """Abort: a running driver does the revert within seconds; with none, this process."""
    changed = _change(ws, rollout_id, "abort", operator_name(), reason)
    from runbook.store import process_alive

    if changed["pid"] and process_alive(changed["pid"]) and changed["pid"] != os.getpid():
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            time.sleep(POLL_SECONDS)
            with ws.store() as store:
                if store.rollout(rollout_id)["status"] == "aborted":
                    return int(ExitCode.HEALTH_RED)
        raise RunbookError(f"rollout {rollout_id}: its driver (pid {changed['pid']}) did not abort")
    with ws.store() as store:
        store.hold_rollout(rollout_id)
    if changed["kind"] == "deploy":
        from runbook.service.deploy import DeployDriver

        DeployDriver(ws, rollout_id, say)._revert(changed, changed["state"]["abort_why"])
    else:
        Driver(ws, rollout_id, say)._abort(changed, changed["state"]["abort_why"])
    return int(ExitCode.HEALTH_RED)


def resume(
    ws: Workspace, rollout_id: int, say: Callable[[str], None], stop: threading.Event
) -> int:
    with ws.store() as store:
        current = store.rollout(rollout_id)
    if current["kind"] == "deploy":
        from runbook.service.deploy import resume as resume_deploy

        return resume_deploy(ws, rollout_id, say, stop)
    with ws.store() as store:
        if current["status"] == "paused":
            store.update_rollout(rollout_id, status="running")
            store.add_rollout_event(rollout_id, "resumed", f"resumed by {operator_name()}")
        elif current["status"] == "aborting":
            pass
        elif current["status"] != "running":
            raise RunbookError(f"rollout {rollout_id} is {current['status']}: nothing to resume")
    if current["status"] == "aborting":
        driver = Driver(ws, rollout_id, say, stop)
        driver._abort(current, current["state"].get("abort_why") or "aborted")
        return int(ExitCode.HEALTH_RED)
    return Driver(ws, rollout_id, say, stop).drive()


def status(ws: Workspace, rollout_id: int | None = None) -> list[dict[str, Any]]:
    with ws.store() as store:
        found = [store.rollout(rollout_id)] if rollout_id else store.rollouts()
        return [
            {
                **{
                    k: r[k]
                    for k in (
                        "id",
                        "kind",
                        "subject",
                        "sites",
                        "status",
                        "reason",
                        "operator",
                        "created_at",
                        "updated_at",
                        "incident_id",
                    )
                },
                "plan": {k: v for k, v in r["plan"].items() if k != "hosts"},
                "where": plans.describe(r) if r["kind"] == KIND else _where_deploy(r),
                "events": store.rollout_events(r["id"]) if rollout_id else [],
            }
            for r in found
        ]


def _where_deploy(deploy: dict[str, Any]) -> dict[str, Any]:
    """A deploy's place, in the shape `describe` gives a rollout's."""
    plan, state = deploy["plan"], deploy["state"]
    left = None
    if state["phase"] == "gate" and state.get("analysis_until"):
        left = max(0.0, (clock.parse(state["analysis_until"]) - clock.now()).total_seconds())
    version = plan["package"]["version"]
    return {
        "step": None,
        "step_index": state["wave"],
        "wave": state.get("wave_hosts") or [],
        "wave_number": f"{min(state['wave'] + 1, len(plan['waves']))} of {len(plan['waves'])}",
        "phase": state["phase"],
        "analysis_left_seconds": None if left is None else round(left),
        "written": {h: version for h in state["deployed"]},
    }
