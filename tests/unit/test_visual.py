"""The visual check's comparison (Pillow): identical, a small change, a masked change, a
layout change; and a real screenshot in headless Chromium."""

from __future__ import annotations

import shutil
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from runbook.errors import RunbookError
from runbook.rollout.visual import Mask, compare, shoot


def page(path: Path, boxes: list[tuple[int, int, int, int, str]]) -> Path:
    image = Image.new("RGB", (400, 300), "white")
    draw = ImageDraw.Draw(image)
    for x, y, w, h, colour in boxes:
        draw.rectangle((x, y, x + w, y + h), fill=colour)
    image.save(path)
    return path


def test_identical_masked_and_changed(tmp_path: Path) -> None:
    base = [(10, 10, 100, 20, "#333333")]
    before = page(tmp_path / "before.png", base)
    assert compare(before, page(tmp_path / "same.png", base), tmp_path / "d1.png") == 0.0
    clock = page(tmp_path / "clock.png", [*base, (300, 10, 50, 10, "#000000")])
    assert compare(before, clock, tmp_path / "d2.png") > 0.003
    masked = compare(before, clock, tmp_path / "d3.png", (Mask(290, 0, 110, 30),))
    assert masked == 0.0
    broken = page(tmp_path / "broken.png", [(0, 0, 400, 300, "#ff0000")])
    assert compare(before, broken, tmp_path / "d4.png") > 0.9
    with Image.open(tmp_path / "d4.png") as diff:
        assert diff.size == (400, 300) and diff.getpixel((200, 150)) == (220, 20, 20)


def test_masks_are_checked() -> None:
    assert Mask.parse("0,0,10,5") == Mask(0, 0, 10, 5)
    for bad in ("1,2,3", "a,b,c,d", "0,0,0,5", "-1,0,5,5"):
        with pytest.raises(RunbookError):
            Mask.parse(bad)


@pytest.mark.skipif(not shutil.which("chromium"), reason="chromium: scripts/bootstrap.sh test")
def test_a_real_screenshot_through_the_host_map(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    (site / "index.html").write_text("<body style='background:#0a0'><h1>hello</h1></body>")
    httpd = ThreadingHTTPServer(
        ("127.0.0.1", 0), partial(SimpleHTTPRequestHandler, directory=str(site))
    )
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        port = httpd.server_address[1]
        shot = shoot(f"shop.example:{port}", "127.0.0.1", "/", tmp_path / "a.png")
        again = shoot(f"shop.example:{port}", "127.0.0.1", "/", tmp_path / "b.png")
    finally:
        httpd.shutdown()
    with Image.open(shot) as image:
        assert image.size == (1280, 900) and image.getpixel((600, 600))[1] > 150  # green
    assert compare(shot, again, tmp_path / "d.png") < 0.001
