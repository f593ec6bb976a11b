"""`runbook sandbox up|down|status`: a real fleet of WordPress hosts on one machine."""

from __future__ import annotations

import json
import os
import shutil
import socket
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import yaml

from runbook.errors import ExitCode, RunbookError
from runbook.paths import sandbox_dir
from runbook.sandbox import assets, configs, database, host, inventory_path
from runbook.sandbox.system import ensure_packages, require_linux_root, run
from runbook.sandbox.topology import Node, Topology, from_dict, prefix

Say = Callable[[str], None]

STATE_FILE = "state.json"
#: `down` deletes the sandbox directory only when it finds this marker in it.
MARKER = ".runbook-sandbox"


def _quiet(_: str) -> None:
    pass


def load_state(root: Path | None = None) -> dict[str, Any] | None:
    root = root or sandbox_dir()
    try:
        data: dict[str, Any] = json.loads((root / STATE_FILE).read_text())
    except (OSError, ValueError):
        return None
    return data


def topology_of(state: dict[str, Any]) -> Topology:
    return from_dict(state["topology"])


def up(topology: Topology, say: Say = _quiet, wp_cli_bin: str | None = None) -> dict[str, Any]:
    """Build the fleet; a sandbox left half-built by a killed run is torn down first."""
    require_linux_root()
    root = sandbox_dir()
    state = load_state(root)
    if state and state.get("complete"):
        problems = check(root, state)
        other_wp = _other_wp_cli(root, wp_cli_bin)
        if other_wp:
            say(other_wp)
        elif not problems and topology_of(state).to_dict() == topology.to_dict():
            # Rewritten all the same: a newer runbook may set more inventory variables.
            creds = json.loads((root / "inventory" / "credentials.json").read_text())
            _write_inventory(root, topology, creds)
            say(f"the sandbox is already up ({len(topology.nodes)} hosts)")
            return state
        else:
            say("the sandbox is up with another shape or is unhealthy: rebuilding it")
    if state or _leftovers(root):
        say("removing what a previous sandbox left behind")
        down(say=say)
    installing = time.monotonic()
    installed = ensure_packages(say)
    install_seconds = round(time.monotonic() - installing, 2) if installed else 0.0
    _check_reachable_by_services(root)
    started = time.monotonic()
    for sub in ("ssh", "inventory", "bin", "sites", "hosts", "cache"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    root.chmod(0o755)
    (root / MARKER).write_text("made by `runbook sandbox up`; `runbook sandbox down` deletes it\n")
    # Written first, so that `down` can find everything even if this run is killed.
    (root / STATE_FILE).write_text(json.dumps({"topology": topology.to_dict(), "complete": False}))
    host.prepare_ns_dir(root)
    key = root / "ssh" / "id_ed25519"
    run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "runbook-sandbox", "-f", key])
    authorized = (root / "ssh" / "id_ed25519.pub").read_text()
    _install_wp(root, wp_cli_bin)
    phases: dict[str, float] = {}
    mark = time.monotonic()

    def phase(name: str) -> None:
        nonlocal mark
        now = time.monotonic()
        phases[name] = round(now - mark, 3)
        mark = now

    phase("prepare")
    say("installing WordPress into the template database")
    creds = database.build_template(root / "cache" / "template")
    plugin_src = root / "cache" / "plugin"
    assets.write_plugin(plugin_src, assets.INSTALLED_VERSION)
    backups_src = root / "cache" / "backups"
    assets.write_backups(backups_src)
    host.create_bridge(topology)
    phase("template")

    say(f"starting {len(topology.sites)} site databases")
    for site in topology.sites:
        database.prepare_site(
            root / "cache" / "template",
            root / "sites" / site.name,
            topology.gateway,
            site.db_port,
        )
    with ThreadPoolExecutor(max_workers=min(8, len(topology.sites))) as pool:
        list(pool.map(lambda s: database.start(root / "sites" / s.name), topology.sites))
    phase("databases")

    say(f"starting {len(topology.nodes)} hosts")
    wp_configs = {
        s.name: configs.wp_config(s, topology, creds["db_password"]) for s in topology.sites
    }

    def build_node(node: Node) -> None:
        paths = host.write_tree(
            root, node, topology, wp_configs[node.site], plugin_src, backups_src, authorized
        )
        host.create_namespaces(root, node, topology, paths)
        host.start_services(root, node, paths)

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(build_node, topology.nodes))
    phase("hosts")

    known = ""
    for n in topology.nodes:
        pub = (root / "hosts" / n.name / "etc" / "ssh_host_ed25519_key.pub").read_text()
        kind, host_key = pub.split()[:2]
        known += f"{n.ip} {kind} {host_key}\n"
    (root / "ssh" / "known_hosts").write_text(known)
    _write_inventory(root, topology, creds)
    _wait_for_ssh(topology)
    phase("ssh")
    state = {
        "topology": topology.to_dict(),
        "complete": True,
        "built_in_seconds": round(time.monotonic() - started, 2),
        "packages_installed": installed,
        "install_seconds": install_seconds,
        "phases_seconds": phases,
        "inventory": str(inventory_path(root)),
    }
    (root / STATE_FILE).write_text(json.dumps(state, indent=2))
    # The package install, when there was one, is said apart: it is most of a first build.
    installs = (
        f" after installing {len(installed)} Debian packages in {install_seconds} s"
        if installed
        else ""
    )
    say(
        f"sandbox up: {len(topology.nodes)} hosts in {len(topology.sites)} sites "
        f"in {state['built_in_seconds']} s{installs}; inventory {inventory_path(root)}"
    )
    return state


