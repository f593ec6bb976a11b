"""p0-rollback on fleets of 3, 10 and 30 hosts against the same work done by hand (Linux, root).

Run: .venv/bin/python bench/fleet_rollback.py [--sizes 3,10,30] [--repeat 2] [--mitogen]

For each size it builds a throwaway sandbox (its own folder, prefix and subnet), then, from
the same starting state each time:
  baseline  the workflow document's manual rollback: one plain `ssh` per node, all nodes in
            parallel, running the `wp` commands (flags and caches on each site's first node)
            and `tar -xzf` of the newest backup into wp-content/plugins, then a php-fpm reload;
  runbook   `runbook p0-rollback` (locks, recorded state, validated flags read back, verified
            restore, smoke tests through nginx and the plugin's REST routes, a run record);
and prints the wall time of each (the fastest of --repeat runs), the runbook's seconds per host,
and the ratio runbook/baseline.
Both end with every node on the backup's version; the bench checks that before it reports.

With --mitogen, p0-rollback runs once more per repeat under RUNBOOK_MITOGEN=1 (runbook[fast]).
Beside the wall times it prints the machine's CPU seconds (every process: controller and
nodes, which share this machine's cores) for the verified row and for p0-rollback: their
ratio bounds how close the wall times can come.

Three more rows per size say where the runbook's time goes:
  verified  the baseline plus, by hand over the same plain ssh, the checks the runbook makes:
            the flags read before and read back, the login page and /wp-json/ on every node,
            the plugin's status, colour, template and settings round trips on each site;
  floor     ansible-playbook with the project's ansible.cfg running one `ping` per host: the
            least any Ansible run costs on this fleet (one task, one round trip per node);
  fewest    the verified row's work, the same scripts, through ansible-playbook in the fewest
            module calls a locked rollback allows (flags on each site's first node; restore
            and checks on the other nodes, then on the first ones): what Ansible alone adds to
            the hand work, and so the least any runbook built on it can take.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from scratch import scratch_sandbox

LAYOUTS = {3: (None, None), 10: (5, 2), 30: (15, 2)}
FLAGS = (
    '{"modern_preview_engine":false,"modern_state_manager":false,'
    '"modern_api_client":false,"legacy_fallback":true}'
)


READ_FLAGS = "option get mase_feature_flags --format=json"


def wp_cli(site: str) -> str:
    return f"wp --path=/var/www/{site}/htdocs --skip-plugins=mase --skip-themes --allow-root"


def flags_script(site: str, read_before: bool = False) -> list[str]:
    """The flags and caches, on a site's first node (read_before: the flags read first, as
    the runbook records them)."""
    wp = wp_cli(site)
    return [
        *([f"{wp} {READ_FLAGS}"] if read_before else []),
        f"{wp} option update mase_feature_flags '{FLAGS}' --format=json",
        f"{wp} cache flush",
        f"{wp} transient delete --all",
    ]


def restore_script() -> list[str]:
    """The newest backup unpacked over the plugin, then php-fpm's OPcache reset."""
    return [
        "newest=$(ls backups/mase-backup-*.tar.gz | sort | tail -1)",
        "rm -rf htdocs/wp-content/plugins/mase",
        "tar -xzf $newest -C htdocs/wp-content/plugins/",
        "pkill -USR2 -F /run/php/php-fpm.pid",
    ]


def manual_script(site: str, leader: bool, read_before: bool = False) -> str:
    """What an operator types on one node, following the workflow document (read_before:
    the flags are read first, as the runbook records them)."""
    lines = ["set -e", f"cd /var/www/{site}"]
    if leader:
        lines += flags_script(site, read_before)
    return "\n".join(lines + restore_script())


