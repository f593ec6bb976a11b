"""`runbook deploy` as a use case: a new plugin version across the fleet, in waves.

The package is checked on the controller (runbook.rollout.package) before any node changes.
Then: each node backed up and the features off on every site (deploy-prepare), the nodes in
waves (deploy-wave: copied, swapped atomically, OPcache reset, smoke tested), and after each
wave a health gate on its nodes over the analysis window: no new fatal fingerprint since
before the deploy (the novelty rule), error rate and p95 within their thresholds. A failed
gate or wave reverts every node deployed so far to the backup just taken (restore-backup,
verified), opens a P1 incident and notifies. The features stay off: `runbook rollout` turns
them on again.

The deploy lives in the record as a rollout of kind `deploy`: `resume` carries on after a
kill; `runbook deploy pause|promote|abort` work as for a rollout.
"""

from __future__ import annotations

import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, ClassVar

import httpx

from runbook import clock
from runbook.errors import ExitCode, RunbookError
from runbook.execution import RunResult, operator_name
from runbook.health.evaluate import evaluate
from runbook.incidents.records import Incidents
from runbook.paths import state_dir
from runbook.rollout import package as packages
from runbook.rollout import plan as plans
from runbook.rollout import visual as visual_check
from runbook.rollout.waves import targets as wave_targets
from runbook.service import logs
from runbook.service.driving import RecordDriver, gate_rows
from runbook.service.nodes import web_targets
from runbook.service.pages import refresh_status_pages
from runbook.service.runs import RunOptions, check_reason, run, send_notices
from runbook.service.runs import targets as resolve_targets
from runbook.service.workspace import Workspace

KIND = "deploy"
STATUS_EXIT = {
    "completed": ExitCode.OK,
    "paused": ExitCode.HEALTH_YELLOW,
    "aborted": ExitCode.HEALTH_RED,
    "failed": ExitCode.HOSTS_FAILED,
    "running": ExitCode.INTERRUPTED,
}


@dataclass
class DeployOptions:
    package: Path
    reason: str
    version: str | None = None
    waves: str = "1,25%,100%"
    features_off: tuple[str, ...] | None = None
    analysis: float = 120.0
    min_samples: int | None = None
    inventory: tuple[str, ...] = ()
    limit: str | None = None
    #: gate: a visual change over the threshold fails the wave; manual: it pauses; off.
    visual: str = "gate"
    visual_pages: tuple[str, ...] = visual_check.DEFAULT_PAGES
    visual_threshold: float = 0.01
    visual_masks: tuple[str, ...] = ()


def _visual_plan(
    given: DeployOptions,
    inventory: Any,
    order: list[str],
    sites: dict[str, str | None],
    say: Callable[[str], None],
) -> dict[str, Any] | None:
    """Where each node's pages are photographed from: its address and its site's host name
    (the inventory's ansible_host and wp_url)."""
    if given.visual == "off":
        return None
    if given.visual not in ("gate", "manual"):
        raise RunbookError(f"--visual {given.visual!r}: gate, manual or off")
    visual_check.browser()
    masks = [visual_check.Mask.parse(m) for m in given.visual_masks]
    for page in given.visual_pages:
        visual_check.check_page(page)
    targets = web_targets(inventory, given.limit, order, "the visual check (or pass --visual off)")
    # Each site's pages: the fixed ones and a sample of its sitemap, read from its first node
    # now, so that every wave photographs the same pages.
    site_pages: dict[str, list[str]] = {}
    for host in order:
        site = str(sites[host] or host)
        if site not in site_pages:
            site_pages[site] = _site_pages(given.visual_pages, site, targets[host], say)
    return {
        "mode": given.visual,
        "pages": list(given.visual_pages),
        "site_pages": site_pages,
        "threshold": given.visual_threshold,
        "masks": [vars(m) for m in masks],
        "targets": targets,
    }