def _check_reachable_by_services(root: Path) -> None:
    """MariaDB runs as `mysql` and reads its datadir under the sandbox directory."""
    for parent in root.resolve().parents:
        if parent.exists() and not parent.stat().st_mode & 0o001:
            raise RunbookError(
                f"sandbox: {parent} is not searchable by other users, so MariaDB (user mysql) "
                f"cannot reach {root}; choose another RUNBOOK_SANDBOX_DIR or `chmod o+x {parent}`",
                ExitCode.ENVIRONMENT,
            )


def _wanted_wp_cli(wp_cli_bin: str | None) -> Path:
    real = wp_cli_bin or os.environ.get("WP_CLI_BIN")
    if real and not Path(real).is_file():
        raise RunbookError(f"WP_CLI_BIN={real}: no such file", ExitCode.USAGE)
    return Path(real) if real else assets.wp_entry_point()


def _other_wp_cli(root: Path, wp_cli_bin: str | None) -> str | None:
    """Why the running sandbox must be rebuilt for the WP-CLI asked for, or None: its hosts
    run another `wp` (a real one asked for the stand-in, or the other way, or another file)."""
    wanted = _wanted_wp_cli(wp_cli_bin)
    try:
        same = (root / "bin" / "wp").read_bytes() == wanted.read_bytes()
    except OSError:
        same = False
    if same:
        return None
    asked = "the stand-in" if wanted == assets.wp_entry_point() else str(wanted)
    return f"the sandbox's hosts run another WP-CLI than {asked} (WP_CLI_BIN): rebuilding it"


def _install_wp(root: Path, wp_cli_bin: str | None) -> None:
    """`wp` on every host: the real WP-CLI when one is given, else the compatible entry point."""
    target = root / "bin" / "wp"
    shutil.copy2(_wanted_wp_cli(wp_cli_bin), target)
    target.chmod(0o755)


def ssh_command(root: Path) -> list[str]:
    """Plain `ssh` to a sandbox node with the sandbox's key, host keys checked, never a prompt
    (append `root@IP` and the command)."""
    return [
        "ssh",
        "-i",
        str(root / "ssh" / "id_ed25519"),
        "-o",
        "BatchMode=yes",
        "-o",
        f"UserKnownHostsFile={root / 'ssh' / 'known_hosts'}",
        "-o",
        "StrictHostKeyChecking=yes",
    ]


