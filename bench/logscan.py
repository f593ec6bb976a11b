"""The log scanner against grep on a realistic debug.log (1 GB by default).

Run: .venv/bin/python bench/logscan.py [--size-mb 1024] [--keep FILE]

Generates a debug.log with a day of timestamps, mixed levels, stack traces and MASE records,
then prints, against the same file in the same run:
  full scan         the scanner's throughput against `grep -c 'PHP Fatal'` (ratio)
  top 10            the scanner's fingerprints against the document's pipeline
                    `grep PHP | sort | uniq -c | sort -rn | head` (ratio)
  last hour         a last-hour query against the full scan (ratio; the target is < 5%)
  peak memory       of a scanning process and its second process (the target is < 50 MB)
and whether each of the issue's targets is met, the fast and the line-by-line scans compared
on the first 64 MB.
"""

from __future__ import annotations

import argparse
import datetime
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from runbook.ansible.module_utils import runbook_logscan as ls

UTC = datetime.UTC
PLUGIN = "/var/www/shop/htdocs/wp-content/plugins/mase/includes"
CORE = "/var/www/shop/htdocs/wp-includes"


def generate(path: Path, size: int, seed: int = 1) -> int:
    """Write about `size` bytes spanning the 24 hours before now; returns the record count."""
    rng = random.Random(seed)
    end = datetime.datetime.now(UTC).replace(microsecond=0)
    start = end - datetime.timedelta(hours=24)
    # Estimate the record count from an average record of ~162 bytes.
    count = max(1000, size // 162)
    step = 86400 / count
    written = 0
    with open(path, "wb", buffering=1 << 20) as out:
        for i in range(count):
            when = start + datetime.timedelta(seconds=i * step)
            stamp = when.strftime("[%d-%b-%Y %H:%M:%S UTC] ").encode()
            roll = rng.random()
            n = rng.randrange(1, 5000)
            if roll < 0.55:
                line = (
                    stamp
                    + (
                        f"PHP Deprecated:  Creation of dynamic property WP_Thing_{n % 40}"
                        f"::$prop is deprecated in {CORE}/class-thing-{n % 40}.php "
                        f"on line {n % 300}\n"
                    ).encode()
                )
            elif roll < 0.80:
                line = (
                    stamp
                    + (
                        f'PHP Warning:  Undefined array key "k{n}" in '
                        f"{PLUGIN}/settings.php on line {n % 25}\n"
                    ).encode()
                )
            elif roll < 0.90:
                line = (
                    stamp
                    + (
                        f"PHP Notice:  Trying to get property 'id' of non-object in "
                        f"{CORE}/post.php on line {n % 900}\n"
                    ).encode()
                )
            elif roll < 0.97:
                line = stamp + f"MASE: settings saved for user {n}\n".encode()
            else:
                line = (
                    stamp
                    + (
                        "PHP Fatal error:  Uncaught Error: Call to undefined function "
                        f"mase_modern_client_dispatch() in {PLUGIN}/modern-api-client.php:27\n"
                        "Stack trace:\n"
                        f"#0 {CORE}/class-wp-hook.php(308): {{closure}}(NULL, Object(WP_Request))\n"
                        f"#1 {CORE}/plugin.php(205): WP_Hook->apply_filters(NULL, Array)\n"
                        "#2 {main}\n"
                        f"  thrown in {PLUGIN}/modern-api-client.php on line 27\n"
                    ).encode()
                )
            out.write(line)
            written += len(line)
    return count


def timed(fn):  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    value = fn()
    return time.perf_counter() - started, value


def scan_full(path: Path) -> ls.Summary:
    summary = ls.Summary(top=10, plugin=ls.PluginMarkers("mase", "MASE"))
    with open(path, "rb") as handle:
        ls.fast_scan(handle, "wordpress", summary, str(path))
    return summary


def scan_last_hour(path: Path) -> ls.Summary:
    since = datetime.datetime.now(UTC) - datetime.timedelta(hours=1)
    summary = ls.Summary(top=10, plugin=ls.PluginMarkers("mase", "MASE"))
    with open(path, "rb") as handle:
        handle.seek(ls.seek_time(handle, os.path.getsize(path), since, "wordpress"))
        ls.fast_scan(handle, "wordpress", summary, str(path))
    return summary


def peak_memory_mb(path: Path) -> float:
    """Peak RSS of a fresh process's full scan, its second process's included (ru_maxrss of
    the process and of its children, in MB; the larger)."""
    code = (
        "import sys, resource; sys.path.insert(0, sys.argv[2]);"
        "from runbook.ansible.module_utils import runbook_logscan as ls;"
        "s = ls.Summary(plugin=ls.PluginMarkers('mase', 'MASE')); h = open(sys.argv[1], 'rb');"
        "ls.fast_scan(h, 'wordpress', s, 'x');"
        "print(max(resource.getrusage(w).ru_maxrss"
        " for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)))"
    )
    src = str(Path(__file__).resolve().parent.parent / "src")
    out = subprocess.run(
        [sys.executable, "-c", code, str(path), src], capture_output=True, text=True, check=True
    ).stdout
    return int(out.strip()) / 1024


def same_results(path: Path, size: int) -> bool:
    """The fast path (split across two processes) and the line-by-line scan agree on the
    file's first `size` bytes (cut at a line end): counts, fingerprints, unparsed lines."""
    with open(path, "rb") as handle:
        data = handle.read(size)
    part = Path(path.parent, "head.log")
    part.write_bytes(data[: data.rfind(b"\n") + 1])
    fast, slow = (ls.Summary(top=50, plugin=ls.PluginMarkers("mase", "MASE")) for _ in "ab")
    saved, ls.PARALLEL_BYTES = ls.PARALLEL_BYTES, 1 << 20  # split even a short file
    try:
        with open(part, "rb") as handle:
            ls.fast_scan(handle, "wordpress", fast, "x")
        with open(part, "rb") as handle:
            ls.scan_records(handle, "wordpress", slow, "x")
    finally:
        ls.PARALLEL_BYTES = saved
        part.unlink()
    a, b = fast.result(), slow.result()
    keys = ("records", "counts", "plugin_records", "unparsed_lines", "first", "last", "top")
    return all(a[k] == b[k] for k in keys)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=1024)
    parser.add_argument("--keep", type=Path, help="Write the log here and keep it.")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="runbook-logscan-", dir="/var/tmp"))
    path = args.keep or folder / "debug.log"
    try:
        if not path.exists():
            seconds, count = timed(lambda: generate(path, args.size_mb << 20))
            print(
                f"generated {path.stat().st_size / 2**30:.2f} GiB, {count} records "
                f"in {seconds:.1f} s"
            )
        size = path.stat().st_size
        subprocess.run(["cat", str(path)], stdout=subprocess.DEVNULL, check=True)  # warm cache
        grep_s, _ = timed(
            lambda: subprocess.run(
                ["grep", "-c", "PHP Fatal", str(path)], capture_output=True, check=False
            )
        )
        full_s, summary = timed(lambda: scan_full(path))
        pipeline = f"grep PHP '{path}' | sort | uniq -c | sort -rn | head -10"
        pipe_s, _ = timed(
            lambda: subprocess.run(["sh", "-c", pipeline], capture_output=True, check=True)
        )
        hour_s, hour = timed(lambda: scan_last_hour(path))
        memory = peak_memory_mb(path)
        gib = size / 2**30
        result = summary.result()
        print(f"{'measure':<34} {'seconds':>8} {'GiB/s':>7} {'ratio':>7}")
        print(f"{'grep -c PHP Fatal (baseline)':<34} {grep_s:>8.2f} {gib / grep_s:>7.2f} {1:>7.2f}")
        print(
            f"{'scanner, full scan':<34} {full_s:>8.2f} {gib / full_s:>7.2f} "
            f"{full_s / grep_s:>7.2f}"
        )
        print(f"{'grep|sort|uniq -c|sort|head (base)':<34} {pipe_s:>8.2f} {'':>7} {1:>7.2f}")
        print(f"{'scanner, top 10 (full scan)':<34} {full_s:>8.2f} {'':>7} {full_s / pipe_s:>7.2f}")
        print(
            f"{'scanner, last hour':<34} {hour_s:>8.3f} {'':>7} "
            f"{hour_s / full_s:>7.4f}  (of the full scan)"
        )
        same = same_results(path, 64 << 20)
        print(
            f"peak memory of a full scan: {memory:.1f} MB; "
            f"records {result['records']}, last hour {hour.result()['records']}, "
            f"distinct fingerprints {result['distinct_fingerprints']}"
        )
        print("top 3:", [(e["count"], e["fingerprint"][:70]) for e in result["top"][:3]])
        targets = [
            ("full scan >= 0.35 GiB/s", gib / full_s >= 0.35),
            ("top 10 <= 0.2x the pipeline", full_s / pipe_s <= 0.2),
            ("peak memory <= 50 MB", memory <= 50),
            ("fast and line scans agree (first 64 MB)", same),
        ]
        for name, met in targets:
            print(f"target {name:<42} {'met' if met else 'NOT MET'}")
    finally:
        # The scratch folder goes either way (with --keep the log lives elsewhere).
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
