"""A deploy's waves: `1,25%,100%` as how many nodes have the new code after each wave."""

from __future__ import annotations

import math

from runbook.errors import RunbookError


def targets(spec: str, nodes: int) -> list[int]:
    """Cumulative node counts, rising, ending at every node: `1,25%,100%` on 8 nodes is
    [1, 2, 8]; a wave that adds no node is dropped."""
    out: list[int] = []
    for item in (x.strip() for x in spec.split(",") if x.strip()):
        try:
            count = math.ceil(float(item[:-1]) / 100 * nodes) if item.endswith("%") else int(item)
        except ValueError:
            raise RunbookError(
                f"--waves {spec!r}: {item!r} is not a count or a percentage"
            ) from None
        if count <= 0 or (item.endswith("%") and float(item[:-1]) > 100):
            raise RunbookError(f"--waves {spec!r}: {item!r} is not a positive count or 1-100%")
        count = min(count, nodes)
        if not out or count > out[-1]:
            out.append(count)
    if not out or out[-1] != nodes:
        out.append(nodes)
    return out
