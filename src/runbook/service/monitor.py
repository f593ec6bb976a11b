"""`runbook monitor` as a use case: watch the fleet, decide by the policy, act, verify, report.

Each cycle scans every node's logs incrementally (one log-scan run), judges each site by the
thresholds and the decision matrix, stores the cycle (a time series) and where the scans
stopped in one transaction, then acts on what the policy says: a p0-rollback limited to the
site's nodes, a flag-first p1-disable-feature, a page, or nothing. Loop protection is
runbook.monitor.engine's; its state is stored per site, so a restarted monitor resumes.

One monitor per fleet: a lease in the record (owner, machine, pid, heartbeat), renewed by a
thread every few seconds, taken over when its heartbeat is stale.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import Any

from runbook import clock
from runbook.errors import ExitCode, RunbookError
from runbook.execution import RunResult, operator_name
from runbook.health import metrics, report, thresholds
from runbook.health.evaluate import ORDER, evaluate
from runbook.incidents.records import Incidents
from runbook.monitor import engine
from runbook.monitor import policy as policies
from runbook.service import logs
from runbook.service.pages import refresh_status_pages
from runbook.service.runs import MAX_REASON, RunOptions, refused_untouched, run, send_notices
from runbook.service.runs import targets as resolve_targets
from runbook.service.workspace import Workspace
from runbook.store import Store, default_path

seconds = policies.seconds
#: The longest a cycle may go without a sign of life before systemd's watchdog hears nothing.
LOOP_SILENCE = 900.0
FLEET_STATE = "*"  # the site key of the fleet-wide state (manual triggers seen)
LEVEL_EXIT = logs.VERDICT_EXIT


@dataclass
class MonitorOptions:
    inventory: tuple[str, ...] = ()
    limit: str | None = None
    interval: float = 60.0
    once: bool = False
    dry_run: bool = False
    policy: Path | None = None
    #: The first cycle's window (each log from there); later cycles read what is new.
    window: str = "10m"
    metrics_source: str | None = None
    #: A Prometheus server and the queries (metric -> PromQL with {site}), as `runbook health`.
    prometheus_url: str | None = None
    prometheus_queries: Path | None = None
    thresholds_file: Path | None = None
    #: A lease whose heartbeat is older is taken over (default: three intervals, at least 30 s).
    stale_after: float | None = None
    #: Stop after this many cycles (None: until signalled).
    cycles: int | None = None
    #: Serve the monitor's own metrics for Prometheus on this port (127.0.0.1 unless
    #: metrics_address says otherwise).
    metrics_port: int | None = None
    metrics_address: str = "127.0.0.1"


def sd_notify(message: str) -> None:
    """Tell systemd (Type=notify, WatchdogSec) how we are: one datagram to $NOTIFY_SOCKET.
    The protocol is that one line; without the variable this does nothing."""
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return
    if address.startswith("@"):
        address = "\0" + address[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.sendto(message.encode(), address)
    except OSError:
        pass  # systemd gone: nothing to tell


def plain(text: str, limit: int = MAX_REASON) -> str:
    """Text for a --reason: log evidence may hold anything, control characters never pass."""
    return re.sub(r"[\x00-\x1f\x7f]", " ", text)[:limit]


@dataclass
class Monitor:
    ws: Workspace
    options: MonitorOptions
    #: Called with each cycle's document (the board, the lines, JSON Lines).
    on_cycle: Callable[[dict[str, Any]], None] = lambda doc: None
    #: Called with one line per decision, action and warning (stderr).
    say: Callable[[str], None] = print
    policy: policies.Policy = field(default_factory=policies.Policy)
    fleet: str = ""
    stop: threading.Event = field(default_factory=threading.Event)
    hosts: dict[str, str | None] = field(default_factory=dict)
    _beat: threading.Thread | None = None
    _alive: float = field(default_factory=time.monotonic)
    #: An incident was opened or escalated this cycle: the status page is re-rendered.
    _changed: bool = False

    def __post_init__(self) -> None:
        # The record's path, fixed now: a run clears the environment while Ansible runs, and
        # the lease's heartbeat thread must not open another record meanwhile.
        self.ws = replace(self.ws, db=self.ws.db or default_path())
        self.policy = policies.load(self.options.policy)
        found = resolve_targets(self.ws, self.options.inventory, self.options.limit, self.say)
        self.hosts = found.hosts
        # Resolved once: each cycle's runs use the same files, and say nothing about choosing.
        self.options.inventory = tuple(str(source) for source in found.inventory.sources)
        self.fleet = str(found.inventory) + (
            f" --limit {self.options.limit}" if self.options.limit else ""
        )
        overrides = (
            logs.load_thresholds(self.options.thresholds_file)
            if self.options.thresholds_file
            else None
        )
        self.overrides = overrides
        self.rows = thresholds.merged(overrides)
        if bool(self.options.prometheus_url) != bool(self.options.prometheus_queries):
            raise RunbookError("--prometheus and --prometheus-queries go together")
        self.queries = (
            logs.load_queries(self.options.prometheus_queries)
            if self.options.prometheus_queries
            else None
        )

    @property
    def stale_after(self) -> float:
        return self.options.stale_after or max(3 * self.options.interval, 30.0)

    # -- the lease -------------------------------------------------------------------------

    def acquire(self) -> None:
        with self.ws.store() as store:
            store.mark_abandoned()
            taken, holder = store.take_lease(self.fleet, operator_name(), self.stale_after)
            if not taken and holder is not None:
                raise RunbookError(
                    f"a monitor already watches {self.fleet}: {holder['owner']} on "
                    f"{holder['controller']} (pid {holder['pid']}) since "
                    f"{holder['started_at']}, last heartbeat {holder['heartbeat_age_seconds']} "
                    "s ago. Stop it first, or wait: a lease whose heartbeat is older than "
                    f"{int(self.stale_after)} s is taken over",
                    ExitCode.LOCK_HELD,
                )
            if holder is not None:
                what = (
                    f"took over the monitor lease of {holder['owner']} on "
                    f"{holder['controller']} (pid {holder['pid']}): its last heartbeat was "
                    f"{holder['heartbeat_age_seconds']} s ago"
                )
                store.add_monitor_event(
                    fleet=self.fleet, site=None, kind="takeover", summary=what, data=holder
                )
                self.say(f"monitor: {what}")
            self._resume(store)
        self._beat = threading.Thread(target=self._heartbeat, name="monitor-lease", daemon=True)
        self._beat.start()
        sd_notify("READY=1\nSTATUS=watching " + self.fleet)

    def _heartbeat(self) -> None:
        period = max(1.0, min(5.0, self.stale_after / 4))
        while not self.stop.wait(period):
            try:
                with self.ws.store() as store:
                    if not store.heartbeat(self.fleet):
                        self.say("monitor: the lease is no longer ours (taken over): stopping")
                        self.stop.set()
                        return
            except RunbookError as exc:
                self.say(f"monitor: warning: heartbeat: {exc}")
            # The watchdog hears from a loop that is alive: a cycle or a wait within the
            # last LOOP_SILENCE seconds (a rollback's tasks included), not just this thread.
            if time.monotonic() - self._alive < LOOP_SILENCE + self.options.interval:
                sd_notify("WATCHDOG=1")

    def release(self) -> None:
        self.stop.set()
        if self._beat is not None:
            self._beat.join(timeout=10)
        with self.ws.store() as store:
            store.release_lease(self.fleet)
        sd_notify("STOPPING=1")

    def _resume(self, store: Store) -> None:
        """An action the previous monitor left in flight: finished (counted, not repeated),
        interrupted (counted, the site re-judged), or never started (forgotten)."""
        for site, state in store.site_states(self.fleet).items():
            flight = state.get("in_flight")
            if site == FLEET_STATE or not flight:
                continue
            found = [
                r
                for r in store.runs(50, flight["action"])
                if r["started_at"] >= flight["since"] and r["host_limit"] == flight["limit"]
            ]
            plan = engine.Plan(site, "unknown", action=flight["action"])
            plan.trigger, plan.feature = flight.get("trigger"), flight.get("feature")
            state["in_flight"] = None
            if found:
                done = found[-1]
                engine.record_action(
                    state, plan, self.policy, clock.parse(flight["since"]), done["run_id"]
                )
                what = (
                    f"the previous monitor's {flight['action']} on {site} ended {done['status']} "
                    f"(run {done['run_id']}): counted, not repeated; {site} is re-judged"
                )
            else:
                what = f"the previous monitor's {flight['action']} on {site} never started"
            store.set_site_state(self.fleet, site, state)
            store.add_monitor_event(fleet=self.fleet, site=site, kind="resumed", summary=what)
            self.say(f"monitor: {what}")

    # -- the loop --------------------------------------------------------------------------

    def run(self) -> int:
        """Cycle until told to stop (SIGTERM, SIGINT, --once, --cycles). Returns the exit
        code: with --once, `runbook health`'s codes for the last cycle's verdict."""
        exported = None
        if self.options.metrics_port is not None:
            from runbook.service.monitor_metrics import MonitorMetrics

            exported = MonitorMetrics()
            exported.serve(self.options.metrics_port, self.options.metrics_address)
        try:
            self.acquire()
            try:
                with self._signals():
                    code = self._loop(exported)
            finally:
                self.release()
        finally:
            if exported is not None:
                exported.close()
        return code if self.options.once else 0

    @contextmanager
    def _signals(self) -> Iterator[None]:
        """SIGTERM or SIGINT: finish this cycle, then stop; a second one: stop now."""
        saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}

        def finish(signum: int, _frame: FrameType | None) -> None:
            if self.stop.is_set():
                raise KeyboardInterrupt
            self.say(
                f"monitor: {signal.Signals(signum).name}: finishing this cycle, then stopping "
                "(again: stop now)"
            )
            self.stop.set()

        for sig in saved:
            signal.signal(sig, finish)
        try:
            yield
        finally:
            for sig, handler in saved.items():
                signal.signal(sig, handler)

    def _loop(self, exported: Any) -> int:
        code = 0
        done = 0
        while True:
            started = time.monotonic()
            self._alive = started
            try:
                doc = self.cycle()
            except RunbookError as exc:
                if exc.code == ExitCode.INTERRUPTED:
                    # SIGTERM while Ansible ran: the run's own handler took it (and stopped
                    # the scan after its task); the monitor stops too.
                    self.say("monitor: the cycle's scan was interrupted: stopping")
                    self.stop.set()
                    return int(ExitCode.INTERRUPTED)
                if self.options.once:
                    raise
                # A bad metrics source, a failed scan: said and recorded; the next cycle
                # tries again (a stopped monitor protects nothing).
                self._failed(exc)
                if self.stop.wait(self.options.interval):
                    return int(ExitCode.HEALTH_INCONCLUSIVE)
                continue
            self._alive = time.monotonic()
            if exported is not None:
                exported.observe(doc, self._alive - started, time.time())
            done += 1
            code = int(LEVEL_EXIT[doc["verdict"]])
            if self.options.once or (self.options.cycles and done >= self.options.cycles):
                return code
            if self.stop.wait(max(self.options.interval - (time.monotonic() - started), 0)):
                return code

    def cycle(self) -> dict[str, Any]:
        """One cycle: scan, judge, store, act. Returns the cycle's document."""
        now = clock.now()
        started = time.monotonic()
        with self.ws.store() as store:
            offsets = store.monitor_offsets(self.fleet)
            states = store.site_states(self.fleet)
            baselines = store.baselines()
        extra = {"log_health_incremental": True, "log_health_state_by_host": offsets}
        window = logs.Window(
            since=self.options.window, inventory=self.options.inventory, limit=self.options.limit
        )
        why = "runbook monitor cycle" + (" (dry run)" if self.options.dry_run else "")
        began = time.monotonic()
        scan = logs.scan(self.ws, window, 20, extra, warn=self.say, reason=why)
        scanned = time.monotonic() - began
        fleet_state = states.setdefault(FLEET_STATE, {})
        declared = self._manual_triggers(fleet_state)
        # A declaration names no site: paged once for the fleet; only a policy that maps it
        # to an action puts it before every site.
        manual = [r for r in declared if self.policy.rule(r["rule"]).action in engine.ACTING]
        plans, judged = self._judge(scan, states, baselines, manual, now)
        sites = [plan.site for plan in plans]
        brake = engine.brake(plans, self.policy)
        overall = max(
            (p.verdict for p in plans), key=lambda v: ORDER.get(v, 1), default="inconclusive"
        )
        doc: dict[str, Any] = {
            "at": clock.stamp(now),
            "fleet": self.fleet,
            "dry_run": self.options.dry_run,
            "verdict": overall if overall in ORDER else "inconclusive",
            "scan_run_id": scan.result.run_id,
            "not_scanned": scan.not_scanned,
            "format_unrecognised": scan.unrecognised,
            "brake": brake,
            "manual": [],
            "sites": {},
            "actions": [],
        }
        for plan in plans:
            doc["sites"][plan.site] = _site_doc(
                plan, judged[plan.site], states[plan.site], self.rows
            )
        new_offsets = {
            h: n["logs"]["state"]
            for h, n in scan.hosts.items()
            if n["logs"] and n["logs"].get("state")
        }
        with self.ws.store() as store:
            doc["cycle"] = store.finish_cycle(
                fleet=self.fleet,
                at=doc["at"],
                dry_run=self.options.dry_run,
                run_id=scan.result.run_id,
                verdict=doc["verdict"],
                sites={s: _stored(d) for s, d in doc["sites"].items()},
                offsets=new_offsets,
            )
            for plan in plans:
                self._record(store, plan, judged[plan.site], states[plan.site], scan.result)
            store.set_site_state(self.fleet, FLEET_STATE, fleet_state)
            for site in sites:
                store.set_site_state(self.fleet, site, states[site])
        for rule in declared:
            doc["manual"].append(rule)
            if rule not in manual and self.policy.rule(rule["rule"]).action == "notify":
                self._page_declared(rule, scan.result.run_id)
        for plan in plans:
            if plan.acts and not self.stop.is_set():
                doc["actions"].append(self._act(plan, states[plan.site], judged[plan.site]))
        for site in sites:
            doc["sites"][site]["state"] = _state_view(states[site])
        if self._changed:
            self._changed = False
            refresh_status_pages(self.ws, self.say)
        with self.ws.store() as store:
            store.heartbeat(self.fleet, cycle=True)
        doc["seconds"] = {
            "scan": round(scanned, 3),
            "cycle": round(time.monotonic() - started, 3),
        }
        sd_notify(f"STATUS=cycle {doc['cycle']}: {doc['verdict']}")
        self.on_cycle(doc)
        return doc

    def _failed(self, exc: RunbookError) -> None:
        what = plain(f"cycle failed: {exc.message}", 1000)
        self.say(f"monitor: {what}; trying again in {int(self.options.interval)} s")
        try:
            with self.ws.store() as store:
                store.add_monitor_event(
                    fleet=self.fleet, site=None, kind="cycle-failed", summary=what
                )
        except RunbookError as again:
            self.say(f"monitor: warning: not recorded: {again.message}")

    def _judge(
        self,
        scan: logs.Scan,
        states: dict[str, dict[str, Any]],
        baselines: dict[str, dict[str, Any]],
        manual: list[dict[str, Any]],
        now: datetime,
    ) -> tuple[list[engine.Plan], dict[str, dict[str, Any]]]:
        """Each site by the thresholds, the decision matrix and the policy."""
        site_inputs = metrics.load(self.options.metrics_source)
        if self.options.prometheus_url and self.queries:
            sites = sorted({str(n["site"]) for n in scan.hosts.values() if n["site"]})
            site_inputs = metrics.merge(
                site_inputs, metrics.prometheus(self.options.prometheus_url, self.queries, sites)
            )
        host_rows = {
            h: thresholds.merged(report.stack_thresholds(layer, self.overrides))
            for h, layer in logs.inventory_thresholds(scan.result).items()
        }
        plans, judged = [], {}
        for site in sorted({str(n["site"]) for n in scan.hosts.values() if n["site"]}):
            state = states.setdefault(site, engine.new_state())
            nodes = {h: dict(n) for h, n in scan.hosts.items() if n["site"] == site}
            raw = _raw(nodes)
            _rolling_critical(nodes, state, now)
            given = {site: site_inputs[site]} if site in site_inputs else {}
            outcome = evaluate(nodes, given, baselines, self.rows, host_rows)
            rules = outcome["decision"]["rules"] + [_web_server_rule(nodes)] + manual
            _fingerprint(rules, nodes)
            plans.append(
                engine.plan_site(
                    site,
                    outcome["verdict"],
                    rules,
                    self.policy,
                    state,
                    now,
                    dry_run=self.options.dry_run,
                    flags=self.ws.profile().flags,
                )
            )
            judged[site] = {"outcome": outcome, "rules": rules, "nodes": sorted(nodes), "raw": raw}
        return plans, judged

    # -- decisions, pages, actions -----------------------------------------------------------

    def _manual_triggers(self, fleet_state: dict[str, Any]) -> list[dict[str, Any]]:
        """Manual triggers declared (`runbook health declare`) since the monitor last looked;
        the first cycle takes those of the last hour."""
        with self.ws.store() as store:
            recent = store.decisions(50)
        last = fleet_state.get("manual_seen")
        cutoff = clock.stamp(clock.now() - timedelta(hours=1))
        found = []
        for d in recent:
            if last is not None and d["id"] <= last:
                continue
            if last is None and d["created_at"] < cutoff:
                continue
            for rule in d["rules"]:
                if str(rule.get("rule", "")).startswith("manual:"):
                    found.append(rule)
        if recent:
            fleet_state["manual_seen"] = max(int(d["id"]) for d in recent)
        return found

    def _page_declared(self, rule: dict[str, Any], run_id: str) -> None:
        """A manual trigger (`runbook health declare`): on a P1 incident of its own (or the
        open one it was declared for), and paged. Acted on only if the policy says so."""
        what = plain(engine.evidence_line(rule), 500)
        with self.ws.store() as store:
            incidents = Incidents(store)
            title = plain(f"monitor: {rule['rule']} declared", 200)
            found = next(
                (i["id"] for i in incidents.all() if i["title"] == title), None
            ) or incidents.open(title, "P1", classification="opened by runbook monitor")
            self._changed = True
            store.add_monitor_event(
                fleet=self.fleet,
                site=None,
                kind="notify",
                summary=what,
                data=rule,
                incident_id=found,
                run_id=run_id,
            )
            incidents.record(found, "monitor", f"monitor: {what}", rule)
            self._page(store, found, what)
        self.say(f"monitor: {what} (paged; the policy acts on it only if it says so)")

    def _incident(self, store: Store, plan: engine.Plan, state: dict[str, Any]) -> int:
        """The site's open incident (the monitor's own, or a P0 with a run on the site);
        else a new P0 for an action, P1 for a page. Never a second one while one is open."""
        incidents = Incidents(store)
        known = state.get("incident_id")
        if known is not None:
            try:
                if incidents.get(int(known))["status"] != "resolved":
                    return int(known)
            except RunbookError:
                pass
        found = incidents.open_for_sites("P0", [plan.site])
        if found is None:
            priority = "P0" if plan.action in engine.ACTING else "P1"
            title = plain(f"monitor: {plan.trigger or 'alert'} on {plan.site}", 200)
            found = incidents.open(
                title,
                priority,
                classification="opened by runbook monitor",
                impact=plan.summary[:500] or None,
            )
            self.say(f"monitor: opened {priority} incident {found} for {plan.site}")
            self._changed = True
        state["incident_id"] = found
        return found

    def _record(
        self,
        store: Store,
        plan: engine.Plan,
        judged: dict[str, Any],
        state: dict[str, Any],
        scan: RunResult,
    ) -> None:
        """A cycle's decision for a site: in the record, on its incident, paged."""
        kind, text = _event_of(plan)
        if plan.fired:
            outcome = judged["outcome"]
            store.add_decision(
                run_id=scan.run_id,
                created_at=clock.stamp(),
                verdict=plan.verdict,
                rollback=plan.action in engine.ACTING,
                fired=plan.fired,
                rules=judged["rules"],
                inputs={"monitor": self.fleet, "site": plan.site, **outcome["inputs"]},
            )
        if kind == "held" and state.get("last_held") == text:
            kind = None  # said when it began; not again every cycle
        state["last_held"] = text if kind == "held" or plan.held else None
        if kind is None and not plan.escalate and not plan.page:
            return
        incident_id = None
        if kind in ("decision", "held", "notify") or plan.escalate or plan.page:
            incident_id = self._incident(store, plan, state)
        if kind is not None:
            store.add_monitor_event(
                fleet=self.fleet,
                site=plan.site,
                kind=kind,
                summary=plain(text, 1000),
                data=plan.to_dict() | {"evidence": plan.evidence},
                incident_id=incident_id,
                run_id=scan.run_id,
            )
            self.say(f"monitor: {plain(text, 300)}")
            if incident_id is not None:
                Incidents(store).record(
                    incident_id, "monitor", plain(f"monitor: {text}", 1000), plan.to_dict()
                )
        if plan.escalate and incident_id is not None:
            self._escalate(store, incident_id, plan)
        elif plan.page and incident_id is not None:
            self._page(store, incident_id, plan.page)

    def _escalate(self, store: Store, incident_id: int, plan: engine.Plan) -> None:
        why = plain(plan.escalate or "", 500)
        try:
            level = Incidents(store).escalate(incident_id, why)
            self._changed = True
            what = f"incident {incident_id} escalated to level {level}: {why}"
        except RunbookError as exc:
            what = f"incident {incident_id}: {exc}"
        store.add_monitor_event(
            fleet=self.fleet,
            site=plan.site,
            kind="escalated",
            summary=what,
            incident_id=incident_id,
        )
        self.say(f"monitor: {what}")
        self._page(store, incident_id, why)

    def _page(self, store: Store, incident_id: int, why: str) -> None:
        priority = Incidents(store).get(incident_id)["priority"]
        template = "p0" if priority == "P0" else "p1"
        failed = list(send_notices(self.ws, store, (template,), incident_id))
        for line in failed:
            self.say(f"monitor: warning: {line}")
        store.add_monitor_event(
            fleet=self.fleet,
            site=None,
            kind="paged",
            summary=plain(f"paged ({template}) for incident {incident_id}: {why}", 1000),
            data={"failed": failed},
            incident_id=incident_id,
        )

    def _act(
        self, plan: engine.Plan, state: dict[str, Any], judged: dict[str, Any]
    ) -> dict[str, Any]:
        """Run the action on the site's nodes only; the state says it is in flight first."""
        now = clock.now()
        limit = ",".join(judged["nodes"])
        with self.ws.store() as store:
            incident_id = self._incident(store, plan, state)
            state["in_flight"] = {
                "action": plan.action,
                "trigger": plan.trigger,
                "feature": plan.feature,
                "since": clock.stamp(now),
                "limit": limit,
            }
            store.set_site_state(self.fleet, plan.site, state)
        book = self.ws.runbook(plan.action)
        params = {"feature": plan.feature} if plan.action == "p1-disable-feature" else {}
        reason = plain(f"auto: {plan.summary}")
        options = RunOptions(
            reason=reason,
            incident=incident_id,
            inventory=self.options.inventory,
            limit=limit,
            yes=True,
        )
        self.say(f"monitor: running {plan.action} on {plan.site} ({limit}), incident {incident_id}")
        try:
            result = run(self.ws, book, params, options, warn=self.say)
        except RunbookError as exc:
            with self.ws.store() as store:
                state["in_flight"] = None
                store.set_site_state(self.fleet, plan.site, state)
                store.add_monitor_event(
                    fleet=self.fleet,
                    site=plan.site,
                    kind="action-failed",
                    summary=plain(f"{plan.action} on {plan.site} could not start: {exc}", 1000),
                    incident_id=incident_id,
                )
            self.say(f"monitor: {plan.action} on {plan.site} could not start: {exc}")
            return {"site": plan.site, "action": plan.action, "error": str(exc)}
        out = {
            "site": plan.site,
            "action": plan.action,
            "feature": plan.feature,
            "run_id": result.run_id,
            "status": result.status,
            "exit_code": int(result.exit_code),
            "incident_id": incident_id,
        }
        with self.ws.store() as store:
            state["in_flight"] = None
            if refused_untouched(result):
                kind = "refused"
                what = (
                    f"{plan.action} on {plan.site} was refused ({result.status}, exit "
                    f"{int(result.exit_code)}): nothing changed, not counted"
                )
            else:
                kind = "action"
                engine.record_action(state, plan, self.policy, now, result.run_id)
                what = (
                    f"{plan.action} on {plan.site}: {result.status} (run {result.run_id}, "
                    f"exit {int(result.exit_code)}); verifying until {state['verifying']['until']}"
                )
            store.set_site_state(self.fleet, plan.site, state)
            store.add_monitor_event(
                fleet=self.fleet,
                site=plan.site,
                kind=kind,
                summary=what,
                data=out,
                incident_id=incident_id,
                run_id=result.run_id,
            )
        self.say(f"monitor: {what}")
        if result.status == "interrupted":
            self.stop.set()
        return out


