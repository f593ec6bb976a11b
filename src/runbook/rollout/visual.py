"""The visual check WordPress teams rely on ("safe updates", visual regression testing): each
site's key pages photographed in headless Chromium before a deploy and again on each wave's
nodes, compared pixel by pixel with Pillow, dynamic regions masked.

A page is taken from one node (Chromium's host resolver maps the site's name to the node's
address, so the request carries the site's Host and reaches that node, bypassing any cache in
front), at a fixed window size. Two shots differ by the share of pixels whose colour moved
more than a small tolerance (anti-aliasing, font hinting); over the threshold, the gate fails.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageChops, ImageDraw

from runbook.errors import ExitCode, RunbookError

DEFAULT_PAGES = ("/", "/wp-login.php")
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


def browser() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        raise RunbookError(
            "the visual check needs Chromium (Debian: apt-get install chromium): install it, "
            "or pass --visual off",
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