def _write_inventory(root: Path, topology: Topology, creds: dict[str, str]) -> None:
    ssh_args = " ".join(
        [
            f"-o UserKnownHostsFile={root / 'ssh' / 'known_hosts'}",
            "-o StrictHostKeyChecking=yes",
            "-o IdentitiesOnly=yes",
            "-o KexAlgorithms=curve25519-sha256,curve25519-sha256@libssh.org",
            "-o ServerAliveInterval=5",
            "-o ServerAliveCountMax=3",
        ]
    )
    inventory: dict[str, Any] = {
        "all": {
            "vars": {
                "ansible_user": "root",
                "ansible_python_interpreter": "/usr/bin/python3",
                "ansible_ssh_private_key_file": str(root / "ssh" / "id_ed25519"),
                "ansible_ssh_common_args": ssh_args,
                "ansible_ssh_timeout": 10,
                "runbook_sandbox": True,
                # Deliberate: the sandbox's sites run as root (wp-cli-contract.md, "Habits").
                "wp_allow_root": True,
                "wp_path": "/var/www/{{ site }}/htdocs",
                "wp_url": "http://{{ site }}.sandbox.test",
                "mase_backup_dir": "/var/www/{{ site }}/backups",
                # On the node's own disk (/var/lib is shared by the sandbox's hosts).
                "runbook_lock_dir": "/var/www/{{ site }}/locks",
                # No init system in the namespaces: php-fpm reloads (OPcache reset) by signal.
                "php_fpm_reload_argv": ["pkill", "-USR2", "-F", "/run/php/php-fpm.pid"],
                # PHP-FPM's own log (the pool's master writes it there in the sandbox).
                "php_fpm_log": "/var/log/php-fpm.log",
            },
            "children": {
                site.name: {
                    "vars": {"site": site.name},
                    "hosts": {n.name: {"ansible_host": n.ip} for n in site.nodes},
                }
                for site in topology.sites
            },
        }
    }
    path = inventory_path(root)
    path.write_text(
        "# Written by `runbook sandbox up`; rewritten on every build.\n"
        + yaml.safe_dump(inventory, sort_keys=False)
    )
    secrets_file = root / "inventory" / "credentials.json"
    secrets_file.write_text(json.dumps(creds))
    secrets_file.chmod(0o600)
    # The plugin's API token, for the smoke test; a real inventory keeps it in a vault.
    group_vars = root / "inventory" / "group_vars"
    group_vars.mkdir(exist_ok=True)
    token_file = group_vars / "all.yml"
    token_file.touch(mode=0o600)
    token_file.write_text(yaml.safe_dump({"mase_api_token": creds["mase_api_token"]}))