def _event_of(plan: engine.Plan) -> tuple[str | None, str]:
    """The kind of record a site's plan makes (None: nothing to say) and its line."""
    if plan.action in engine.ACTING:
        if plan.would:
            return "would", f"would {plan.action} {plan.site}: {plan.summary}"
        if plan.held:
            return "held", f"{plan.action} on {plan.site} held back: {plan.held}"
        return "decision", f"{plan.action} {plan.site}: {plan.summary}"
    if plan.action == "notify" and plan.page:
        return "notify", f"{plan.page}: {plan.summary}"
    if plan.verified:
        return "verified", f"{plan.site} is green again after the last action"
    return None, ""


def _raw(nodes: dict[str, dict[str, Any]]) -> dict[str, dict[str, int]]:
    """What each node's logs held this cycle, for the report: new critical errors, requests
    and 5xx answers (None: the node was not scanned)."""
    out = {}
    for host, node in nodes.items():
        logs_of = node.get("logs")
        if not logs_of:
            continue
        access = logs_of.get("access") or {}
        out[host] = {
            "critical_new": int(logs_of.get("critical_recent") or 0),
            "requests": int(access.get("requests") or 0),
            "errors_5xx": int(access.get("errors_5xx") or 0),
        }
    return out


def _rolling_critical(
    nodes: dict[str, dict[str, Any]], state: dict[str, Any], now: datetime
) -> None:
    """Each node's critical count over the last five minutes of cycles, in its logs."""
    per_host = {
        h: int((n.get("logs") or {}).get("critical_recent") or 0)
        for h, n in nodes.items()
        if n.get("logs")
    }
    rolled = engine.rolling_critical(state, per_host, now)
    for host, count in rolled.items():
        nodes[host]["logs"] = dict(nodes[host]["logs"], critical_recent=count)


