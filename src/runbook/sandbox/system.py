"""Running the local commands the sandbox is built from, and installing what they need."""

from __future__ import annotations

import fcntl
import glob
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from runbook.errors import ExitCode, RunbookError

#: Debian packages the sandbox runs, and a file each one installs (how we know it is there).
PACKAGES = {
    "openssh-server": "/usr/sbin/sshd",
    "openssh-client": "/usr/bin/ssh-keygen",
    "nginx-light": "/usr/sbin/nginx",
    "php-fpm": "/usr/sbin/php-fpm*",
    "php-cli": "/usr/bin/php",
    "php-mysql": "/etc/php/*/mods-available/mysqli.ini",
    # SimpleXML and DOM: WordPress needs them for its sitemap, feeds and the REST API's XML.
    "php-xml": "/etc/php/*/mods-available/simplexml.ini",
    "mariadb-server": "/usr/sbin/mariadbd",
    "mariadb-client": "/usr/bin/mariadb",
    "wordpress": "/usr/share/wordpress/wp-load.php",
    "iproute2": "/usr/sbin/ip",
    "util-linux": "/usr/bin/nsenter",
    "python3": "/usr/bin/python3",
    "procps": "/usr/bin/pgrep",
    "curl": "/usr/bin/curl",
}

CLEAN_ENV = {
    "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "LANG": "C.UTF-8",
    "HOME": "/root",
}


def run(
    argv: Sequence[str | os.PathLike[str]],
    *,
    check: bool = True,
    input: str | None = None,
    timeout: float = 120,
) -> subprocess.CompletedProcess[str]:
    """Run one command (an argv list, never a shell string) and fail with what it said."""
    args = [os.fspath(a) for a in argv]
    try:
        proc = subprocess.run(
            args,
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=CLEAN_ENV,
            stdin=None if input is not None else subprocess.DEVNULL,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise RunbookError(
            f"sandbox: `{' '.join(args)}` did not finish in {timeout:.0f} s", ExitCode.ENVIRONMENT
        ) from exc
    except FileNotFoundError as exc:
        raise RunbookError(f"sandbox: {args[0]} is not installed", ExitCode.ENVIRONMENT) from exc
    if check and proc.returncode != 0:
        said = (proc.stderr or proc.stdout).strip()
        raise RunbookError(
            f"sandbox: `{' '.join(args)}` failed (exit {proc.returncode}): {said}",
            ExitCode.ENVIRONMENT,
        )
    return proc


def require_linux_root() -> None:
    if not sys.platform.startswith("linux"):
        raise RunbookError(
            "the sandbox needs Linux (network and mount namespaces)", ExitCode.ENVIRONMENT
        )
    if os.geteuid() != 0:
        raise RunbookError(
            "the sandbox needs root: it creates network namespaces, a bridge and mounts "
            "(run `sudo runbook sandbox up`)",
            ExitCode.ENVIRONMENT,
        )


def missing_packages() -> list[str]:
    return [pkg for pkg, path in PACKAGES.items() if not glob.glob(path)]


#: Two sandboxes built at once (the test suite's workers) install packages one at a time.
PACKAGES_LOCK = Path("/run/runbook-sandbox-packages.lock")


def ensure_packages(say: object = None) -> list[str]:
    """Install the Debian packages the sandbox needs, without starting their services;
    the ones it installed (none: all were there). One installer at a time on the machine:
    apt and dpkg take their own locks and fail, rather than wait, on a second one."""
    if not missing_packages():
        return []
    with PACKAGES_LOCK.open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _install_missing(say)


def _install_missing(say: object) -> list[str]:
    missing = missing_packages()
    if not missing:
        return []
    if not shutil.which("apt-get"):
        raise RunbookError(
            f"the sandbox needs these Debian packages and apt-get is missing: {' '.join(missing)}",
            ExitCode.ENVIRONMENT,
        )
    if callable(say):
        say(f"installing Debian packages: {' '.join(missing)}")
    # Installing a server package starts it on machines with an init system; the sandbox runs
    # its own copies inside namespaces, so keep the packaged services stopped.
    policy = Path("/usr/sbin/policy-rc.d")
    made_policy = not policy.exists()
    if made_policy:
        policy.write_text("#!/bin/sh\nexit 101\n")
        policy.chmod(0o755)
    try:
        env = dict(CLEAN_ENV, DEBIAN_FRONTEND="noninteractive")
        for argv in (
            ["apt-get", "update"],
            ["apt-get", "install", "-y", "--no-install-recommends", *missing],
        ):
            proc = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
            if proc.returncode != 0:
                raise RunbookError(
                    f"sandbox: `{' '.join(argv)}` failed: {proc.stderr.strip()[-2000:]}",
                    ExitCode.ENVIRONMENT,
                )
    finally:
        if made_policy:
            policy.unlink(missing_ok=True)
    still = missing_packages()
    if still:
        raise RunbookError(
            f"sandbox: packages still missing after apt-get: {' '.join(still)}",
            ExitCode.ENVIRONMENT,
        )
    return missing


def php_fpm_binary() -> str:
    found = sorted(glob.glob("/usr/sbin/php-fpm[0-9]*"))
    if not found:
        raise RunbookError("sandbox: php-fpm is not installed", ExitCode.ENVIRONMENT)
    return found[-1]


def php_ini() -> str:
    version = Path(php_fpm_binary()).name.removeprefix("php-fpm")
    return f"/etc/php/{version}/fpm/php.ini"


def process_alive(pid: int) -> bool:
    """Whether `pid` runs: a zombie (exited, not yet reaped) counts as gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(") ", 1)[1][0] != "Z"
    except (OSError, IndexError):
        return False