def verify_script(site: str, leader: bool, token: str) -> str:
    """The checks p0-rollback makes, typed by hand: reads with wp, requests with curl."""
    get = f"curl -sf -H 'Host: {site}.sandbox.test' -H 'X-MASE-Token: {token}'"
    post = f"{get} -X POST -H 'Content-Type: application/json'"
    api = "http://127.0.0.1/wp-json/mase/v1"
    lines = [
        f"{get} -o /dev/null http://127.0.0.1/wp-login.php",
        f"{get} -o /dev/null http://127.0.0.1/wp-json/",
        f"! grep -q 'PHP Fatal' /var/www/{site}/htdocs/wp-content/debug.log 2>/dev/null",
    ]
    if leader:
        lines += [
            f"{wp_cli(site)} {READ_FLAGS}",
            f"{get} {api}/status",
            f"original=$({get} {api}/settings)",
            f'{post} -d \'{{"menu_background":"#123456"}}\' {api}/settings',
            f"{get} {api}/settings",
            f"{post} {api}/templates/ocean/apply",
            f"{get} {api}/settings",
            f'{post} -d "$original" {api}/settings',
            f"{get} {api}/settings",
        ]
    return "\n".join(lines)


def machine_cpu() -> float:
    """CPU seconds the whole machine has spent (all cores, every process), from /proc/stat."""
    with open("/proc/stat") as stat:
        fields = [int(v) for v in stat.readline().split()[1:]]
    # user nice system idle iowait irq softirq steal: all but idle and iowait
    busy = sum(fields[:3]) + sum(fields[5:8])
    return busy / os.sysconf("SC_CLK_TCK")


def api_token(root: Path) -> str:
    """The sandbox's token for the plugin's settings routes."""
    import yaml

    token = yaml.safe_load((root / "inventory" / "group_vars" / "all.yml").read_text())
    return str(token["mase_api_token"])


def baseline(root: Path, topology, verified: bool = False) -> float:  # type: ignore[no-untyped-def]
    token = api_token(root) if verified else ""
    from runbook.sandbox import fleet

    ssh = fleet.ssh_command(root)

    def one(node) -> None:  # type: ignore[no-untyped-def]
        leader = node == next(n for n in topology.nodes if n.site == node.site)
        # verified: the flags read before the change, the checks after it
        script = manual_script(node.site, leader, read_before=verified)
        if verified:
            script += "\n" + verify_script(node.site, leader, token)
        # The script goes over stdin: no quoting through two shells.
        subprocess.run(
            [*ssh, f"root@{node.ip}", "sh", "-s"],
            input=script,
            text=True,
            check=True,
            capture_output=True,
            timeout=300,
        )

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=len(topology.nodes)) as pool:
        list(pool.map(one, topology.nodes))
    return time.perf_counter() - started


def timed_playbook(root: Path, files: dict[str, str]) -> float:
    """Seconds ansible-playbook takes over the sandbox's inventory with the project's
    ansible.cfg, running the first of `files` (name: text, written to a scratch folder)."""
    project = Path(__file__).resolve().parent.parent
    with tempfile.TemporaryDirectory() as scratch:
        for name, text in files.items():
            (Path(scratch) / name).write_text(text)
        env = {**os.environ, "ANSIBLE_CONFIG": str(project / "ansible.cfg")}
        started = time.perf_counter()
        subprocess.run(
            [
                str(Path(sys.executable).parent / "ansible-playbook"),
                "-i",
                str(root / "inventory" / "hosts.yml"),
                "--forks",
                "50",
                str(Path(scratch) / next(iter(files))),
            ],
            cwd=project,
            env=env,
            check=True,
            capture_output=True,
            timeout=600,
        )
        return time.perf_counter() - started


def ansible_floor(root: Path) -> float:
    """One `ping` per host through ansible-playbook and the project's ansible.cfg."""
    play = "- hosts: all\n  gather_facts: false\n  tasks:\n    - ansible.builtin.ping:\n"
    return timed_playbook(root, {"floor.yml": play})


