"""The status page in a real headless browser (Debian's chromium): its text and a screenshot."""

from __future__ import annotations

import os
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


def chromium(tmp_path: Path, *args: str, zone: str = "UTC") -> str:
    profile = tmp_path / "profile"
    proc = subprocess.run(
        [CHROMIUM or "chromium", *FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
        env={**os.environ, "TZ": zone},
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


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is installed by scripts/bootstrap.sh test")
def test_times_are_shown_in_the_readers_zone(served: str, tmp_path: Path) -> None:
    dom = chromium(tmp_path, "--dump-dom", served, zone="Asia/Kolkata")
    # 04:00 UTC is 09:30 in India: one format, the reader's zone, the UTC time on hover.
    assert 'datetime="2026-11-27T04:00:00Z" title="2026-11-27T04:00:00Z">2026-11-27 09:30 ' in dom
    assert '<meta name="viewport"' in dom


def test_the_review_renders_its_markdown_whole() -> None:
    from runbook.incidents.templates import markdown_to_html

    page = markdown_to_html(
        "# Post-Incident Review: x <b>y</b>\n\n## Root Cause\n"
        "_not yet recorded: runbook incident update 3 --root-cause ..._\n\n"
        "## Timeline\n- 2026-11-30T04:37:09Z: opened\n\n## Follow-up Tasks\n- [ ] Add tests\n"
    )
    assert "<em>not yet recorded: runbook incident update 3 --root-cause ...</em>" in page
    assert "_not yet" not in page
    assert "&lt;b&gt;y&lt;/b&gt;" in page and "<b>" not in page
    assert '<time datetime="2026-11-30T04:37:09Z">2026-11-30 04:37 UTC</time>: opened' in page
    assert "<li>&#9744; Add tests</li>" in page
    assert "<style>" in page and "@media print" in page


def test_the_page_follows_every_incident_change(state_dir: Path, tmp_path: Path) -> None:
    """Opened, escalated, resolved: the page says so without anyone sending a notice."""
    from runbook.cli import main

    status = tmp_path / "status"
    (tmp_path / "contacts.yml").write_text(
        f"channels:\n  - {{name: page, type: statuspage, directory: '{status}'}}\n"
    )
    project = ["--project", str(tmp_path)]
    assert main([*project, "incident", "open", "--title", "Admin down", "--priority", "P0"]) == 0
    page = (status / "index.html").read_text()
    assert 'id="state">Some systems are affected<' in page and "Admin down" in page
    assert main([*project, "incident", "escalate", "1", "--why", "no answer"]) == 0
    args = ["--root-cause", "a bad release", "--resolution", "rolled back"]
    assert main([*project, "incident", "resolve", "1", *args]) == 0
    page = (status / "index.html").read_text()
    assert 'id="state">All systems operational<' in page
    resolved = page.split('id="resolved"')[1]
    assert "Admin down" in resolved and "resolved" in resolved
