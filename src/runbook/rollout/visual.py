"""The visual check WordPress teams rely on ("safe updates", visual regression testing): each
site's key pages photographed in headless Chromium before a deploy and again on each wave's
nodes, compared pixel by pixel with Pillow, dynamic regions masked.

A page is taken from one node (Chromium's host resolver maps the site's name to the node's
address, so the request carries the site's Host and reaches that node, bypassing any cache in
front), at a fixed window size. Two shots differ by the share of pixels whose colour moved
more than a small tolerance (anti-aliasing, font hinting); over the threshold, the gate fails.
"""

from __future__ import annotations

import html
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx
from PIL import Image, ImageChops, ImageDraw

from runbook.errors import ExitCode, RunbookError

DEFAULT_PAGES = ("/", "/wp-login.php", "sitemap:1")
#: A `sitemap:N` page: the first N pages the site's sitemap lists (WordPress's own,
#: /wp-sitemap.xml, served when the site is public).
SITEMAP = "sitemap:"
SITEMAP_PATHS = ("/wp-sitemap.xml", "/sitemap.xml")
#: A sitemap is read up to this size; more is not a sitemap we follow.
SITEMAP_BYTES = 2 * 1024 * 1024
_LOC = re.compile(r"<loc>\s*([^<]{1,2000}?)\s*</loc>", re.IGNORECASE)
WINDOW = (1280, 900)
#: A channel may move this much (0-255) and still count as the same pixel.
TOLERANCE = 16
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--hide-scrollbars",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--disable-extensions",
    "--force-device-scale-factor=1",
)


@dataclass(frozen=True)
class Mask:
    """A rectangle left out of the comparison (a clock, a rotating banner)."""

    x: int
    y: int
    width: int
    height: int

    @classmethod
    def parse(cls, text: str) -> Mask:
        try:
            x, y, w, h = (int(v) for v in text.split(","))
        except ValueError:
            raise RunbookError(f"--visual-mask {text!r}: x,y,width,height in pixels") from None
        if min(x, y) < 0 or min(w, h) <= 0:
            raise RunbookError(f"--visual-mask {text!r}: a rectangle inside the page")
        return cls(x, y, w, h)


def check_page(page: str) -> str:
    """A key page as given: a path on the site, or `sitemap:N`."""
    if page.startswith(SITEMAP):
        count = page.removeprefix(SITEMAP)
        if not count.isdigit() or not 1 <= int(count) <= 20:
            raise RunbookError(f"--visual-pages {page!r}: sitemap:N with N from 1 to 20")
        return page
    if not page.startswith("/") or any(c in page for c in " \t\n#") or len(page) > 500:
        raise RunbookError(f"--visual-pages {page!r}: a path such as / or /shop/, or sitemap:N")
    return page


def sitemap_locations(text: str, host: str) -> list[str]:
    """The paths (with their query) of the <loc> entries on `host`, in the sitemap's order;
    entries elsewhere, or that are not plain paths, are left out."""
    out = []
    for raw in _LOC.findall(text):
        url = urlsplit(html.unescape(raw).strip())
        if url.scheme not in ("http", "https") or url.netloc.lower() != host.lower():
            continue
        path = (url.path or "/") + (f"?{url.query}" if url.query else "")
        try:
            out.append(check_page(path))
        except RunbookError:
            continue
    return out


def _fetch(address: str, host: str, path: str) -> str | None:
    try:
        with httpx.stream(
            "GET",
            f"http://{address}{path}",
            headers={"Host": host},
            timeout=15,
            follow_redirects=False,
            trust_env=False,
        ) as response:
            if response.status_code != 200:
                return None
            body = b""
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > SITEMAP_BYTES:
                    return None
    except httpx.HTTPError:
        return None
    return body.decode("utf-8", errors="replace")


def sitemap_sample(address: str, host: str, count: int) -> list[str]:
    """The first `count` pages the site's sitemap lists (an index's sitemaps read in order,
    at most five); [] when the site has none (WordPress serves none for a site hidden from
    search engines)."""
    for index_path in SITEMAP_PATHS:
        text = _fetch(address, host, index_path)
        if text is None:
            continue
        found = sitemap_locations(text, host)
        if "<sitemapindex" not in text:
            return found[:count]
        pages: list[str] = []
        for sub in found[:5]:
            pages += sitemap_locations(_fetch(address, host, sub) or "", host)
            if len(pages) >= count:
                break
        return pages[:count]
    return []


def browser(needed_by: str = "the visual check", or_else: str = "pass --visual off") -> str:
    """The system's Chromium (Debian's `chromium`), or an error saying who needs it."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        raise RunbookError(
            f"{needed_by} needs Chromium (Debian: apt-get install chromium): install it, "
            f"or {or_else}",
            ExitCode.ENVIRONMENT,
        )
    return found


def shoot(host: str, address: str, path: str, out: Path, timeout: float = 60) -> Path:
    """A screenshot of http://HOST/PATH as served by the node at `address`."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="runbook-chromium-") as profile:
        proc = subprocess.run(
            [
                browser(),
                *FLAGS,
                f"--user-data-dir={profile}",
                f"--host-resolver-rules=MAP {host} {address}",
                f"--window-size={WINDOW[0]},{WINDOW[1]}",
                f"--screenshot={out}",
                f"http://{host}{path}",
            ],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    if proc.returncode != 0 or not out.is_file():
        raise RunbookError(
            f"the visual check could not photograph http://{host}{path} on {address}: "
            f"{(proc.stderr or proc.stdout).strip()[-300:]}",
            ExitCode.ENVIRONMENT,
        )
    return out


def compare(before: Path, after: Path, diff: Path, masks: tuple[Mask, ...] = ()) -> float:
    """The share of pixels (0-1) that changed beyond the tolerance, masks left out; the
    changed pixels painted red on a faded copy of `after`, in `diff`."""
    with Image.open(before) as a_raw, Image.open(after) as b_raw:
        a, b = a_raw.convert("RGB"), b_raw.convert("RGB")
    if a.size != b.size:
        b = b.resize(a.size)
    changed = ImageChops.difference(a, b).convert("L").point(lambda v: 255 if v > TOLERANCE else 0)
    if masks:
        draw = ImageDraw.Draw(changed)
        for m in masks:
            draw.rectangle((m.x, m.y, m.x + m.width - 1, m.y + m.height - 1), fill=0)
    histogram = changed.histogram()
    total = a.size[0] * a.size[1]
    share = histogram[255] / total if total else 0.0
    faded = Image.blend(b, Image.new("RGB", b.size, "white"), 0.6)
    faded.paste(Image.new("RGB", b.size, (220, 20, 20)), mask=changed)
    diff.parent.mkdir(parents=True, exist_ok=True)
    faded.save(diff)
    return share