def fewest_rounds(root: Path, topology, token: str) -> float:  # type: ignore[no-untyped-def]
    """The verified row's work, unchanged, through ansible-playbook and the project's
    ansible.cfg in the fewest module calls a locked rollback allows: one `shell` call on
    each site's first node for the flags (where its lock would be taken), then one per node
    for the restore and its checks, the first nodes last (each would release its site's lock
    once every other node of the site is restored). No runbook, no lock, no record: what
    Ansible itself costs for the hand work."""
    first: dict[str, str] = {}
    for node in topology.nodes:
        first.setdefault(node.site, node.name)
    scripts = {}
    for node in topology.nodes:
        leader = first[node.site] == node.name
        rollback = ["set -e", f"cd /var/www/{node.site}", *restore_script()]
        scripts[node.name] = {
            "flags": "\n".join(["set -e", *flags_script(node.site, read_before=True)]),
            "rollback": "\n".join(rollback) + "\n" + verify_script(node.site, leader, token),
            "first": leader,
        }
    plays = [
        ("the flags on each site's first node", "flags", "bench_scripts[inventory_hostname].first"),
        (
            "restore and check the other nodes",
            "rollback",
            "not bench_scripts[inventory_hostname].first",
        ),
        (
            "restore and check each site's first node",
            "rollback",
            "bench_scripts[inventory_hostname].first",
        ),
    ]
    playbook = [
        {
            "name": name,
            "hosts": "all",
            "gather_facts": False,
            "vars_files": ["scripts.json"],
            "tasks": [
                {
                    "name": name,
                    "ansible.builtin.shell": f"{{{{ bench_scripts[inventory_hostname].{key} }}}}",
                    "when": when,
                }
            ],
        }
        for name, key, when in plays
    ]
    return timed_playbook(
        root,
        {
            "fewest.yml": json.dumps(playbook),
            "scripts.json": json.dumps({"bench_scripts": scripts}),
        },
    )


def runbook_run(root: Path, mitogen: bool = False) -> tuple[float, float]:
    """p0-rollback's wall time, and the controller's CPU seconds for it (runbook, Ansible and
    every process they started: ssh clients included; the nodes' own work is not)."""
    env = {**os.environ, "RUNBOOK_MITOGEN": "1" if mitogen else "0"}
    before = os.times()
    started = time.perf_counter()
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "runbook",
            "p0-rollback",
            "--reason",
            "bench",
            "--yes",
            "--json",
            "-i",
            str(root / "inventory" / "hosts.yml"),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=1800,
        env=env,
    )
    elapsed = time.perf_counter() - started
    after = os.times()
    if proc.returncode != 0:
        raise SystemExit(f"p0-rollback failed ({proc.returncode}): {proc.stderr}\n{proc.stdout}")
    json.loads(proc.stdout)
    cpu = (after.children_user - before.children_user) + (
        after.children_system - before.children_system
    )
    return elapsed, cpu


def versions(root: Path, topology) -> set[str]:  # type: ignore[no-untyped-def]
    found = set()
    for node in topology.nodes:
        text = root / "hosts" / node.name / "wp-content" / "plugins" / "mase" / "mase.php"
        found.add(text.read_text().split("Version:")[1].split()[0])
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="3,10,30")
    parser.add_argument(
        "--repeat",
        type=int,
        default=2,
        help="runs of each row per size, the fastest reported (the first pays cold caches)",
    )
    parser.add_argument(
        "--mitogen", action="store_true", help="p0-rollback again with RUNBOOK_MITOGEN=1"
    )
    args = parser.parse_args()
    from runbook.sandbox import fleet, topology

    rows = []
    fewest_rows = []
    with scratch_sandbox("rbf", "10.213.80.0/24") as parent:
        os.environ["RUNBOOK_STATE_DIR"] = str(parent / "state")
        for size in (int(s) for s in args.sizes.split(",")):
            sites, nodes = LAYOUTS.get(size, (size, 1))
            topo = topology.build(sites, nodes)
            fleet.up(topo)
            root = Path(os.environ["RUNBOOK_SANDBOX_DIR"])
            base = verified = floor = fewest = took = cpu = mito = float("inf")
            verified_all = took_all = float("inf")
            for _ in range(args.repeat):
                fleet.reset()
                base = min(base, baseline(root, topo))
                assert versions(root, topo) == {"2.0.1"}, "the baseline did not roll back"
                fleet.reset()
                spent_before = machine_cpu()
                elapsed = baseline(root, topo, verified=True)
                if elapsed < verified:
                    verified, verified_all = elapsed, machine_cpu() - spent_before
                assert versions(root, topo) == {"2.0.1"}, "the verified baseline did not"
                floor = min(floor, ansible_floor(root))
                fleet.reset()
                fewest = min(fewest, fewest_rounds(root, topo, api_token(root)))
                assert versions(root, topo) == {"2.0.1"}, "the fewest-rounds row did not"
                fleet.reset()
                assert versions(root, topo) == {"2.1.0"}
                spent_before = machine_cpu()
                elapsed, spent = runbook_run(root)
                if elapsed < took:
                    took, cpu, took_all = elapsed, spent, machine_cpu() - spent_before
                assert versions(root, topo) == {"2.0.1"}, "the runbook did not roll back"
                if args.mitogen:
                    fleet.reset()
                    mito = min(mito, runbook_run(root, mitogen=True)[0])
                    assert versions(root, topo) == {"2.0.1"}, "the runbook did not roll back"
            rows.append(
                (len(topo.nodes), base, verified, floor, took, cpu, verified_all, took_all, mito)
            )
            fewest_rows.append((len(topo.nodes), verified, fewest, took))
            fleet.down()
    report(rows, fewest_rows, args.mitogen)


