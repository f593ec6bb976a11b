"""The monitor's own metrics for Prometheus (`runbook monitor --metrics-port`): per-site
verdicts, cycles and their duration, decisions and automatic actions by trigger, breakers.
What Argo Rollouts and Flagger users ask for: how many rollbacks did the analysis trigger."""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

from runbook.errors import ExitCode, RunbookError

VERDICTS = ("green", "yellow", "red", "inconclusive")


class MonitorMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.cycles = Counter("runbook_monitor_cycles", "Monitor cycles run.", registry=r)
        self.cycle_seconds = Histogram(
            "runbook_monitor_cycle_duration_seconds",
            "How long a cycle took (scan, judge, store, act).",
            buckets=(1, 2, 5, 10, 20, 30, 60, 120, 300, 600),
            registry=r,
        )
        self.verdict = Gauge(
            "runbook_monitor_site_verdict",
            "1 for each site's verdict in the last cycle, 0 for the others.",
            ["site", "verdict"],
            registry=r,
        )
        self.decisions = Counter(
            "runbook_monitor_decisions",
            "Decisions to act by site, trigger and action (taken, held or would).",
            ["site", "trigger", "action", "outcome"],
            registry=r,
        )
        self.actions = Counter(
            "runbook_monitor_automatic_actions",
            "Automatic actions run, by site, trigger, action and the run's status.",
            ["site", "trigger", "action", "status"],
            registry=r,
        )
        self.breaker = Gauge(
            "runbook_monitor_breaker_open",
            "1 while a site's circuit breaker is open (the monitor does not act there).",
            ["site"],
            registry=r,
        )
        self.last_cycle = Gauge(
            "runbook_monitor_last_cycle_timestamp_seconds",
            "When the last cycle ended (Unix time).",
            registry=r,
        )
        self._server: Any = None

    def serve(self, port: int, address: str = "127.0.0.1") -> None:
        try:
            self._server, _ = start_http_server(port, addr=address, registry=self.registry)
        except OSError as exc:
            raise RunbookError(
                f"--metrics-port {port}: cannot listen on {address}:{port}: {exc.strerror or exc}",
                ExitCode.ENVIRONMENT,
            ) from None

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def observe(self, doc: dict[str, Any], seconds: float, ended: float) -> None:
        """A cycle's document: its verdicts, decisions, actions and breakers."""
        self.cycles.inc()
        self.cycle_seconds.observe(seconds)
        self.last_cycle.set(ended)
        for site, entry in doc["sites"].items():
            for verdict in VERDICTS:
                self.verdict.labels(site, verdict).set(1 if entry["verdict"] == verdict else 0)
            plan = entry["plan"]
            if plan["action"] != "none":
                outcome = "would" if plan["would"] else "held" if plan["held"] else "taken"
                self.decisions.labels(site, plan["trigger"] or "-", plan["action"], outcome).inc()
            self.breaker.labels(site).set(1 if entry["state"].get("breaker") else 0)
        for action in doc["actions"]:
            plan = doc["sites"][action["site"]]["plan"]
            self.actions.labels(
                action["site"],
                plan["trigger"] or "-",
                action["action"],
                action.get("status") or "error",
            ).inc()
