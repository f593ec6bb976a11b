"""The monitor's policy: which trigger leads to which action, and the loop's limits.

The default is the workflow document's: any automatic trigger of the Rollback Decision Matrix
rolls the site back (p0-rollback); the web server's own critical lines and the manual
triggers page people and act on nothing. A policy file (YAML) changes any of it, checked
against a JSON Schema so that a mistake names the file and the field.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema

from runbook import yamlfile
from runbook.errors import RunbookError

#: The decision matrix's automatic triggers (runbook.health.decisions' rule names).
AUTOMATIC = (
    "error_rate_over_5_percent",
    "critical_errors_last_5m",
    "performance_degradation_over_20_percent",
    "user_complaints_over_5_per_hour",
)
#: Watched, paged, acted on only when a policy says so.
OTHERS = (
    "new_fatal_fingerprint",
    "web_server_critical",
    "manual:data-integrity",
    "manual:security",
    "manual:widespread-impact",
    "manual:cascading-failures",
)
TRIGGERS = AUTOMATIC + OTHERS
#: Strongest first: when several triggers fire, the strongest action wins.
ACTIONS = ("p0-rollback", "p1-disable-feature", "notify", "none")

UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
DURATION = r"^[0-9]{1,7}[smhd]$"


def seconds(text: str | int | float) -> float:
    """`90s`, `15m`, `24h`, `2d`, or a number of seconds."""
    if isinstance(text, int | float) and not isinstance(text, bool):
        return float(text)
    match = re.fullmatch(r"([0-9]{1,7})([smhd])", str(text).strip())
    if not match:
        raise ValueError(f"{text!r} is not a duration such as 30s, 15m, 24h or 2d")
    return float(int(match.group(1)) * UNITS[match.group(2)])


SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "version": {"const": 1},
        "cooldown": {"type": "string", "pattern": DURATION},
        "verification": {"type": "string", "pattern": DURATION},
        "breaker": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "actions": {"type": "integer", "minimum": 1, "maximum": 100},
                "within": {"type": "string", "pattern": DURATION},
            },
        },
        "brake": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "more_than": {"type": "number", "exclusiveMinimum": 0, "maximum": 1},
                "min_sites": {"type": "integer", "minimum": 1},
            },
        },
        "triggers": {
            "type": "object",
            "propertyNames": {"enum": list(TRIGGERS)},
            "additionalProperties": {
                "type": "object",
                "additionalProperties": False,
                "required": ["action"],
                "properties": {
                    "action": {"enum": list(ACTIONS)},
                    "after": {"type": "integer", "minimum": 1, "maximum": 1000},
                    "inconclusive_counts": {"type": "boolean"},
                },
            },
        },
    },
}


@dataclass(frozen=True)
class Rule:
    """What a trigger leads to: the action, after how many consecutive firing cycles
    (Argo's failureLimit), and whether an inconclusive cycle counts as one."""

    action: str
    after: int = 1
    inconclusive_counts: bool = False


def _default_rules() -> dict[str, Rule]:
    rules = {t: Rule("p0-rollback") for t in AUTOMATIC}
    rules.update({t: Rule("notify") for t in OTHERS})
    return rules


@dataclass(frozen=True)
class Policy:
    rules: dict[str, Rule] = field(default_factory=_default_rules)
    cooldown: float = 15 * 60
    verification: float = 10 * 60
    breaker_actions: int = 2
    breaker_within: float = 24 * 3600
    brake_more_than: float = 0.5
    brake_min_sites: int = 2
    source: str = "the default policy"

    def rule(self, trigger: str) -> Rule:
        return self.rules.get(trigger, Rule("notify"))

    def describe(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "cooldown_seconds": self.cooldown,
            "verification_seconds": self.verification,
            "breaker": {"actions": self.breaker_actions, "within_seconds": self.breaker_within},
            "brake": {"more_than": self.brake_more_than, "min_sites": self.brake_min_sites},
            "triggers": {
                t: {
                    "action": r.action,
                    "after": r.after,
                    "inconclusive_counts": r.inconclusive_counts,
                }
                for t, r in self.rules.items()
            },
        }


def from_mapping(data: Any, where: str) -> Policy:
    """A policy from its parsed file; errors name `where` and the field."""
    if data is None:
        data = {}
    validator = jsonschema.Draft202012Validator(SCHEMA)
    problems = sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path))
    if problems:
        first = problems[0]
        place = "/".join(str(p) for p in first.absolute_path) or "(top level)"
        message = first.message
        if "propertyNames" in first.schema_path:
            message = f"{first.instance!r} is not a trigger; triggers: {', '.join(TRIGGERS)}"
        elif first.validator == "pattern":
            message = f"{first.instance!r} is not a duration such as 30s, 15m, 24h or 2d"
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise RunbookError(f"{where}: {place}: {message}{more}")
    rules = _default_rules()
    for trigger, given in (data.get("triggers") or {}).items():
        rules[trigger] = Rule(
            given["action"], int(given.get("after", 1)), bool(given.get("inconclusive_counts"))
        )
    breaker = data.get("breaker") or {}
    brake = data.get("brake") or {}
    defaults = Policy()
    return Policy(
        rules=rules,
        cooldown=seconds(data.get("cooldown", defaults.cooldown)),
        verification=seconds(data.get("verification", defaults.verification)),
        breaker_actions=int(breaker.get("actions", defaults.breaker_actions)),
        breaker_within=seconds(breaker.get("within", defaults.breaker_within)),
        brake_more_than=float(brake.get("more_than", defaults.brake_more_than)),
        brake_min_sites=int(brake.get("min_sites", defaults.brake_min_sites)),
        source=where,
    )


def load(path: Path | None) -> Policy:
    """The policy in `path`, or the default one."""
    if path is None:
        return Policy()
    return from_mapping(yamlfile.load(path, "--policy"), f"--policy {path}")