def report(rows: list[Any], fewest_rows: list[Any], mitogen: bool) -> None:
    """The tables and the verdicts."""
    print(
        f"{'hosts':>5} {'baseline s':>10} {'verified s':>10} {'floor s':>8} {'runbook s':>10}"
        f" {'/verified':>9} {'/baseline':>9} {'ctl cpu s/host':>14} {'hosts/min':>9}"
    )
    for hosts, base, verified, floor, took, cpu, *_rest in rows:
        print(
            f"{hosts:>5} {base:>10.2f} {verified:>10.2f} {floor:>8.2f} {took:>10.2f}"
            f" {took / verified:>9.2f} {took / base:>9.2f} {cpu / hosts:>14.3f}"
            f" {60 / (cpu / hosts):>9.0f}"
        )
    print(
        "/verified, /baseline: p0-rollback's time over those rows'; ctl cpu s/host: the\n"
        "controller's CPU seconds per host (runbook, Ansible, ssh); hosts/min: what one\n"
        "controller CPU core sustains at that cost, the nodes doing their own work"
    )
    cores = os.cpu_count() or 1
    print(
        f"\n{'hosts':>5} {'verified cpu s':>14} {'runbook cpu s':>13} {'cpu ratio':>9}"
        f" {'runbook >= s':>12}" + (f" {'mitogen s':>9} {'/verified':>9}" if mitogen else "")
    )
    for hosts, _base, verified, _floor, _took, _cpu, verified_all, took_all, mito in rows:
        print(
            f"{hosts:>5} {verified_all:>14.2f} {took_all:>13.2f} {took_all / verified_all:>9.2f}"
            f" {took_all / cores:>12.2f}"
            + (f" {mito:>9.2f} {mito / verified:>9.2f}" if mitogen else "")
        )
    print(
        f"cpu s: the whole machine's CPU seconds over the run (controller and nodes, which\n"
        f"share its {cores} cores here); runbook >= s: the least wall time that CPU allows\n"
        "on those cores (on a real fleet each node's share runs on the node)"
    )
    print(
        f"\n{'hosts':>5} {'verified s':>10} {'fewest s':>8} {'/verified':>9} {'runbook/fewest':>14}"
    )
    for hosts, verified, fewest, took in fewest_rows:
        print(
            f"{hosts:>5} {verified:>10.2f} {fewest:>8.2f} {fewest / verified:>9.2f}"
            f" {took / fewest:>14.2f}"
        )
    print(
        "fewest: the verified row's own work through Ansible in the fewest module calls a\n"
        "locked rollback allows (see fewest_rounds), without runbook: what Ansible alone adds\n"
        "to the hand work; runbook/fewest: what runbook's locks, reads, checks and record add"
    )
    for hosts, _base, verified, _floor, took, *_rest in rows:
        if hosts in (10, 30):
            met = "met" if took <= 2 * verified else "NOT MET"
            print(f"target p0-rollback <= 2.0x verified by hand at {hosts} hosts: {met}")


if __name__ == "__main__":
    main()