def _wait_for_ssh(topology: Topology, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    pending = list(topology.nodes)
    while pending and time.monotonic() < deadline:
        still = []
        for node in pending:
            try:
                with socket.create_connection((node.ip, 22), timeout=1) as s:
                    if not s.recv(64).startswith(b"SSH-"):
                        still.append(node)
            except OSError:
                still.append(node)
        pending = still
        if pending:
            time.sleep(0.1)
    if pending:
        raise RunbookError(
            "sandbox: sshd does not answer on " + ", ".join(f"{n.name} ({n.ip})" for n in pending),
            ExitCode.ENVIRONMENT,
        )


def check(root: Path, state: dict[str, Any]) -> list[str]:
    """What is wrong with a running sandbox, one line per problem (empty: healthy)."""
    problems = []
    topology = topology_of(state)
    for site in topology.sites:
        if not database.is_running(root / "sites" / site.name):
            problems.append(f"site {site.name}: database is not running")
    for node in topology.nodes:
        run_dir = root / "hosts" / node.name / "run"
        if not Path(f"/run/netns/{node.netns}").exists():
            problems.append(f"{node.name}: network namespace {node.netns} is missing")
            continue
        for name, pidfile in (
            ("sshd", "sshd.pid"),
            ("nginx", "nginx.pid"),
            ("php-fpm", "php/php-fpm.pid"),
        ):
            if not host.pid_alive(run_dir / pidfile):
                problems.append(f"{node.name}: {name} is not running")
    return problems


def status() -> dict[str, Any]:
    root = sandbox_dir()
    state = load_state(root)
    if not state:
        return {"up": False, "leftovers": _leftovers(root)}
    topology = topology_of(state)
    problems = check(root, state)
    hosts = []
    for node in topology.nodes:
        run_dir = root / "hosts" / node.name / "run"
        link = run(["ip", "link", "show", node.veth_host], check=False).stdout
        hosts.append(
            {
                "host": node.name,
                "site": node.site,
                "address": node.ip,
                "link": "up" if "state UP" in link or ",UP" in link else "down",
                "sshd": host.pid_alive(run_dir / "sshd.pid"),
                "nginx": host.pid_alive(run_dir / "nginx.pid"),
                "php_fpm": host.pid_alive(run_dir / "php" / "php-fpm.pid"),
                "database": database.is_running(root / "sites" / node.site),
            }
        )
    return {
        "up": bool(state.get("complete")),
        "complete": bool(state.get("complete")),
        "inventory": str(inventory_path(root)),
        "hosts": hosts,
        "problems": problems,
    }


def reset(say: Say = _quiet) -> None:
    """Put every site back as `up` built it: plugin 2.1.0, the original backups and options,
    empty logs.

    For drills and tests that roll the fleet back again and again.
    """
    require_linux_root()
    root = sandbox_dir()
    state = load_state(root)
    if not state or not state.get("complete"):
        raise RunbookError("the sandbox is not up: run `runbook sandbox up`", ExitCode.ENVIRONMENT)
    topology = topology_of(state)
    for node in topology.nodes:
        tree = root / "hosts" / node.name
        plugins = tree / "wp-content" / "plugins"
        for entry in plugins.iterdir():
            if entry.name == "mase" or entry.name.startswith(".mase-"):
                shutil.rmtree(entry)
        shutil.rmtree(tree / "wp-content" / ".runbook", ignore_errors=True)
        shutil.copytree(root / "cache" / "plugin", plugins / "mase")
        site_dir = tree / "www" / node.site
        for sub in ("backups", "locks"):
            shutil.rmtree(site_dir / sub, ignore_errors=True)
        shutil.copytree(root / "cache" / "backups", site_dir / "backups")
        # Empty logs: a drill's health verdicts start from nothing.
        for log in (
            tree / "wp-content" / "debug.log",
            tree / "log" / "php" / "error.log",
            tree / "log" / "nginx" / "error.log",
            tree / "log" / "nginx" / "access.log",
        ):
            if log.exists():
                with open(log, "r+b") as handle:
                    handle.truncate(0)
    options = {
        "mase_feature_flags": assets.FEATURE_FLAGS,
        "mase_feature_rollout_percentages": assets.ROLLOUT_PERCENTAGES,
        "mase_settings": assets.DEFAULT_SETTINGS,
        "mase_sandbox_fault": "off",
    }
    _services_up(root, topology)
    for site in topology.sites:
        node = site.nodes[0]
        for name, value in options.items():
            _with_database(
                [
                    *host.nsenter(root, node),
                    "/usr/local/bin/wp",
                    "option",
                    "update",
                    name,
                    json.dumps(value),
                    "--format=json",
                    f"--path=/var/www/{site.name}/htdocs",
                    "--skip-plugins=mase",
                    "--skip-themes",
                    "--allow-root",
                ]
            )
    say(f"sandbox reset: {len(topology.nodes)} hosts back on mase {assets.INSTALLED_VERSION}")


def _services_up(root: Path, topology: Topology) -> None:
    """Every link up and every service running, as `up` left them: a drill or a test that
    stopped one (or died before its undo) does not leave the next one a broken fleet."""
    for node in topology.nodes:
        run(["ip", "link", "set", node.veth_host, "up"], check=False)
        run_dir = root / "hosts" / node.name / "run"
        if not host.pid_alive(run_dir / "sshd.pid"):
            host.start_sshd(root, node)
        if not host.pid_alive(run_dir / "php" / "php-fpm.pid"):
            host.start_php_fpm(root, node)
        if not host.pid_alive(run_dir / "nginx.pid"):
            host.start_nginx(root, node)
    for site in topology.sites:
        if not database.is_running(root / "sites" / site.name):
            database.start(root / "sites" / site.name)


def _with_database(argv: list[str], attempts: int = 20) -> None:
    """A wp command that needs the site's database, retried while a link just brought back
    up (or a server just started) does not answer yet."""
    for _ in range(attempts - 1):
        proc = run(argv, check=False)
        if proc.returncode == 0:
            return
        if "Error establishing a database connection" not in proc.stdout + proc.stderr:
            break
        time.sleep(0.5)
    run(argv)


def _leftovers(root: Path) -> list[str]:
    """What of a sandbox is still on this machine: namespaces, links, mounts, processes, files."""
    found = []
    netns = run(["ip", "netns", "list"], check=False).stdout.split("\n")
    found += [f"netns {line.split()[0]}" for line in netns if line.startswith(f"{prefix()}-")]
    links = run(["ip", "-o", "link", "show"], check=False).stdout.splitlines()
    for line in links:
        name = line.split(":")[1].strip().split("@")[0] if ":" in line else ""
        if name.startswith(prefix()):
            found.append(f"link {name}")
    found += [f"mount {m}" for m in _mounts_under(root)]
    found += [f"process {pid}" for pid in _processes_using(root)]
    if root.exists():
        found.append(f"directory {root}")
    return found


def _mounts_under(root: Path) -> list[str]:
    prefix = os.fspath(root).rstrip("/") + "/"
    mounts = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            point = line.split()[4].replace("\\040", " ")
            if point == prefix.rstrip("/") or point.startswith(prefix):
                mounts.append(point)
    return mounts


def _processes_using(root: Path) -> list[int]:
    """Processes whose command line names something inside the sandbox directory (site
    databases, template): `/x/sandbox/`, so that `/x/sandbox-2`'s processes are not ours."""
    needle = (os.fspath(root).rstrip("/") + "/").encode()
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if needle in cmdline:
            pids.append(int(entry.name))
    return pids


def down(say: Say = _quiet) -> list[str]:
    """Remove every namespace, process, mount, link and file a sandbox made; say what is left."""
    require_linux_root()
    root = sandbox_dir()
    # Site databases first: a graceful stop, all at once (2-3.5 s each otherwise).
    sites = root / "sites"
    if sites.is_dir():
        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(database.stop, [p for p in sites.iterdir() if p.is_dir()]))
    netns = [
        line.split()[0]
        for line in run(["ip", "netns", "list"], check=False).stdout.splitlines()
        if line.startswith(f"{prefix()}-")
    ]
    pids = [pid for ns in netns for pid in host.netns_pids(ns)]
    host.kill_pids(pids + _processes_using(root))
    for point in sorted(_mounts_under(root), key=len, reverse=True):
        if run(["umount", point], check=False).returncode != 0:
            run(["umount", "-l", point], check=False)
    for ns in netns:
        run(["ip", "netns", "del", ns], check=False)
    for line in run(["ip", "-o", "link", "show"], check=False).stdout.splitlines():
        name = line.split(":")[1].strip().split("@")[0] if ":" in line else ""
        if name.startswith(prefix()):
            run(["ip", "link", "del", name], check=False)
    if root.exists():
        if not (root / MARKER).exists() and any(root.iterdir()):
            raise RunbookError(
                f"sandbox: {root} was not made by `runbook sandbox up` (no {MARKER}); "
                "not deleting it",
                ExitCode.ENVIRONMENT,
            )
        if _mounts_under(root):
            raise RunbookError(
                f"sandbox: mounts remain under {root}; not deleting it", ExitCode.ENVIRONMENT
            )
        run(["rm", "-rf", "--one-file-system", root], check=False)
    left = _leftovers(root)
    if left:
        say("left behind: " + ", ".join(left))
    else:
        say("sandbox removed")
    return left
