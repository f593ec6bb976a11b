"""`runbook deploy` in waves on 10 and 30 hosts against the same work by hand (Linux, root).

Run: .venv/bin/python bench/rollout.py [--sizes 10,30] [--repeat 1]

For each size it builds a throwaway sandbox, makes a 2.1.1 package (a zip, as WordPress ships
plugins), and times, from the same starting state:
  by hand   the deploy as a person types it over plain ssh, wave after wave (1 node, 25%, the
            rest), every node of a wave in parallel: copy the tarball (scp), untar it beside
            the live tree, swap the two with `mv`, reload php-fpm, and curl the login page;
  runbook   `runbook deploy --waves 1,25%,100% --analysis 2s`, with visitors (sandbox
            traffic) for its gates to judge (the package checked, every
            node backed up, the features off, each node's swap verified against its
            manifest and smoke tested, a health gate after each wave, the run records);
and prints the wall time of each (the fastest of --repeat), the runbook's seconds per host and
the ratio runbook / by hand. Both end with every node on 2.1.1; the bench checks that.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tarfile
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from fleet_rollback import LAYOUTS, versions
from scratch import scratch_sandbox

WAVES = "1,25%,100%"


def make_package(folder: Path) -> tuple[Path, Path]:
    """The 2.1.1 plugin as a zip (for runbook) and a tarball (for the person)."""
    from runbook.sandbox import assets

    tree = folder / "mase"
    assets.write_plugin(tree, "2.1.1")
    zipped = folder / "mase-2.1.1.zip"
    with zipfile.ZipFile(zipped, "w", zipfile.ZIP_DEFLATED) as bundle:
        for path in sorted(tree.rglob("*")):
            bundle.write(path, path.relative_to(folder).as_posix())
    tarball = folder / "mase-2.1.1.tar.gz"
    with tarfile.open(tarball, "w:gz") as tar:
        tar.add(tree, arcname="mase")
    return zipped, tarball


def by_hand(root: Path, topology, tarball: Path) -> float:  # type: ignore[no-untyped-def]
    from runbook.rollout.waves import targets
    from runbook.sandbox import fleet

    ssh = fleet.ssh_command(root)
    scp = ["scp", *ssh[1:]]
    nodes = sorted(topology.nodes, key=lambda n: (n.site, n.name))

    def one(node) -> None:  # type: ignore[no-untyped-def]
        plugins = f"/var/www/{node.site}/htdocs/wp-content/plugins"
        subprocess.run(
            [*scp, "-q", str(tarball), f"root@{node.ip}:/tmp/mase-2.1.1.tar.gz"],
            check=True,
            capture_output=True,
            timeout=300,
        )
        script = "\n".join(
            [
                "set -e",
                f"rm -rf {plugins}/.new && mkdir {plugins}/.new",
                f"tar -xzf /tmp/mase-2.1.1.tar.gz -C {plugins}/.new",
                f"mv {plugins}/mase {plugins}/.old-mase && mv {plugins}/.new/mase {plugins}/mase",
                f"rm -rf {plugins}/.old-mase {plugins}/.new",
                "pkill -USR2 -F /run/php/php-fpm.pid",
                f"curl -sf -o /dev/null -H 'Host: {node.site}.sandbox.test' "
                "http://127.0.0.1/wp-login.php",
            ]
        )
        subprocess.run(
            [*ssh, f"root@{node.ip}", "sh", "-s"],
            input=script,
            text=True,
            check=True,
            capture_output=True,
            timeout=300,
        )

    started = time.perf_counter()
    done = 0
    for upto in targets(WAVES, len(nodes)):
        wave = nodes[done:upto]
        with ThreadPoolExecutor(max_workers=len(wave)) as pool:
            list(pool.map(one, wave))
        done = upto
    return time.perf_counter() - started


def runbook_deploy(root: Path, package: Path, sites: list[str]) -> float:
    """The deploy, with visitors (sandbox traffic) so that each wave's gate has requests to
    judge: without any, a gate is inconclusive and the deploy pauses, as it should."""
    import threading

    from runbook.sandbox import load

    stop = threading.Event()
    visitors = threading.Thread(
        target=load.send,
        args=(sites, load.Load(rate=30, seconds=600, users=1000)),
        kwargs={"stop": stop},
    )
    visitors.start()
    try:
        return _deploy(root, package)
    finally:
        stop.set()
        visitors.join(timeout=60)


def _deploy(root: Path, package: Path) -> float:
    started = time.perf_counter()
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "runbook",
            "deploy",
            "--package",
            str(package),
            "--version",
            "2.1.1",
            "--waves",
            WAVES,
            "--analysis",
            "2s",
            "--min-samples",
            "3",
            # The figures in the README were taken before the visual check existed; it adds
            # a headless Chromium shot per key page and node (about a second each).
            "--visual",
            "off",
            "--reason",
            "bench",
            "-i",
            str(root / "inventory" / "hosts.yml"),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=3600,
    )
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"deploy failed ({proc.returncode}): {proc.stderr[-3000:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10,30")
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    from runbook.sandbox import fleet, topology

    rows = []
    with scratch_sandbox("rbr", "10.213.84.0/24") as parent:
        zipped, tarball = make_package(parent)
        for size in (int(s) for s in args.sizes.split(",")):
            sites, nodes = LAYOUTS.get(size, (size, 1))
            topo = topology.build(sites, nodes)
            fleet.up(topo)
            root = Path(os.environ["RUNBOOK_SANDBOX_DIR"])
            hand = took = float("inf")
            for attempt in range(args.repeat):
                fleet.reset()
                hand = min(hand, by_hand(root, topo, tarball))
                assert versions(root, topo) == {"2.1.1"}, "the deploy by hand did not"
                fleet.reset()
                os.environ["RUNBOOK_STATE_DIR"] = str(parent / f"state-{size}-{attempt}")
                took = min(took, runbook_deploy(root, zipped, [s.name for s in topo.sites]))
                assert versions(root, topo) == {"2.1.1"}, "runbook deploy did not"
            rows.append((len(topo.nodes), hand, took))
            fleet.down()
    print(f"{'hosts':>5} {'by hand s':>10} {'runbook s':>10} {'s/host':>7} {'ratio':>6}")
    for hosts, hand, took in rows:
        print(f"{hosts:>5} {hand:>10.2f} {took:>10.2f} {took / hosts:>7.3f} {took / hand:>6.2f}")
    print(f"waves {WAVES}; ratio: runbook / by hand")


if __name__ == "__main__":
    main()
