"""Classifying a metric green / yellow / red / inconclusive by the workflow document's tables.

Pure functions: the filter plugin, the CLI and the tests all call these.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import yaml

from runbook.errors import RunbookError

VERDICTS = ("green", "yellow", "red", "inconclusive")
OPS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
CONDITION = re.compile(r"^\s*(<=|>=|<|>)\s*(-?\d+(?:\.\d+)?)\s*$")


@dataclass(frozen=True)
class Row:
    """One table row: green when `green` holds, red when `red` holds, yellow in between."""

    metric: str
    table: str
    unit: str
    green: tuple[str, float]
    red: tuple[str, float]
    min_samples: int

    def classify(self, value: float | None, samples: int | None = None) -> str:
        if value is None or (samples is not None and samples < self.min_samples):
            return "inconclusive"
        if OPS[self.green[0]](value, self.green[1]):
            return "green"
        if OPS[self.red[0]](value, self.red[1]):
            return "red"
        return "yellow"

    def describe(self) -> str:
        return (
            f"green {self.green[0]} {self.green[1]:g}, red {self.red[0]} {self.red[1]:g} "
            f"({self.unit}; at least {self.min_samples} samples)"
        )


def _condition(metric: str, which: str, text: object) -> tuple[str, float]:
    match = CONDITION.match(str(text))
    if not match:
        raise RunbookError(
            f"thresholds: {metric}.{which} = {text!r}: write a comparison such as '< 0.5' "
            f"(one of {', '.join(OPS)} and a number)"
        )
    return match.group(1), float(match.group(2))


def parse(tables: Mapping[str, Any]) -> dict[str, Row]:
    """Rows by metric name from the YAML shape (table -> metric -> row). Errors name the row."""
    rows: dict[str, Row] = {}
    for table, metrics in tables.items():
        if not isinstance(metrics, Mapping):
            raise RunbookError(f"thresholds: {table} must map metric names to rows")
        for metric, row in metrics.items():
            if not isinstance(row, Mapping) or not {"green", "red"} <= set(row):
                raise RunbookError(f"thresholds: {table}.{metric} needs green and red conditions")
            rows[metric] = Row(
                metric=metric,
                table=table,
                unit=str(row.get("unit", "")),
                green=_condition(metric, "green", row["green"]),
                red=_condition(metric, "red", row["red"]),
                min_samples=int(row.get("min_samples", 0)),
            )
    return rows


@cache
def default_tables() -> dict[str, Any]:
    text = resources.files("runbook.health").joinpath("thresholds.yml").read_text()
    loaded: dict[str, Any] = yaml.safe_load(text)
    return loaded


def merged(overrides: Mapping[str, Any] | None = None) -> dict[str, Row]:
    """The document's rows with an inventory's overrides laid over them, key by key."""
    tables: dict[str, Any] = {
        t: {m: dict(r) for m, r in rows.items()} for t, rows in default_tables().items()
    }
    for table, metrics in (overrides or {}).items():
        for metric, row in (metrics or {}).items():
            tables.setdefault(table, {}).setdefault(metric, {}).update(row)
    return parse(tables)


def classify(
    metric: str,
    value: float | None,
    samples: int | None = None,
    rows: Mapping[str, Row] | None = None,
) -> str:
    rows = rows if rows is not None else merged()
    if metric not in rows:
        raise RunbookError(f"thresholds: no row for {metric!r}; rows: {', '.join(sorted(rows))}")
    return rows[metric].classify(value, samples)