def _plan(
    ws: Workspace, given: DeployOptions, say: Callable[[str], None], into: Path
) -> tuple[dict[str, Any], list[str], Any]:
    """The package checked (repacked into `into`), the nodes, waves and pages: everything
    decided before any node changes. Returns the plan, the sites and the resolved targets."""
    profile = ws.profile()
    check_reason(ws.runbook("deploy-wave"), given.reason)
    features = list(given.features_off if given.features_off is not None else profile.flags)
    features = [f for f in features if f != "legacy_fallback"]
    unknown = sorted(set(features) - set(profile.flags))
    if unknown:
        raise RunbookError(
            f"--features-off {', '.join(unknown)}: not among {', '.join(profile.flags)}"
        )
    found = resolve_targets(ws, given.inventory, given.limit, say)
    order = sorted(found.hosts, key=lambda h: (found.hosts[h] or "", h))
    waves = wave_targets(given.waves, len(order))
    prepared = packages.prepare(given.package, profile.slug, given.version, into)
    say(f"deploy: {given.package} checked: {profile.slug} {prepared.version} ({prepared.name})")
    deploy = {
        "archive": str(prepared.path),
        "manifest": packages.manifest_of(prepared.path),
        "version": prepared.version,
        "sha256": prepared.manifest["archive_sha256"],
        "size": prepared.manifest["archive_size"],
        "source": str(given.package),
        "flags_off": {f: False for f in features},
    }
    plan = {
        "visual": _visual_plan(given, found.inventory, order, found.hosts, say),
        "package": deploy,
        "order": order,
        "sites": {h: found.hosts[h] for h in order},
        "waves": waves,
        "analysis_seconds": given.analysis,
        "min_samples": given.min_samples,
        "max_extensions": plans.MAX_EXTENSIONS,
    }
    return plan, sorted({s for s in found.hosts.values() if s}), found


def check(ws: Workspace, given: DeployOptions, say: Callable[[str], None]) -> dict[str, Any]:
    """`runbook deploy --check`: the package, the plan and every node's preparation (room
    for the package, the backup, the features off) in Ansible's check mode. Nothing changes
    on any node, no deploy is recorded (the check run is), the package is not kept."""
    with tempfile.TemporaryDirectory(prefix="runbook-deploy-check-") as scratch:
        plan, sites, found = _plan(ws, given, say, Path(scratch))
        result = run(
            ws,
            ws.runbook("deploy-prepare"),
            {},
            RunOptions(
                reason=f"deploy check: {given.reason}",
                inventory=tuple(str(s) for s in found.inventory.sources),
                limit=",".join(plan["order"]),
                check=True,
                yes=True,
            ),
            warn=say,
            file_on_incident=False,
            internal_vars={"runbook_deploy": plan["package"]},
        )
    plan["package"]["archive"] = None
    return {
        "check": True,
        "sites": sites,
        "plan": plan,
        "run_id": result.run_id,
        "status": result.status,
        "exit_code": int(result.exit_code),
    }


def start(ws: Workspace, given: DeployOptions, say: Callable[[str], None]) -> int:
    """Check the package and record the deploy (nothing on any node changes yet)."""
    plan, sites, found = _plan(ws, given, say, state_dir() / "packages")
    state = {
        "phase": "prepare",
        "wave": 0,
        "deployed": [],
        "wave_hosts": [],
        "baseline": {},
        "analysis_started": None,
        "analysis_until": None,
        "extensions": 0,
        "promote": None,
    }
    deploy = plan["package"]
    with ws.store() as store:
        deploy_id = store.start_rollout(
            kind=KIND,
            subject=str(deploy["version"]),
            sites=sites,
            plan=plan,
            state=state,
            reason=given.reason,
            operator=operator_name(),
            inventory=",".join(str(s) for s in found.inventory.sources),
        )
        store.add_rollout_event(
            deploy_id,
            "started",
            f"deploy of {ws.profile().slug} {deploy['version']} to {len(plan['order'])} nodes "
            f"in waves {plan['waves']}, features off: "
            f"{', '.join(deploy['flags_off']) or 'none'}: {given.reason}",
            {k: plan[k] for k in ("package", "order", "waves")},
        )
    return deploy_id


