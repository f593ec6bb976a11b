"""Faults for tests and drills, in one table: each with its target kind, what it does, how it
is applied and which fault undoes it. The CLI, the tests and the README all read FAULTS."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from runbook.errors import ExitCode, RunbookError
from runbook.paths import sandbox_dir
from runbook.sandbox import database, fleet, host
from runbook.sandbox.system import run
from runbook.sandbox.topology import Node, Site, Topology


@dataclass(frozen=True)
class Fault:
    name: str
    #: What TARGET names: a host (a node) or a site.
    target: str
    help: str
    #: The fault that clears this one (None: it needs none, or it is itself an undo).
    undo: str | None
    apply: Callable[[Path, Node | Site], None]


def _topology() -> Topology:
    state = fleet.load_state()
    if not state or not state.get("complete"):
        raise RunbookError("the sandbox is not up: run `runbook sandbox up`", ExitCode.ENVIRONMENT)
    return fleet.topology_of(state)


def _node(topology: Topology, name: str) -> Node:
    for node in topology.nodes:
        if node.name == name:
            return node
    raise RunbookError(
        f"no sandbox host {name!r}; hosts: {', '.join(n.name for n in topology.nodes)}"
    )


def _site(topology: Topology, name: str) -> Site:
    for site in topology.sites:
        if site.name == name:
            return site
    raise RunbookError(
        f"no sandbox site {name!r}; sites: {', '.join(s.name for s in topology.sites)}"
    )


def set_plugin_fault(site: Site, mode: str) -> None:
    """mase_sandbox_fault in the site's database, written through wp on its first node."""
    root = sandbox_dir()
    node = site.nodes[0]
    run(
        [
            *host.nsenter(root, node),
            "/usr/local/bin/wp",
            "option",
            "update",
            "mase_sandbox_fault",
            mode,
            f"--path=/var/www/{site.name}/htdocs",
            "--skip-plugins=mase",
            "--skip-themes",
            "--allow-root",
        ]
    )


def _pidfile(root: Path, node: Node, service: str) -> Path:
    run_dir = root / "hosts" / node.name / "run"
    return {
        "sshd": run_dir / "sshd.pid",
        "php": run_dir / "php" / "php-fpm.pid",
        "nginx": run_dir / "nginx.pid",
    }[service]


def _stop(service: str) -> Callable[[Path, Node | Site], None]:
    def apply(root: Path, node: Node | Site) -> None:
        assert isinstance(node, Node)
        if service == "sshd":
            # Killing the listener alone leaves Ansible's persistent sessions up (DESIGN.md).
            host.kill_pids(host.sshd_pids(node))
            return
        pidfile = _pidfile(root, node, service)
        if host.pid_alive(pidfile):
            host.kill_pids([int(pidfile.read_text().strip())])

    return apply


def _start(service: str) -> Callable[[Path, Node | Site], None]:
    starters = {"sshd": host.start_sshd, "php": host.start_php_fpm, "nginx": host.start_nginx}

    def apply(root: Path, node: Node | Site) -> None:
        assert isinstance(node, Node)
        if not host.pid_alive(_pidfile(root, node, service)):
            starters[service](root, node)

    return apply


def _link(state: str) -> Callable[[Path, Node | Site], None]:
    def apply(root: Path, node: Node | Site) -> None:
        assert isinstance(node, Node)
        run(["ip", "link", "set", node.veth_host, state])

    return apply


def _traffic(kind: str) -> Callable[[Path, Node | Site], None]:
    def apply(root: Path, node: Node | Site) -> None:
        from runbook.sandbox import traffic

        assert isinstance(node, Node)
        traffic.write(root, node, kind)

    return apply


def _db_stop(root: Path, site: Node | Site) -> None:
    database.stop(root / "sites" / site.name)


def _db_start(root: Path, site: Node | Site) -> None:
    if not database.is_running(root / "sites" / site.name):
        database.start(root / "sites" / site.name)


def _plugin(mode: str) -> Callable[[Path, Node | Site], None]:
    def apply(root: Path, site: Node | Site) -> None:
        assert isinstance(site, Site)
        set_plugin_fault(site, mode)

    return apply


FAULTS: dict[str, Fault] = {
    f.name: f
    for f in (
        Fault(
            "sshd-stop",
            "host",
            "stop the host's sshd and its sessions",
            "sshd-start",
            _stop("sshd"),
        ),
        Fault("sshd-start", "host", "start the host's sshd", None, _start("sshd")),
        Fault(
            "link-cut", "host", "take the host's network link down", "link-restore", _link("down")
        ),
        Fault("link-restore", "host", "bring the host's network link up", None, _link("up")),
        Fault(
            "php-stop",
            "host",
            "stop the host's php-fpm (the site answers 502)",
            "php-start",
            _stop("php"),
        ),
        Fault("php-start", "host", "start the host's php-fpm", None, _start("php")),
        Fault(
            "nginx-stop",
            "host",
            "stop the host's nginx (the site does not answer)",
            "nginx-start",
            _stop("nginx"),
        ),
        Fault("nginx-start", "host", "start the host's nginx", None, _start("nginx")),
        Fault(
            "traffic-red",
            "host",
            "a minute of bad traffic in the logs: fatals, 5xx, slow API",
            None,
            _traffic("red"),
        ),
        Fault(
            "traffic-green",
            "host",
            "a minute of fast, clean traffic in the host's logs",
            None,
            _traffic("green"),
        ),
        Fault("db-stop", "site", "stop the site's MariaDB", "db-start", _db_stop),
        Fault("db-start", "site", "start the site's MariaDB", None, _db_start),
        Fault(
            "plugin-rest",
            "site",
            "mase 2.1.0 logs warnings and fatals on its REST routes",
            "plugin-off",
            _plugin("rest"),
        ),
        Fault(
            "plugin-load",
            "site",
            "mase 2.1.0 dies while loading (wp-admin crashes)",
            "plugin-off",
            _plugin("load"),
        ),
        Fault(
            "plugin-frontend",
            "site",
            "mase 2.1.0's front-end script throws in the browser (nothing in the logs)",
            "plugin-off",
            _plugin("frontend"),
        ),
        Fault("plugin-off", "site", "no plugin fault", None, _plugin("off")),
    )
}


def describe() -> str:
    """The table as the CLI's help shows it: one line per fault."""
    width = max(len(n) for n in FAULTS) + 2
    return "\n".join(
        f"{f.name:<{width}}{f.target:<6}{f.help}" + (f" (undo: {f.undo})" if f.undo else "")
        for f in FAULTS.values()
    )


def apply(name: str, target: str) -> None:
    """Apply one fault to a host or a site of the running sandbox."""
    fault = FAULTS.get(name)
    if fault is None:
        raise RunbookError(f"no fault {name!r}; faults: {', '.join(FAULTS)}")
    topology = _topology()
    where: Node | Site = (
        _node(topology, target) if fault.target == "host" else _site(topology, target)
    )
    fault.apply(sandbox_dir(), where)
