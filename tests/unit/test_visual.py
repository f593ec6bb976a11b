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


INDEX = (
    '<?xml version="1.0" encoding="UTF-8"?><?xml-stylesheet type="text/xsl" '
    'href="http://alpha.sandbox.test/wp-sitemap-index.xsl" ?>\n<sitemapindex '
    'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><sitemap><loc>'
    "http://alpha.sandbox.test/wp-sitemap-posts-post-1.xml</loc></sitemap><sitemap><loc>"
    "http://alpha.sandbox.test/wp-sitemap-posts-page-1.xml</loc></sitemap></sitemapindex>\n"
)
POSTS = (
    '<?xml version="1.0" encoding="UTF-8"?><?xml-stylesheet type="text/xsl" '
    'href="http://alpha.sandbox.test/wp-sitemap.xsl" ?>\n<urlset '
    'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
    "<url><loc>http://evil.example/steal/</loc></url>"
    "<url><loc>http://alpha.sandbox.test/hello-world/</loc></url></urlset>\n"
)
PAGES = (
    '<?xml version="1.0" encoding="UTF-8"?>\n<urlset '
    'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
    "<url><loc>http://alpha.sandbox.test/?page_id=2&amp;lang=en</loc></url>"
    "<url><loc>http://alpha.sandbox.test/shop/#top</loc></url></urlset>\n"
)


def test_a_sitemap_sample_stays_on_the_site(tmp_path: Path) -> None:
    """WordPress's sitemap index and its sitemaps (their exact shape): the first pages on the
    site itself, in order, without their fragment; another host's entry is left out; a site
    without a sitemap gives none, and a huge one is not read."""
    from http.server import BaseHTTPRequestHandler

    from runbook.rollout.visual import SITEMAP_BYTES, check_page, sitemap_sample

    served = {
        "/wp-sitemap.xml": INDEX,
        "/wp-sitemap-posts-post-1.xml": POSTS,
        "/wp-sitemap-posts-page-1.xml": PAGES,
    }

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = served.get(self.path)
            if self.headers["Host"] != "alpha.sandbox.test" or body is None:
                self.send_error(404)
                return
            data = body.encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/xml; charset=UTF-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *_args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    address = f"127.0.0.1:{server.server_address[1]}"
    try:
        assert sitemap_sample(address, "alpha.sandbox.test", 1) == ["/hello-world/"]
        assert sitemap_sample(address, "alpha.sandbox.test", 5) == [
            "/hello-world/",
            "/?page_id=2&lang=en",
            "/shop/",
        ]
        assert sitemap_sample(address, "beta.sandbox.test", 2) == []
        served["/wp-sitemap.xml"] = "<urlset><url><loc>http://alpha.sandbox.test/x/</loc>" * (
            SITEMAP_BYTES // 40
        )
        assert sitemap_sample(address, "alpha.sandbox.test", 2) == []
    finally:
        server.shutdown()
    assert check_page("sitemap:3") == "sitemap:3"
    for bad in ("sitemap:0", "sitemap:x", "shop", "/a b"):
        with pytest.raises(RunbookError, match="--visual-pages"):
            check_page(bad)
