"""MariaDB for the sandbox: one template datadir with WordPress installed, cloned per site."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

from runbook.errors import ExitCode, RunbookError
from runbook.sandbox import assets, configs
from runbook.sandbox.system import CLEAN_ENV, process_alive, run

MYSQL_UID_NAME = "mysql"

INSTALL_PHP = r"""<?php
// Installs WordPress into the template database; run once per sandbox build.
define('DB_NAME', 'wordpress');
define('DB_USER', 'wordpress');
define('DB_PASSWORD', getenv('RB_DB_PASSWORD'));
define('DB_HOST', 'localhost:' . getenv('RB_DB_SOCKET'));
define('DB_CHARSET', 'utf8mb4');
define('DB_COLLATE', '');
define('WP_HOME', 'http://sandbox.test');
define('WP_SITEURL', 'http://sandbox.test');
define('WP_CONTENT_DIR', getenv('RB_WP_CONTENT'));
define('WP_INSTALLING', true);
define('ABSPATH', '/usr/share/wordpress/');
$table_prefix = 'wp_';
$_SERVER['HTTP_HOST'] = 'sandbox.test';
$_SERVER['REQUEST_URI'] = '/';
require ABSPATH . 'wp-settings.php';
require_once ABSPATH . 'wp-admin/includes/upgrade.php';
$result = wp_install('MASE sandbox', 'admin', 'admin@sandbox.test', false, '',
                    getenv('RB_ADMIN_PASSWORD'));
if (is_wp_error($result)) { fwrite(STDERR, $result->get_error_message()); exit(1); }
$options = json_decode(getenv('RB_OPTIONS'), true);
foreach ($options as $name => $value) { update_option($name, $value); }
echo "installed\n";
"""


def _wait_for_socket(rundir: Path, timeout: float) -> None:
    path = rundir / "mysqld.sock"
    log = rundir / "error.log"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if "Aborting" in (log.read_text(errors="replace") if log.exists() else ""):
            tail = log.read_text(errors="replace")[-1500:]
            raise RunbookError(
                f"sandbox: mariadbd failed to start; {log}:\n{tail}", ExitCode.ENVIRONMENT
            )
        if path.exists():
            with socket.socket(socket.AF_UNIX) as s:
                try:
                    s.connect(os.fspath(path))
                    return
                except OSError:
                    pass
        time.sleep(0.05)
    raise RunbookError(
        f"sandbox: mariadbd did not open {path} in {timeout:.0f} s", ExitCode.ENVIRONMENT
    )


def start(rundir: Path) -> None:
    """Start mariadbd with the my.cnf in `rundir`; returns once its socket answers.

    `setsid -f` detaches it: it is nobody's child here, so it never lingers as a zombie of a
    long-lived caller (a benchmark building fleet after fleet) that looks alive to kill(0).
    """
    (rundir / "error.log").unlink(missing_ok=True)
    run(["setsid", "-f", "/usr/sbin/mariadbd", f"--defaults-file={rundir / 'my.cnf'}"])
    _wait_for_socket(rundir, timeout=60)


def stop(rundir: Path, timeout: float = 20) -> None:
    """Stop a site's mariadbd gracefully (SIGTERM), killing it if it will not go."""
    pidfile = rundir / "mysqld.pid"
    try:
        pid = int(pidfile.read_text().strip())
    except (OSError, ValueError):
        return
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not process_alive(pid):
            return
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def is_running(rundir: Path) -> bool:
    try:
        return process_alive(int((rundir / "mysqld.pid").read_text().strip()))
    except (OSError, ValueError):
        return False


def _chown_mysql(path: Path) -> None:
    shutil.chown(path, MYSQL_UID_NAME, MYSQL_UID_NAME)
    for p in path.rglob("*"):
        shutil.chown(p, MYSQL_UID_NAME, MYSQL_UID_NAME)


