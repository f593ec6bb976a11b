"""Realistic log traffic for a sandbox node, so tests can turn a host red (or green) for real.

The lines are written in the exact formats PHP, WordPress and nginx write, stamped now, into
the node's own logs: the scanner on the node reads them like any other.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

from runbook.sandbox.topology import Node

PLUGIN = "/var/www/{site}/htdocs/wp-content/plugins/mase/includes/modern-api-client.php"


def _php_stamp(when: datetime) -> str:
    return when.strftime("[%d-%b-%Y %H:%M:%S UTC]")


def _fatal(site: str, when: datetime) -> str:
    path = PLUGIN.format(site=site)
    return (
        f'{_php_stamp(when)} PHP Warning:  Undefined array key "payload" in {path} on line 24\n'
        f"{_php_stamp(when)} MASE: modern API client lost its envelope for /mase/v1/status\n"
        f"{_php_stamp(when)} PHP Fatal error:  Uncaught Error: Call to undefined function "
        f"mase_modern_client_dispatch() in {path}:27\n"
        "Stack trace:\n"
        f"#0 /var/www/{site}/htdocs/wp-includes/class-wp-hook.php(308): {{closure}}(NULL)\n"
        "#1 {main}\n"
        f"  thrown in {path} on line 27\n"
    )


def _access(ip: str, when: datetime, path: str, status: int, seconds: float) -> str:
    stamp = when.strftime("%d/%b/%Y:%H:%M:%S +0000")
    return (
        f'{ip} - - [{stamp}] "GET {path} HTTP/1.1" {status} 120 "-" '
        f'"Mozilla/5.0 (runbook sandbox traffic)" {seconds:.3f}\n'
    )


def write(root: Path, node: Node, kind: str, requests: int = 200, seed: int = 7) -> dict[str, int]:
    """Append a minute of traffic to the node's logs: `red` (fatals in the plugin, 5xx and slow
    requests on its REST routes) or `green` (fast 200s only). Returns what it wrote."""
    rng = random.Random(seed)  # noqa: S311 (test traffic, not cryptography)
    host = root / "hosts" / node.name
    now = datetime.now(UTC).replace(microsecond=0)
    access, debug, php, nginx = [], [], [], []
    fatals = 0
    for i in range(requests):
        when = now - timedelta(seconds=60 - 60 * i // requests)
        api = i % 3 == 0
        path = "/wp-json/mase/v1/status" if api else rng.choice(["/", "/wp-login.php"])
        if kind == "red" and api and i % 2 == 0:
            access.append(_access("10.213.77.1", when, path, 500, rng.uniform(1.5, 3.0)))
            debug.append(_fatal(node.site, when))
            php.append(_fatal(node.site, when))
            nginx.append(
                when.strftime("%Y/%m/%d %H:%M:%S")
                + f' [error] 812#812: *{i} FastCGI sent in stderr: "PHP message: PHP Fatal '
                f"error:  Uncaught Error: Call to undefined function "
                f'mase_modern_client_dispatch()" while reading response header from upstream, '
                f'request: "GET {path} HTTP/1.1"\n'
            )
            fatals += 1
        else:
            access.append(_access("10.213.77.1", when, path, 200, rng.uniform(0.02, 0.15)))
    for relative, lines in (
        ("wp-content/debug.log", debug),
        ("log/php/error.log", php),
        ("log/nginx/error.log", nginx),
        ("log/nginx/access.log", access),
    ):
        with open(host / relative, "a", encoding="utf-8") as handle:
            handle.writelines(lines)
    return {"requests": requests, "fatals": fatals}
