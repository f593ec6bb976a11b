"""Faults the tests inject into a running sandbox: sshd, link, database, plugin."""

from __future__ import annotations

from runbook.errors import ExitCode, RunbookError
from runbook.paths import sandbox_dir
from runbook.sandbox import database, fleet, host
from runbook.sandbox.system import run
from runbook.sandbox.topology import Node, Site, Topology


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


def apply(fault: str, target: str) -> None:
    topology = _topology()
    root = sandbox_dir()
    if fault.startswith("traffic-"):
        from runbook.sandbox import traffic

        traffic.write(root, _node(topology, target), fault.removeprefix("traffic-"))
        return
    if fault.startswith(("sshd-", "link-", "php-", "nginx-")):
        node = _node(topology, target)
        if fault == "sshd-stop":
            # Killing the listener alone leaves Ansible's persistent sessions up (DESIGN.md).
            host.kill_pids(host.sshd_pids(node))
        elif fault == "sshd-start":
            if not host.pid_alive(root / "hosts" / node.name / "run" / "sshd.pid"):
                host.start_sshd(root, node)
        elif fault == "php-stop":
            pidfile = root / "hosts" / node.name / "run" / "php" / "php-fpm.pid"
            if host.pid_alive(pidfile):
                host.kill_pids([int(pidfile.read_text().strip())])
        elif fault == "php-start":
            if not host.pid_alive(root / "hosts" / node.name / "run" / "php" / "php-fpm.pid"):
                host.start_php_fpm(root, node)
        elif fault == "nginx-stop":
            pidfile = root / "hosts" / node.name / "run" / "nginx.pid"
            if host.pid_alive(pidfile):
                host.kill_pids([int(pidfile.read_text().strip())])
        elif fault == "nginx-start":
            if not host.pid_alive(root / "hosts" / node.name / "run" / "nginx.pid"):
                host.start_nginx(root, node)
        elif fault == "link-cut":
            run(["ip", "link", "set", node.veth_host, "down"])
        else:
            run(["ip", "link", "set", node.veth_host, "up"])
        return
    site = _site(topology, target)
    if fault == "db-stop":
        database.stop(root / "sites" / site.name)
    elif fault == "db-start":
        if not database.is_running(root / "sites" / site.name):
            database.start(root / "sites" / site.name)
    else:
        set_plugin_fault(site, fault.removeprefix("plugin-"))
