"""The status page in a real headless browser (Debian's chromium): its text and a screenshot."""

from __future__ import annotations

import shutil
import subprocess
import threading
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from runbook.incidents.channels import write_status_page

CHROMIUM = shutil.which("chromium")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
INCIDENTS = [
    {
        "id": 1,
        "title": "Admin crashes <script>alert(1)</script>",
        "priority": "P0",
        "status": "mitigating",
        "eta": "within 2 hours",
        "opened_at": "2026-11-27T03:00:00+00:00",
        "resolved_at": None,
    },
    {
        "id": 2,
        "title": "Preview flickers",
        "priority": "P2",
        "status": "resolved",
        "eta": None,
        "opened_at": "2026-11-26T10:00:00+00:00",
        "resolved_at": "2026-11-26T12:00:00+00:00",
    },
]


@pytest.fixture
def served(tmp_path: Path) -> Iterator[str]:
    site = tmp_path / "status"
    write_status_page(site, INCIDENTS, "2026-11-27T04:00:00Z")
    handler = partial(SimpleHTTPRequestHandler, directory=str(site))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()


def chromium(tmp_path: Path, *args: str) -> str:
    profile = tmp_path / "profile"
    proc = subprocess.run(
        [CHROMIUM or "chromium", *FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return proc.stdout


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is installed by scripts/bootstrap.sh test")
def test_status_page_in_a_browser(served: str, tmp_path: Path) -> None:
    dom = chromium(tmp_path, "--dump-dom", served)
    assert 'id="state">Some systems are affected<' in dom
    assert "Admin crashes &lt;script&gt;alert(1)&lt;/script&gt;" in dom  # shown, not run
    assert "within 2 hours" in dom and "Preview flickers" in dom
    shot = tmp_path / "status.png"
    chromium(tmp_path, f"--screenshot={shot}", "--window-size=1000,700", served)
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
