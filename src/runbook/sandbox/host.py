"""One sandbox host: a network, mount and UTS namespace with its own sshd, nginx and php-fpm."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import time
from dataclasses import dataclass
from pathlib import Path

from runbook.sandbox import configs
from runbook.sandbox.system import php_fpm_binary, php_ini, process_alive, run
from runbook.sandbox.topology import Node, Topology, prefix


def bridge() -> str:
    return f"{prefix()}-br0"


@dataclass(frozen=True)
class HostPaths:
    """A host's private trees in the sandbox directory, and where they appear on the host."""

    root: Path

    @property
    def etc(self) -> Path:
        return self.root / "etc"

    @property
    def run(self) -> Path:
        return self.root / "run"

    @property
    def log(self) -> Path:
        return self.root / "log"

    @property
    def www(self) -> Path:
        return self.root / "www"

    @property
    def wp_content(self) -> Path:
        return self.root / "wp-content"


def ns_files(sandbox: Path, node: Node) -> tuple[Path, Path]:
    return sandbox / "ns" / f"{node.name}.mnt", sandbox / "ns" / f"{node.name}.uts"


def nsenter(sandbox: Path, node: Node) -> list[str]:
    """The argv prefix that runs a command on `node`, as its sshd would."""
    mnt, uts = ns_files(sandbox, node)
    return [
        "nsenter",
        f"--net=/run/netns/{node.netns}",
        f"--mount={mnt}",
        f"--uts={uts}",
        "--",
    ]


def create_bridge(topology: Topology) -> None:
    run(["ip", "link", "add", bridge(), "type", "bridge"])
    run(["ip", "addr", "add", f"{topology.gateway}/{topology.prefixlen}", "dev", bridge()])
    run(["ip", "link", "set", bridge(), "up"])
    # quickack on the fleet route: no delayed ACKs on SSH's small round trips (DESIGN.md).
    run(
        [
            "ip",
            "route",
            "replace",
            topology.subnet,
            "dev",
            bridge(),
            "src",
            topology.gateway,
            "quickack",
            "1",
        ]
    )


def prepare_ns_dir(sandbox: Path) -> None:
    """Persistent mount/UTS namespaces are bind mounts of nsfs files in a private folder."""
    ns = sandbox / "ns"
    ns.mkdir(parents=True, exist_ok=True)
    run(["mount", "--bind", ns, ns])
    run(["mount", "--make-private", ns])


def write_tree(
    sandbox: Path,
    node: Node,
    topology: Topology,
    wp_config: str,
    plugin_src: Path,
    backups_src: Path,
    authorized_key: str,
) -> HostPaths:
    """Lay out the host's private files: configs, logs, home, web root, plugin and backups."""
    paths = HostPaths(sandbox / "hosts" / node.name)
    site = node.site
    for d in (
        paths.etc,
        paths.run / "php",
        paths.run / "sshd",
        paths.run / "nginx",
        paths.log / "nginx",
        paths.log / "php",
        paths.root / "home" / ".ssh",
        paths.root / "tmp",
        paths.www / site / "htdocs",
        paths.www / site / "javascript",
        paths.www / site / "backups",
        paths.wp_content / "plugins",
        paths.wp_content / "themes",
        paths.wp_content / "uploads",
    ):
        d.mkdir(parents=True, exist_ok=True)
    (paths.root / "tmp").chmod(0o1777)
    (paths.root / "home").chmod(0o700)
    (paths.root / "home" / ".ssh").chmod(0o700)
    keys = paths.root / "home" / ".ssh" / "authorized_keys"
    keys.write_text(authorized_key)
    keys.chmod(0o600)
    # A clean home: root's shell start-up on these machines costs ~100 ms per SSH command.
    (paths.root / "home" / ".profile").write_text("")
    (paths.root / "home" / ".bashrc").write_text("")
    (paths.etc / "hosts").write_text(configs.etc_hosts(node, topology))
    (paths.etc / "resolv.conf").write_text(
        "# the sandbox has no DNS server\noptions timeout:1 attempts:1\n"
    )
    (paths.etc / "sshd_config").write_text(configs.sshd_config(node, paths.etc))
    (paths.etc / "nginx.conf").write_text(configs.nginx_conf(node, site))
    (paths.etc / "php-fpm.conf").write_text(configs.php_fpm_conf())
    (paths.root / "wp-config.php").write_text(wp_config)
    (paths.root / "wp-config.php").chmod(0o640)
    shutil.chown(paths.root / "wp-config.php", "root", "www-data")
    run(
        [
            "ssh-keygen",
            "-q",
            "-t",
            "ed25519",
            "-N",
            "",
            "-C",
            node.name,
            "-f",
            paths.etc / "ssh_host_ed25519_key",
        ]
    )
    shutil.copytree(plugin_src, paths.wp_content / "plugins" / "mase")
    for backup in sorted(backups_src.iterdir()):
        shutil.copy2(backup, paths.www / site / "backups" / backup.name)
    for log in (paths.wp_content / "debug.log", paths.log / "php" / "error.log"):
        log.touch()
        shutil.chown(log, "www-data", "www-data")
        log.chmod(0o664)
    for d in (paths.wp_content / "uploads", paths.log / "php"):
        shutil.chown(d, "www-data", "www-data")
    return paths