def build_template(cache: Path) -> dict[str, str]:
    """Install WordPress into a fresh datadir once; returns its credentials.

    The result (datadir + credentials.json) is what every site's database is cloned from.
    """
    creds_file = cache / "credentials.json"
    datadir = cache / "datadir"
    if creds_file.exists() and (datadir / "wordpress").is_dir():
        creds: dict[str, str] = json.loads(creds_file.read_text())
        return creds
    if cache.exists():
        shutil.rmtree(cache)
    cache.mkdir(parents=True)
    datadir.mkdir()
    (cache / "my.cnf").write_text(configs.my_cnf(datadir, cache, None, 0))
    _chown_mysql(cache)
    run(
        [
            "/usr/bin/mariadb-install-db",
            f"--defaults-file={cache / 'my.cnf'}",
            "--auth-root-authentication-method=socket",
            "--skip-test-db",
        ],
        timeout=180,
    )
    creds = {
        "db_password": secrets.token_urlsafe(18),
        "admin_password": secrets.token_urlsafe(18),
        "mase_api_token": secrets.token_urlsafe(24),
    }
    start(cache)
    try:
        sock = cache / "mysqld.sock"
        sql = (
            "CREATE DATABASE wordpress;"
            f"CREATE USER 'wordpress'@'%' IDENTIFIED BY '{creds['db_password']}';"
            f"CREATE USER 'wordpress'@'localhost' IDENTIFIED BY '{creds['db_password']}';"
            "GRANT ALL ON wordpress.* TO 'wordpress'@'%';"
            "GRANT ALL ON wordpress.* TO 'wordpress'@'localhost';"
        )
        run(["/usr/bin/mariadb", f"--socket={sock}", "-uroot", "-e", sql])
        content = cache / "wp-content"
        assets.write_plugin(content / "plugins" / "mase", assets.INSTALLED_VERSION)
        (content / "themes").mkdir(parents=True, exist_ok=True)
        script = cache / "install.php"
        script.write_text(INSTALL_PHP)
        options = {
            "active_plugins": ["mase/mase.php"],
            "mase_feature_flags": assets.FEATURE_FLAGS,
            "mase_feature_rollout_percentages": assets.ROLLOUT_PERCENTAGES,
            "mase_settings": assets.DEFAULT_SETTINGS,
            "mase_api_token": creds["mase_api_token"],
            "mase_sandbox_fault": "off",
            "permalink_structure": "/%postname%/",
            # A production site is public: search engines welcome, so WordPress serves its
            # sitemap (the deploy's visual check samples pages from it).
            "blog_public": "1",
        }
        env = dict(
            CLEAN_ENV,
            RB_DB_PASSWORD=creds["db_password"],
            RB_DB_SOCKET=str(sock),
            RB_WP_CONTENT=str(content),
            RB_ADMIN_PASSWORD=creds["admin_password"],
            RB_OPTIONS=json.dumps(options),
        )
        proc = subprocess.run(
            ["/usr/bin/php", str(script)],
            env=env,
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            check=False,
        )
        if proc.returncode != 0 or "installed" not in proc.stdout:
            raise RunbookError(
                f"sandbox: installing WordPress failed: {proc.stdout[-800:]} {proc.stderr[-800:]}",
                ExitCode.ENVIRONMENT,
            )
    finally:
        stop(cache)
    creds_file.write_text(json.dumps(creds))
    creds_file.chmod(0o600)
    return creds


def prepare_site(template: Path, rundir: Path, bind: str, port: int) -> None:
    """Clone the template datadir for one site and write its my.cnf."""
    if rundir.exists():
        shutil.rmtree(rundir)
    rundir.mkdir(parents=True)
    run(["cp", "-a", "--reflink=auto", template / "datadir", rundir / "data"])
    (rundir / "my.cnf").write_text(configs.my_cnf(rundir / "data", rundir, bind, port))
    shutil.chown(rundir, MYSQL_UID_NAME, MYSQL_UID_NAME)
