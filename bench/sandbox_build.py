"""Sandbox build time per host for fleets of 3, 10 and 30 hosts (Linux, root).

Run: .venv/bin/python bench/sandbox_build.py [--sizes 3,10,30]
Builds each fleet beside any running sandbox (its own folder, prefix and subnet), prints the
wall time of `up` and of `down`, the time per host, each build phase, and the per-host time
relative to the smallest fleet measured in the same run (how the build scales).
"""

from __future__ import annotations

import argparse
import time

from scratch import scratch_sandbox

LAYOUTS = {3: (None, None), 10: (5, 2), 30: (15, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="3,10,30")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    from runbook.sandbox import fleet, topology

    rows = []
    with scratch_sandbox("rbb", "10.213.79.0/24"):
        for size in sizes:
            sites, nodes = LAYOUTS.get(size, (size, 1))
            topo = topology.build(sites, nodes)
            started = time.perf_counter()
            state = fleet.up(topo)
            up = time.perf_counter() - started
            started = time.perf_counter()
            fleet.down()
            down = time.perf_counter() - started
            rows.append((len(topo.nodes), len(topo.sites), up, down, state["phases_seconds"]))
    base = rows[0][2] / rows[0][0]
    header = ("hosts", "sites", "up s", "down s", "s/host", "vs first")
    print("{:>5} {:>5} {:>7} {:>7} {:>7} {:>8}  phases (s)".format(*header))
    for hosts, sites, up, down, phases in rows:
        per_host = up / hosts
        detail = " ".join(f"{k}={v:.2f}" for k, v in phases.items())
        print(
            f"{hosts:>5} {sites:>5} {up:>7.2f} {down:>7.2f} {per_host:>7.3f} "
            f"{per_host / base:>8.2f}  {detail}"
        )


if __name__ == "__main__":
    main()