def create_namespaces(sandbox: Path, node: Node, topology: Topology, paths: HostPaths) -> None:
    """The network namespace on the bridge, then the mount/UTS namespaces with the host's binds."""
    run(["ip", "netns", "add", node.netns])
    peer = f"{prefix()}p{node.index}"
    run(["ip", "link", "add", node.veth_host, "type", "veth", "peer", "name", peer])
    run(["ip", "link", "set", peer, "netns", node.netns])
    run(["ip", "link", "set", node.veth_host, "master", bridge(), "up"])
    inside = ["ip", "netns", "exec", node.netns]
    run([*inside, "ip", "link", "set", peer, "name", "eth0"])
    run([*inside, "ip", "addr", "add", f"{node.ip}/{topology.prefixlen}", "dev", "eth0"])
    run([*inside, "ip", "link", "set", "lo", "up"])
    run([*inside, "ip", "link", "set", "eth0", "up"])
    run(
        [
            *inside,
            "ip",
            "route",
            "replace",
            topology.subnet,
            "dev",
            "eth0",
            "src",
            node.ip,
            "quickack",
            "1",
        ]
    )
    mnt, uts = ns_files(sandbox, node)
    mnt.touch()
    uts.touch()
    site = node.site
    docroot = f"/var/www/{site}/htdocs"
    binds = [
        (paths.www, "/var/www"),
        ("/usr/share/wordpress", docroot),
        # Debian's WordPress links its JavaScript libraries (underscore, jQuery plugins) as
        # ../../../javascript/...: beside the docroot, as /usr/share/javascript is beside
        # /usr/share/wordpress, or the login page's scripts fail in the browser.
        ("/usr/share/javascript", f"/var/www/{site}/javascript"),
        (paths.wp_content, f"{docroot}/wp-content"),
        (paths.root / "wp-config.php", f"{docroot}/wp-config.php"),
        (paths.log, "/var/log"),
        (paths.run, "/run"),
        (paths.root / "home", "/root"),
        (paths.root / "tmp", "/tmp"),
        (paths.etc / "hosts", "/etc/hosts"),
        (paths.etc / "resolv.conf", "/etc/resolv.conf"),
        (sandbox / "bin", "/usr/local/bin"),
    ]
    script = [f"hostname {node.name}"]
    for src, dst in binds:
        script.append(f"mount --bind '{src}' '{dst}'")
        if dst == docroot or dst.endswith("/javascript"):
            # WordPress core is shared by every host: read-only, with wp-content on top.
            script.append(f"mount -o remount,bind,ro '{dst}'")
    run(
        [
            "unshare",
            f"--mount={mnt}",
            f"--uts={uts}",
            "--propagation",
            "private",
            "/bin/sh",
            "-ec",
            "\n".join(script),
        ]
    )


def start_services(sandbox: Path, node: Node, paths: HostPaths) -> None:
    enter = nsenter(sandbox, node)
    run([*enter, "/usr/sbin/sshd", "-f", paths.etc / "sshd_config"])
    run([*enter, php_fpm_binary(), "-y", paths.etc / "php-fpm.conf", "-c", php_ini()])
    run([*enter, "/usr/sbin/nginx", "-c", paths.etc / "nginx.conf"])


def start_php_fpm(sandbox: Path, node: Node) -> None:
    paths = HostPaths(sandbox / "hosts" / node.name)
    run(
        [
            *nsenter(sandbox, node),
            php_fpm_binary(),
            "-y",
            paths.etc / "php-fpm.conf",
            "-c",
            php_ini(),
        ]
    )


def start_nginx(sandbox: Path, node: Node) -> None:
    paths = HostPaths(sandbox / "hosts" / node.name)
    run([*nsenter(sandbox, node), "/usr/sbin/nginx", "-c", paths.etc / "nginx.conf"])


def start_sshd(sandbox: Path, node: Node) -> None:
    paths = HostPaths(sandbox / "hosts" / node.name)
    run([*nsenter(sandbox, node), "/usr/sbin/sshd", "-f", paths.etc / "sshd_config"])


def netns_pids(netns: str) -> list[int]:
    proc = run(["ip", "netns", "pids", netns], check=False)
    return [int(p) for p in proc.stdout.split() if p.isdigit()]


def kill_pids(pids: list[int], timeout: float = 5) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    alive = list(pids)
    while alive and time.monotonic() < deadline:
        alive = [p for p in alive if process_alive(p)]
        if alive:
            time.sleep(0.05)
    for pid in alive:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def pid_alive(pidfile: Path) -> bool:
    try:
        return process_alive(int(pidfile.read_text().strip()))
    except (OSError, ValueError):
        return False


def sshd_pids(node: Node) -> list[int]:
    """Every sshd of the host: the listener and the per-connection session processes."""
    pids = []
    for pid in netns_pids(node.netns):
        try:
            comm = Path(f"/proc/{pid}/comm").read_text().strip()
        except OSError:
            continue
        if comm == "sshd":
            pids.append(pid)
    return pids
