"""One `runbook monitor` cycle on fleets of 3, 10 and 30 hosts with fresh log traffic (Linux, root).

Run: .venv/bin/python bench/monitor.py [--sizes 3,10,30] [--repeat 2]

For each size it builds a throwaway sandbox (its own folder, prefix and subnet), writes a
minute of traffic into every node's logs, and times:
  first     the first cycle (each log read from the window's start, found by binary search);
  next      a later cycle after another minute of traffic (only what is new is read);
  floor     ansible-playbook with the project's ansible.cfg running one `ping` per host: the
            least any Ansible run costs on this fleet;
and prints the wall time of each (the fastest of --repeat runs), the controller's CPU seconds
per host for a later cycle (this process's children: runbook and Ansible), the scan's share
of the cycle, and the ratio of a cycle to the floor. A cycle's wall time is the shortest
--interval the fleet can sustain.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from fleet_rollback import LAYOUTS, ansible_floor
from scratch import scratch_sandbox


def cycle(root: Path) -> tuple[float, float, float]:
    """One `monitor --once`: (wall seconds, the scan's seconds, children's CPU seconds)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "runbook",
            "monitor",
            "--once",
            "--json",
            "-i",
            str(root / "inventory" / "hosts.yml"),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=1800,
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode not in (0, 10, 11, 12):
        raise SystemExit(f"monitor failed ({proc.returncode}): {proc.stderr}\n{proc.stdout}")
    doc = json.loads(proc.stdout.splitlines()[-1])
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return doc["seconds"]["cycle"], doc["seconds"]["scan"], cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="3,10,30")
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    from runbook.sandbox import fleet, topology, traffic

    rows = []
    with scratch_sandbox("rbm", "10.213.83.0/24") as parent:
        for size in (int(s) for s in args.sizes.split(",")):
            sites, nodes = LAYOUTS.get(size, (size, 1))
            topo = topology.build(sites, nodes)
            fleet.up(topo)
            root = Path(os.environ["RUNBOOK_SANDBOX_DIR"])
            first = later = floor = float("inf")
            cpu = scan_share = float("inf")
            for attempt in range(args.repeat):
                state = parent / f"state-{size}-{attempt}"
                os.environ["RUNBOOK_STATE_DIR"] = str(state)
                fleet.reset()
                for node in topo.nodes:
                    traffic.write(root, node, "green")
                wall, _, _ = cycle(root)
                first = min(first, wall)
                for node in topo.nodes:
                    traffic.write(root, node, "green", seed=attempt + 11)
                wall, scanned, used = cycle(root)
                if wall < later:
                    later, cpu, scan_share = wall, used, scanned / wall
                floor = min(floor, ansible_floor(root))
            rows.append((len(topo.nodes), first, later, floor, cpu, scan_share))
            fleet.down()
    print(
        f"{'hosts':>5} {'first s':>8} {'next s':>7} {'floor s':>8} {'cpu s/host':>10}"
        f" {'scan share':>10} {'next/floor':>10}"
    )
    for hosts, first, later, floor, cpu, share in rows:
        print(
            f"{hosts:>5} {first:>8.2f} {later:>7.2f} {floor:>8.2f} {cpu / hosts:>10.3f}"
            f" {share:>10.0%} {later / floor:>10.2f}"
        )
    print("next: a later cycle (incremental); floor: one Ansible ping per host")


if __name__ == "__main__":
    main()
