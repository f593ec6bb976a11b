"""The workflow document's Rollback Decision Matrix, as pure functions over measured inputs.

Automatic triggers, exactly as the document lists them:
  1. error rate > 5% for any feature;
  2. critical errors > 0 in the last 5 minutes;
  3. performance degradation > 20% from baseline (and at least 25 ms slower: less is jitter);
  4. more than 5 user complaints in one hour;
plus a novelty rule: a fatal-error fingerprint never seen before the change.
Each rule says fired, ok, or inconclusive (too little data, no baseline), with its evidence,
so a stored decision shows why it said roll back, or why it did not.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

ERROR_RATE_LIMIT = 5.0  # percent, "Error Rate > 5% for any feature"
DEGRADATION_LIMIT = 20.0  # percent over baseline
#: ... and at least this much slower (ms): 18 ms -> 22 ms is +22% and one request's jitter on
#: a busy host, not a regression; a step's gate would abort a healthy rollout on it.
DEGRADATION_FLOOR_MS = 25.0
COMPLAINTS_LIMIT = 5  # "> 5 in 1 hour"
CRITICAL_WINDOW = "5m"
MANUAL_TRIGGERS = {
    "data-integrity": "Data Integrity Issues: settings not persisting correctly",
    "security": "Security Concerns: potential vulnerability discovered",
    "widespread-impact": "Widespread Impact: issue affects > 50% of users",
    "cascading-failures": "Cascading Failures: one issue causing multiple problems",
}


@dataclass
class RuleResult:
    rule: str
    result: str  # fired, ok, inconclusive
    evidence: dict[str, Any] = field(default_factory=dict)


@dataclass
class Decision:
    rollback: bool
    rules: list[RuleResult]

    @property
    def fired(self) -> list[RuleResult]:
        return [r for r in self.rules if r.result == "fired"]

    def to_dict(self) -> dict[str, Any]:
        return {
            "rollback": self.rollback,
            "fired": [r.rule for r in self.fired],
            "rules": [asdict(r) for r in self.rules],
        }


def error_rates(
    feature_rates: Mapping[str, tuple[float | None, int]], min_samples: int = 20
) -> RuleResult:
    """feature -> (error rate in percent, samples)."""
    over = {
        f: rate
        for f, (rate, n) in feature_rates.items()
        if rate is not None and n >= min_samples and rate > ERROR_RATE_LIMIT
    }
    measured = {f: {"rate_percent": rate, "samples": n} for f, (rate, n) in feature_rates.items()}
    if over:
        return RuleResult(
            "error_rate_over_5_percent",
            "fired",
            {"over": over, "limit_percent": ERROR_RATE_LIMIT, "measured": measured},
        )
    if not any(rate is not None and n >= min_samples for rate, n in feature_rates.values()):
        return RuleResult(
            "error_rate_over_5_percent",
            "inconclusive",
            {"measured": measured, "min_samples": min_samples},
        )
    return RuleResult(
        "error_rate_over_5_percent", "ok", {"limit_percent": ERROR_RATE_LIMIT, "measured": measured}
    )


def critical_errors(critical_last_5m: Mapping[str, int]) -> RuleResult:
    """host -> PHP fatal and parse errors (from PHP's, WordPress's and nginx's logs; never the
    web server's own crit) in the last 5 minutes."""
    hit = {h: n for h, n in critical_last_5m.items() if n > 0}
    evidence = {"window": CRITICAL_WINDOW, "per_host": dict(critical_last_5m)}
    if hit:
        return RuleResult("critical_errors_last_5m", "fired", {**evidence, "hosts": hit})
    if not critical_last_5m:
        return RuleResult("critical_errors_last_5m", "inconclusive", evidence)
    return RuleResult("critical_errors_last_5m", "ok", evidence)


def degradation(
    current: Mapping[str, float | None], baseline: Mapping[str, float | None]
) -> RuleResult:
    """metric -> value now and at the baseline (lower is better: times, memory)."""
    compared = {}
    over = {}
    for metric, now in current.items():
        before = baseline.get(metric)
        if now is None or not before:
            continue
        change = (now - before) / before * 100
        compared[metric] = {"now": now, "baseline": before, "change_percent": round(change, 1)}
        if change > DEGRADATION_LIMIT and now - before >= DEGRADATION_FLOOR_MS:
            over[metric] = compared[metric]
    if over:
        return RuleResult(
            "performance_degradation_over_20_percent",
            "fired",
            {"over": over, "limit_percent": DEGRADATION_LIMIT, "floor_ms": DEGRADATION_FLOOR_MS},
        )
    if not compared:
        return RuleResult(
            "performance_degradation_over_20_percent",
            "inconclusive",
            {"why": "no baseline or no measurement to compare", "current": dict(current)},
        )
    return RuleResult("performance_degradation_over_20_percent", "ok", {"compared": compared})


def complaints(last_hour: int | None) -> RuleResult:
    if last_hour is None:
        return RuleResult(
            "user_complaints_over_5_per_hour", "inconclusive", {"why": "no complaints metric"}
        )
    result = "fired" if last_hour > COMPLAINTS_LIMIT else "ok"
    return RuleResult(
        "user_complaints_over_5_per_hour",
        result,
        {"last_hour": last_hour, "limit": COMPLAINTS_LIMIT},
    )


def novelty(fatal_fingerprints: Mapping[str, int], known: set[str] | None) -> RuleResult:
    """A fatal-error fingerprint never seen before the change (the baseline's)."""
    if known is None:
        return RuleResult("new_fatal_fingerprint", "inconclusive", {"why": "no baseline"})
    new = {fp: n for fp, n in fatal_fingerprints.items() if fp not in known}
    if new:
        return RuleResult("new_fatal_fingerprint", "fired", {"new": new})
    return RuleResult(
        "new_fatal_fingerprint", "ok", {"fatal_fingerprints": len(fatal_fingerprints)}
    )


def decide(rules: list[RuleResult]) -> Decision:
    return Decision(rollback=any(r.result == "fired" for r in rules), rules=rules)