def _web_server_rule(nodes: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The web server's own emerg/alert/crit lines: they page and show, and act only if the
    policy maps them to an action (a plugin rollback does not fix an nginx upstream)."""
    per_host = {
        h: sum(
            n
            for key, n in ((node.get("logs") or {}).get("counts") or {}).items()
            if key.split(":")[-1] == "crit"
        )
        for h, node in nodes.items()
        if node.get("logs")
    }
    hit = {h: n for h, n in per_host.items() if n}
    if not per_host:
        return {"rule": "web_server_critical", "result": "inconclusive", "evidence": {}}
    return {
        "rule": "web_server_critical",
        "result": "fired" if hit else "ok",
        "evidence": {"count": sum(hit.values()), "hosts": sorted(hit), "per_host": per_host},
    }


def _fingerprint(rules: list[dict[str, Any]], nodes: dict[str, dict[str, Any]]) -> None:
    """The most frequent fatal fingerprint, for the critical trigger's one-line evidence."""
    top = None
    for node in nodes.values():
        for fp, count in ((node.get("logs") or {}).get("fatal_fingerprints") or {}).items():
            if top is None or count > top[1]:
                top = (fp, count)
    for rule in rules:
        if rule["rule"] == "critical_errors_last_5m" and rule["result"] == "fired" and top:
            rule.setdefault("evidence", {})["fingerprint"] = top[0]


def _state_view(state: dict[str, Any]) -> dict[str, Any]:
    """What the board and `monitor status` show: a cooldown only while it lasts."""
    until = state.get("cooldown_until")
    return {
        "cooldown_until": until if until and until > clock.stamp() else None,
        "breaker": state.get("breaker"),
        "verifying": state.get("verifying"),
        "in_flight": state.get("in_flight"),
        "incident_id": state.get("incident_id"),
        "actions_24h": len(state.get("actions") or []),
    }


def _site_doc(
    plan: engine.Plan, judged: dict[str, Any], state: dict[str, Any], rows: dict[str, Any]
) -> dict[str, Any]:
    table = judged["outcome"]["table"]
    worst = max(table, key=lambda r: ORDER.get(r["verdict"], 1), default=None)
    tables: dict[str, str] = {}
    for row in table:
        name = rows[row["metric"]].table if row["metric"] in rows else None
        if name and ORDER.get(row["verdict"], 1) >= ORDER.get(tables.get(name, "green"), 0):
            tables[name] = row["verdict"]
    return {
        "verdict": plan.verdict,
        "tables": tables,
        "hosts": judged["nodes"],
        "raw": judged.get("raw") or {},
        "table": table,
        "worst": worst,
        "rules": [
            {"rule": r["rule"], "result": r["result"], "evidence": r.get("evidence")}
            for r in judged["rules"]
        ],
        "plan": plan.to_dict(),
        "state": _state_view(state),
    }


def _stored(site_doc: dict[str, Any]) -> dict[str, Any]:
    """What a cycle keeps per site: each metric's value, samples and verdict per host, each
    rule's result and evidence, the plan."""
    return {
        "verdict": site_doc["verdict"],
        "tables": site_doc["tables"],
        "raw": site_doc["raw"],
        "metrics": [
            {k: r.get(k) for k in ("scope", "target", "metric", "value", "samples", "verdict")}
            for r in site_doc["table"]
        ],
        "rules": site_doc["rules"],
        "plan": site_doc["plan"],
    }


# -- status and reset --------------------------------------------------------------------------


def status(ws: Workspace) -> dict[str, Any]:
    """Every monitor lease, each site's last verdict and decision, cooldowns, breakers,
    incidents and actions in flight (`runbook monitor status`)."""
    with ws.store() as store:
        leases = store.leases()
        out: dict[str, Any] = {"monitors": [], "open_incidents": []}
        fleets = {lease["fleet"] for lease in leases} | {c["fleet"] for c in store.cycles(limit=50)}
        now = clock.now()
        for fleet in sorted(fleets):
            lease = next((x for x in leases if x["fleet"] == fleet), None)
            if lease is not None:
                lease["heartbeat_age_seconds"] = round(
                    (now - clock.parse(lease["heartbeat_at"])).total_seconds(), 1
                )
            last = store.cycles(fleet, limit=1)
            states = store.site_states(fleet)
            sites = {}
            for site, state in states.items():
                if site == FLEET_STATE:
                    continue
                cycle_site = (last[0]["sites"].get(site) if last else None) or {}
                sites[site] = {
                    "verdict": cycle_site.get("verdict"),
                    "last_decision": (cycle_site.get("plan") or {}),
                    **_state_view(state),
                }
            out["monitors"].append(
                {
                    "fleet": fleet,
                    "lease": lease,
                    "running": lease is not None,
                    "last_cycle": {
                        "id": last[0]["id"],
                        "at": last[0]["at"],
                        "verdict": last[0]["verdict"],
                    }
                    if last
                    else None,
                    "sites": sites,
                    "events": store.monitor_events(fleet, limit=10),
                }
            )
        out["open_incidents"] = [
            {k: i[k] for k in ("id", "priority", "status", "level", "title")}
            for i in Incidents(store).all()
        ]
    return out


def reset_breaker(ws: Workspace, site: str, reason: str) -> list[str]:
    """Re-arm the circuit breaker of `site` on every fleet it is open on (recorded)."""
    if not reason.strip():
        raise RunbookError("--reason is empty: say why the breaker may act again")
    done = []
    with ws.store() as store:
        fleets = {c["fleet"] for c in store.cycles(limit=200)} | {
            x["fleet"] for x in store.leases()
        }
        for fleet in sorted(fleets):
            state = store.site_states(fleet).get(site)
            if not state or not state.get("breaker"):
                continue
            was = state["breaker"]
            state["breaker"] = None
            state["actions"] = []
            store.set_site_state(fleet, site, state)
            what = plain(
                f"circuit breaker on {site} reset by {operator_name()}: {reason} "
                f"(it tripped at {was['tripped_at']}: {was['why']})",
                1000,
            )
            store.add_monitor_event(
                fleet=fleet,
                site=site,
                kind="breaker-reset",
                summary=what,
                incident_id=state.get("incident_id"),
            )
            if state.get("incident_id"):
                Incidents(store).record(int(state["incident_id"]), "monitor", what)
            done.append(fleet)
    if not done:
        raise RunbookError(f"no open circuit breaker on site {site!r}")
    return done


# -- game day ---------------------------------------------------------------------------------

#: Recorded log files by name, in each host's folder: what kind of log each is.
RECORDED = {
    "debug.log": "wordpress",
    "php-error.log": "php",
    "php-fpm.log": "php_fpm",
    "nginx-error.log": "nginx_error",
    "nginx-access.log": "nginx_access",
    "apache-error.log": "apache_error",
    "apache-access.log": "apache_access",
}


def _scenario(folder: Path) -> dict[str, Any]:
    from runbook import yamlfile

    path = folder / "scenario.yml"
    if not path.exists():
        return {}
    data = yamlfile.load(path, "the scenario") or {}
    if not isinstance(data, dict):
        raise RunbookError(f"the scenario {path}: must be a mapping (now:, sites:, baseline:)")
    return data


def simulate(
    ws: Workspace,
    folder: Path,
    *,
    metrics_source: str | None = None,
    policy_path: Path | None = None,
    since: str = "10m",
) -> dict[str, Any]:
    """Feed recorded logs (one folder per host) through the scanner, the thresholds, the
    triggers and the policy, as one monitor cycle would, touching no host. The optional
    `scenario.yml` gives `now` (default: the newest record), `sites` (host -> site; default
    the host's name without its `-N`) and `baseline` (host -> metrics, fingerprints)."""
    from runbook.ansible.module_utils import runbook_logscan as scanner

    if not folder.is_dir():
        raise RunbookError(f"--logs {folder}: not a folder (one folder of logs per host)")
    scenario = _scenario(folder)
    chosen = policies.load(policy_path)
    profile = ws.profile()
    hosts: dict[str, list[dict[str, Any]]] = {}
    for host_dir in sorted(p for p in folder.iterdir() if p.is_dir()):
        found = [
            {"path": str(host_dir / name), "kind": kind}
            for name, kind in RECORDED.items()
            if (host_dir / name).is_file()
        ]
        if found:
            hosts[host_dir.name] = found
    if not hosts:
        raise RunbookError(
            f"--logs {folder}: no host folders with logs named {', '.join(RECORDED)}"
        )
    now = _scenario_now(scenario, hosts, scanner)
    sites_of = scenario.get("sites") or {}
    nodes: dict[str, dict[str, Any]] = {}
    for host, sources in hosts.items():
        try:
            logs_of = scanner.scan_node(
                sources,
                since=since,
                api_prefix=profile.api_prefix,
                plugin=profile.slug,
                plugin_prefix=profile.log_prefix,
                now=now,
            )
        except scanner.ScanError as exc:
            raise RunbookError(f"--logs {folder}/{host}: {exc}") from None
        site = str(sites_of.get(host) or re.sub(r"-\d+$", "", host))
        nodes[host] = {"site": site, "logs": logs_of}
    baselines = {
        h: {"metrics": b.get("metrics") or {}, "fingerprints": b.get("fingerprints") or []}
        for h, b in (scenario.get("baseline") or {}).items()
    }
    site_inputs = metrics.load(metrics_source)
    rows = thresholds.merged()
    out: dict[str, Any] = {"now": clock.stamp(now), "policy": chosen.source, "sites": {}}
    plans = []
    judged = {}
    for site in sorted({n["site"] for n in nodes.values()}):
        mine = {h: n for h, n in nodes.items() if n["site"] == site}
        given = {site: site_inputs[site]} if site in site_inputs else {}
        outcome = evaluate(mine, given, baselines, rows)
        rules = outcome["decision"]["rules"] + [_web_server_rule(mine)]
        _fingerprint(rules, mine)
        plan = engine.plan_site(
            site,
            outcome["verdict"],
            rules,
            chosen,
            engine.new_state(),
            now,
            dry_run=True,
            flags=profile.flags,
        )
        plans.append(plan)
        judged[site] = {"outcome": outcome, "rules": rules, "nodes": sorted(mine)}
    out["brake"] = engine.brake(plans, chosen)
    for plan in plans:
        out["sites"][plan.site] = _site_doc(plan, judged[plan.site], engine.new_state(), rows)
    out["verdict"] = max(
        (p.verdict for p in plans), key=lambda v: ORDER.get(v, 1), default="inconclusive"
    )
    out["exit_code"] = int(LEVEL_EXIT.get(out["verdict"], ExitCode.HEALTH_INCONCLUSIVE))
    return out


def _scenario_now(
    scenario: dict[str, Any], hosts: dict[str, list[dict[str, Any]]], scanner: Any
) -> datetime:
    given = scenario.get("now")
    if given is not None:
        try:
            return clock.parse(str(given))
        except ValueError:
            raise RunbookError(f"the scenario: now: {given!r} is not an ISO 8601 time") from None
    newest = None
    for sources in hosts.values():
        for source in sources:
            path = Path(source["path"])
            with path.open("rb") as handle:
                when = scanner.newest_time(handle, path.stat().st_size, source["kind"])
            if when is not None and (newest is None or when > newest):
                newest = when
    return newest or clock.now()
