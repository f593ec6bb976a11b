"""Real HTTP traffic to the sandbox's sites: `runbook sandbox traffic`.

Bounded requests to the sandbox's own nginx (its node addresses, nothing else): the pages and
the plugin's REST routes, each as a user (`X-MASE-User`, which the sandbox's plugin buckets
for its rollout percentages), so PHP, the plugin and nginx write their own logs and timings.
The rate, the duration and the number of users are capped; the load stops by itself.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import httpx

from runbook.errors import RunbookError
from runbook.sandbox import faults
from runbook.sandbox.topology import Node

MAX_RATE = 200.0
MAX_SECONDS = 600.0
MAX_USERS = 1_000_000
#: What a visitor asks for, and how often: the plugin's REST status route half the time.
PATHS = (
    ("/wp-json/mase/v1/status", 5),
    ("/", 3),
    ("/wp-login.php", 1),
    ("/wp-json/mase/v1/templates", 1),
)


@dataclass
class Load:
    rate: float = 20.0
    seconds: float = 60.0
    users: int = 1000
    seed: int = 7
    statuses: Counter[int] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)

    def check(self) -> None:
        if not 0 < self.rate <= MAX_RATE:
            raise RunbookError(f"--rate {self.rate:g}/s: between 0 and {MAX_RATE:g} per second")
        if not 0 < self.seconds <= MAX_SECONDS:
            raise RunbookError(f"--duration {self.seconds:g}s: at most {MAX_SECONDS:g} s")
        if not 0 < self.users <= MAX_USERS:
            raise RunbookError(f"--users {self.users}: between 1 and {MAX_USERS}")


def send(
    sites: list[str],
    load: Load,
    say: Callable[[str], None] = lambda _: None,
    stop: threading.Event | None = None,
) -> Load:
    """Send `load.rate` requests a second for `load.seconds` to the sites' nodes, spread over
    them; returns the load with the status codes seen."""
    load.check()
    topology = faults._topology()
    nodes: list[Node] = []
    for name in sites:
        nodes += faults._site(topology, name).nodes
    if not nodes:
        raise RunbookError("no sites given: runbook sandbox traffic SITE ...")
    rng = random.Random(load.seed)  # noqa: S311 (test traffic, not cryptography)
    paths = [p for p, weight in PATHS for _ in range(weight)]
    stop = stop or threading.Event()
    lock = threading.Lock()

    def one(client: httpx.Client, node: Node, path: str, user: int) -> None:
        try:
            response = client.get(
                f"http://{node.ip}{path}",
                headers={"Host": f"{node.site}.sandbox.test", "X-MASE-User": str(user)},
            )
            with lock:
                load.statuses[response.status_code] += 1
        except httpx.HTTPError as exc:
            with lock:
                load.errors[type(exc).__name__] += 1

    interval = 1.0 / load.rate
    started = time.monotonic()
    sent = 0
    limits = httpx.Limits(max_connections=16, max_keepalive_connections=16)
    with (
        httpx.Client(timeout=10, follow_redirects=False, limits=limits, trust_env=False) as client,
        ThreadPoolExecutor(max_workers=16) as pool,
    ):
        while not stop.is_set():
            elapsed = time.monotonic() - started
            if elapsed >= load.seconds:
                break
            due = int(elapsed * load.rate) + 1
            while sent < due:
                node = nodes[sent % len(nodes)]
                pool.submit(one, client, node, rng.choice(paths), rng.randint(1, load.users))
                sent += 1
            stop.wait(interval)
    say(
        f"sent {sent} requests to {', '.join(sites)}: "
        + ", ".join(f"{code} x{n}" for code, n in sorted(load.statuses.items()))
        + (f"; failed: {dict(load.errors)}" if load.errors else "")
    )
    return load