def _site_pages(
    given: tuple[str, ...], site: str, target: dict[str, str], say: Callable[[str], None]
) -> list[str]:
    """The fixed pages, and in place of `sitemap:N` the first N pages the site's sitemap
    lists (none, with a warning, when it has no sitemap)."""
    out: list[str] = []
    for page in given:
        if not page.startswith(visual_check.SITEMAP):
            out.append(page)
            continue
        count = int(page.removeprefix(visual_check.SITEMAP))
        sample = visual_check.sitemap_sample(target["address"], target["host"], count)
        if not sample:
            say(
                f"deploy: the visual check: {site} has no sitemap (WordPress serves none "
                "for a site hidden from search engines): its other key pages only"
            )
        out += [p for p in sample if p not in out]
    return out


def _pages(visual: dict[str, Any], site: str) -> list[str]:
    """The site's key pages (a record from before sitemap samples: the fixed ones)."""
    if "site_pages" in visual:
        return list(visual["site_pages"].get(site, []))
    return list(visual["pages"])


@dataclass
class DeployDriver(RecordDriver):
    """Drives one deploy: its preparation, its waves and their gates, or its revert."""

    label: ClassVar[str] = "deploy"
    judging_phase: ClassVar[str] = "gate"

    def _run(self, deploy: dict[str, Any], book: str, hosts: list[str], why: str) -> RunResult:
        return run(
            self.ws,
            self.ws.runbook(book),
            {"backup": "latest"} if book == "restore-backup" else {},
            RunOptions(
                reason=f"deploy {self.rollout_id}: {why}: {deploy['reason']}",
                inventory=tuple(deploy["inventory"].split(",")),
                limit=",".join(hosts),
                yes=True,
            ),
            warn=self.say,
            file_on_incident=False,
            internal_vars={"runbook_deploy": deploy["plan"]["package"]},
        )

    def _interrupted(self, result: RunResult) -> bool:
        """SIGTERM or Ctrl-C during a run (the run took the signal): stop, resumable."""
        if result.status != "interrupted":
            return False
        self.say(f"deploy {self.rollout_id}: stopped during run {result.run_id}; resume goes on")
        assert self.stop is not None
        self.stop.set()
        return True

    # -- the phases ----------------------------------------------------------------------------

    def drive(self) -> int:
        with self.ws.store() as store:
            store.hold_rollout(self.rollout_id)
        assert self.stop is not None
        while not self.stop.is_set():
            deploy = self._load()
            if deploy["status"] == "aborting":
                self._revert(deploy, deploy["state"].get("abort_why") or "aborted by hand")
                break
            if deploy["status"] != "running":
                break
            phase = deploy["state"]["phase"]
            if phase == "prepare":
                self._prepare(deploy)
            elif phase == "wave":
                self._wave(deploy)
            elif phase == "gate":
                self._gate(deploy)
            else:
                self._finish(deploy)
                break
        return int(STATUS_EXIT.get(self._load()["status"], ExitCode.INTERRUPTED))

    def _prepare(self, deploy: dict[str, Any]) -> None:
        plan, state = deploy["plan"], deploy["state"]
        hosts = plan["order"]
        # What the fleet looked like before: the fatal fingerprints it already had, its
        # metrics; the gates judge each wave against it.
        scan = logs.scan(
            self.ws,
            logs.Window(
                since="1h", inventory=tuple(deploy["inventory"].split(",")), limit=",".join(hosts)
            ),
            1000,
            warn=self.say,
            reason=f"deploy {self.rollout_id} baseline",
        )
        state["baseline"] = logs.baselines_of(scan)
        result = self._run(deploy, "deploy-prepare", hosts, "backups and features off")
        if self._interrupted(result):
            return
        if result.exit_code != ExitCode.OK:
            self._save(
                state,
                "failed",
                (
                    "prepare-failed",
                    f"backups and features off ended {result.status} (exit "
                    f"{int(result.exit_code)}): no node got the new code",
                    None,
                    result.run_id,
                ),
            )
            return
        if plan.get("visual"):
            self._photograph_before(deploy)
        state["phase"] = "wave"
        self._save(
            state,
            event=(
                "prepared",
                f"every node backed up, {', '.join(plan['package']['flags_off']) or 'no features'} "
                "off on every site",
                None,
                result.run_id,
            ),
        )

    def _wave(self, deploy: dict[str, Any]) -> None:
        plan, state = deploy["plan"], deploy["state"]
        upto = plan["waves"][state["wave"]]
        hosts = [h for h in plan["order"][:upto] if h not in state["deployed"]]
        result = self._run(deploy, "deploy-wave", hosts, f"wave {state['wave'] + 1}")
        if self._interrupted(result):
            # Its nodes may have the new code: a resume runs the wave again (a node already
            # on the package is left as it is), an abort reverts them.
            state["deployed"] = sorted(set(state["deployed"]) | set(hosts))
            self._save(state)
            return
        # Every node the wave touched is reverted if anything fails from here on.
        state["deployed"] = sorted(set(state["deployed"]) | set(hosts))
        state["wave_hosts"] = hosts
        if result.exit_code != ExitCode.OK:
            state["abort_why"] = (
                f"wave {state['wave'] + 1} ({', '.join(hosts)}) ended {result.status} "
                f"(exit {int(result.exit_code)})"
            )
            self._save(
                state,
                "aborting",
                ("wave-failed", state["abort_why"], {"hosts": hosts}, result.run_id),
            )
            return
        now = clock.now()
        state["phase"] = "gate"
        state["analysis_started"] = clock.stamp(now)
        state["analysis_until"] = clock.stamp(now + timedelta(seconds=plan["analysis_seconds"]))
        state["extensions"] = 0
        self._save(
            state,
            event=(
                "wave",
                f"wave {state['wave'] + 1}: {', '.join(hosts)} on "
                f"{plan['package']['version']} (verified)",
                {"hosts": hosts, "wave": state["wave"] + 1},
                result.run_id,
            ),
        )

    def _gate(self, deploy: dict[str, Any]) -> None:
        plan, state = deploy["plan"], deploy["state"]
        if not state.get("promote") and not self._wait(state["analysis_until"]):
            current = self._load()
            if current["status"] != "running" or not current["state"].get("promote"):
                return
            state = current["state"]
        wave = state["wave"] + 1
        if state.get("promote"):
            who = state["promote"]
            self._next(
                plan,
                state,
                (
                    "promoted",
                    f"wave {wave}'s gate passed by hand: {who['by']}: {who['reason']}",
                    who,
                    None,
                ),
            )
            return
        hosts = state["wave_hosts"]
        scan = logs.scan(
            self.ws,
            logs.Window(
                since=state["analysis_started"],
                inventory=tuple(deploy["inventory"].split(",")),
                limit=",".join(hosts),
            ),
            20,
            warn=self.say,
            reason=f"deploy {self.rollout_id} gate {wave}",
        )
        rows = gate_rows(plan.get("min_samples"))
        # A wave's gate: no fatal fingerprint the fleet did not have before (novelty), error
        # rates and p95 within their thresholds. Not "20% slower than before": a swap resets
        # OPcache, and the first requests after it are slower by design.
        known = {
            h: {"metrics": {}, "fingerprints": b["fingerprints"]}
            for h, b in state["baseline"].items()
        }
        outcome = evaluate(scan.hosts, {}, known, rows)
        verdict = outcome["verdict"]
        visual = self._photograph_after(deploy, hosts, wave) if plan.get("visual") else None
        if visual and visual["failed"]:
            if plan["visual"]["mode"] == "manual" and verdict != "red":
                self._save(
                    state,
                    "paused",
                    (
                        "visual",
                        f"wave {wave}: {visual['failed']}: paused for a person (runbook deploy "
                        f"promote or abort {self.rollout_id})",
                        visual,
                        scan.result.run_id,
                    ),
                )
                return
            verdict = "red"
            outcome["decision"]["fired"].append("visual_change")
        decided = plans.gate(verdict, plan, state, abort="the deployed nodes go back")
        gated = (
            "gate",
            f"wave {wave} ({', '.join(hosts)}): {verdict} ({decided.why})"
            + (f"; visual: {visual['failed']}" if visual and visual["failed"] else ""),
            {
                "wave": wave,
                "verdict": verdict,
                "fired": outcome["decision"]["fired"],
                "table": [
                    {k: r.get(k) for k in ("target", "metric", "value", "samples", "verdict")}
                    for r in outcome["table"]
                ],
                "outcome": decided.outcome,
                "visual": visual,
            },
            scan.result.run_id,
        )
        if decided.outcome == "pass":
            self._next(plan, state, gated)
        elif decided.outcome == "extend":
            plans.extend(plan, state)
            self._save(state, event=gated)
        elif decided.outcome == "pause":
            self._save(state, "paused", gated)
        else:
            state["abort_why"] = f"wave {wave}'s gate: {verdict}: " + (
                ", ".join(outcome["decision"]["fired"]) or "thresholds red"
            )
            self._save(state, "aborting", gated)

    def _folder(self) -> Path:
        """The deploy's evidence: the screenshots before, after each wave, and their diffs."""
        return state_dir() / "deploys" / str(self.rollout_id)

    def _http(self, target: dict[str, str], page: str) -> int:
        """The page's status from the node, every cache bypassed."""
        try:
            response = httpx.get(
                f"http://{target['address']}{page}",
                headers={"Host": target["host"], "Cache-Control": "no-cache", "Pragma": "no-cache"},
                params={"runbook-nocache": str(self.rollout_id)},
                follow_redirects=False,
                timeout=15,
                trust_env=False,
            )
        except httpx.HTTPError as exc:
            raise RunbookError(f"{target['address']}{page}: {exc}") from None
        return response.status_code

    @staticmethod
    def _slug(page: str) -> str:
        return "".join(c if c.isalnum() else "_" for c in page.strip("/")) or "home"

    def _photograph_before(self, deploy: dict[str, Any]) -> None:
        """Each site's key pages, from its first node, before any node changes."""
        plan = deploy["plan"]
        shots: dict[str, Any] = {}
        for host in plan["order"]:
            site = plan["sites"][host]
            if site in shots:
                continue
            target = plan["visual"]["targets"][host]
            shots[site] = {}
            for page in _pages(plan["visual"], site):
                status = self._http(target, page)
                if not 200 <= status < 400:
                    raise RunbookError(
                        f"the visual check: {page} on {host} answers {status} before the deploy:"
                        " fix the page or leave it out (--visual-pages)"
                    )
                out = self._folder() / "before" / site / f"{self._slug(page)}.png"
                visual_check.shoot(target["host"], target["address"], page, out)
                shots[site][page] = {"image": str(out), "status": status, "from": host}
        with self.ws.store() as store:
            store.add_rollout_event(
                self.rollout_id,
                "visual-before",
                "photographed "
                + "; ".join(f"{site}: {', '.join(taken)}" for site, taken in shots.items()),
                shots,
            )

    def _photograph_after(
        self, deploy: dict[str, Any], hosts: list[str], wave: int
    ) -> dict[str, Any]:
        """The same pages on each of the wave's nodes, each compared with its site's."""
        plan = deploy["plan"]
        visual = plan["visual"]
        masks = tuple(visual_check.Mask(**m) for m in visual["masks"])
        pages: list[dict[str, Any]] = []
        failed = []
        for host in hosts:
            site, target = plan["sites"][host], visual["targets"][host]
            for page in _pages(visual, site):
                slug = self._slug(page)
                status = self._http(target, page)
                before = self._folder() / "before" / site / f"{slug}.png"
                after = self._folder() / f"wave-{wave}" / host / f"{slug}.png"
                diff = self._folder() / f"wave-{wave}" / host / f"{slug}-diff.png"
                visual_check.shoot(target["host"], target["address"], page, after)
                share = visual_check.compare(before, after, diff, masks)
                pages.append(
                    {
                        "host": host,
                        "page": page,
                        "status": status,
                        "changed_share": round(share, 5),
                        "before": str(before),
                        "after": str(after),
                        "diff": str(diff),
                    }
                )
                if not 200 <= status < 400:
                    failed.append(f"{page} on {host} answers {status}")
                elif share > visual["threshold"]:
                    failed.append(
                        f"{page} on {host} changed {share:.1%} of its pixels (threshold "
                        f"{visual['threshold']:.1%}; diff {diff})"
                    )
        return {"pages": pages, "failed": "; ".join(failed)}

    def _next(self, plan: dict[str, Any], state: dict[str, Any], event: Any) -> None:
        state["wave"] += 1
        state["phase"] = "wave" if state["wave"] < len(plan["waves"]) else "done"
        state.update(analysis_started=None, analysis_until=None, extensions=0, promote=None)
        self._save(state, event=event)

    def _finish(self, deploy: dict[str, Any]) -> None:
        plan = deploy["plan"]
        self._save(
            deploy["state"],
            "completed",
            (
                "completed",
                f"every node on {plan['package']['version']}; the features stay off "
                f"(runbook rollout turns them on: {', '.join(plan['package']['flags_off'])})",
                None,
                None,
            ),
        )

    def _revert(self, deploy: dict[str, Any], why: str) -> None:
        """Every node deployed so far back to the backup just taken, verified; a P1 incident
        and the notices."""
        state = deploy["state"]
        hosts = state["deployed"]
        with self.ws.store() as store:
            incidents = Incidents(store)
            incident = incidents.open(
                f"deploy of {deploy['subject']} reverted: {why}"[:200],
                "P1",
                classification="opened by runbook deploy",
            )
            store.update_rollout(self.rollout_id, incident_id=incident)
        ok = True
        if hosts:
            result = self._run(deploy, "restore-backup", hosts, f"revert ({why})")
            ok = result.exit_code == ExitCode.OK
            with self.ws.store() as store:
                Incidents(store).attach_run(incident, result.run_id)
                store.add_rollout_event(
                    self.rollout_id,
                    "reverted" if ok else "revert-failed",
                    f"{', '.join(hosts)} back to the backup taken before the deploy: "
                    f"{result.status}" + ("" if ok else ": MIXED VERSIONS, check these nodes"),
                    {"hosts": hosts},
                    result.run_id,
                )
            if ok:
                state["deployed"] = []
        with self.ws.store() as store:
            store.update_rollout(self.rollout_id, status="aborted", state=state)
            Incidents(store).record(incident, "deploy", f"deploy {self.rollout_id} reverted: {why}")
            for failed in send_notices(self.ws, store, ("p1",), incident):
                self.say(f"deploy {self.rollout_id}: warning: {failed}")
            store.add_rollout_event(self.rollout_id, "aborted", why, {"incident_id": incident})
        refresh_status_pages(self.ws, self.say)
        self.say(f"deploy {self.rollout_id}: aborted: {why}" + ("" if ok else " (revert FAILED)"))


def resume(ws: Workspace, deploy_id: int, say: Callable[[str], None], stop: threading.Event) -> int:
    with ws.store() as store:
        current = store.rollout(deploy_id)
        if current["kind"] != KIND:
            raise RunbookError(f"{deploy_id} is a {current['kind']}: runbook rollout resume")
        if current["status"] == "paused":
            store.update_rollout(deploy_id, status="running")
            store.add_rollout_event(deploy_id, "resumed", f"resumed by {operator_name()}")
        elif current["status"] not in ("running", "aborting"):
            raise RunbookError(f"deploy {deploy_id} is {current['status']}: nothing to resume")
    return DeployDriver(ws, deploy_id, say, stop).drive()
