"""The sandbox fleet, brought up once per test session (Linux, root)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from runbook.paths import sandbox_dir
from runbook.sandbox import fleet, host, inventory_path, topology

pytestmark = pytest.mark.sandbox

# The suite builds its own sandbox (its own folder, interface prefix and subnet) and takes it
# down at the end: a sandbox the user has up is left alone. Set these to test against another.
# Each pytest-xdist worker builds one of its own (gw0 the first row, gw1 the second ...).
# (The lifecycle test's throwaway uses rbt/.78, the benches rbf/.80, rbb/.79 and rbm/.83;
# a module's sandbox of another shape, shaped_sandbox, rbq0/.90, rbq1/.91 ...)
WORKER_SANDBOXES = (
    ("/var/lib/runbook-sandbox-tests", "rbs", "10.213.81.0/24"),
    ("/var/lib/runbook-sandbox-worker1", "rbv", "10.213.85.0/24"),
    ("/var/lib/runbook-sandbox-worker2", "rbw", "10.213.86.0/24"),
    ("/var/lib/runbook-sandbox-worker3", "rbz", "10.213.87.0/24"),
)
_worker = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0)
_folder, _prefix, _subnet = WORKER_SANDBOXES[_worker % len(WORKER_SANDBOXES)]
_SANDBOX_ENV = ("RUNBOOK_SANDBOX_DIR", "RUNBOOK_SANDBOX_PREFIX", "RUNBOOK_SANDBOX_SUBNET")
# Which worker's row the environment holds when this file set it. pytest's own process loads
# this file too when a test file is named on the command line, before it starts the workers:
# they inherit its row (gw0's), and two workers built one sandbox at once. A row set by the
# user is theirs and stays.
_SET_FOR = "RUNBOOK_TESTS_SANDBOX_OF"
if os.environ.get(_SET_FOR, str(_worker)) != str(_worker):
    for _name in _SANDBOX_ENV:
        os.environ.pop(_name, None)
if not any(name in os.environ for name in _SANDBOX_ENV):
    os.environ[_SET_FOR] = str(_worker)
os.environ.setdefault("RUNBOOK_SANDBOX_DIR", _folder)
os.environ.setdefault("RUNBOOK_SANDBOX_PREFIX", _prefix)
os.environ.setdefault("RUNBOOK_SANDBOX_SUBNET", _subnet)


@dataclass
class Sandbox:
    root: Path
    topology: topology.Topology
    inventory: Path

    def node(self, name: str) -> topology.Node:
        return next(n for n in self.topology.nodes if n.name == name)

    def on(
        self, name: str, *argv: str, env: dict[str, str] | None = None, input: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run a command on a host, inside its namespaces (as its sshd would)."""
        return subprocess.run(
            [*host.nsenter(self.root, self.node(name)), *argv],
            capture_output=True,
            text=True,
            timeout=60,
            input=input,
            stdin=None if input is not None else subprocess.DEVNULL,
            env=env or {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": "/root", "LANG": "C.UTF-8"},
            check=False,
        )

    def fault(self, fault: str, target: str) -> None:
        from runbook.sandbox import faults

        faults.apply(fault, target)

    @contextmanager
    def broken(self, fault: str, target: str) -> Iterator[None]:
        """`fault` holds on `target` inside the block; its undo (from the faults table) runs
        whatever happens there."""
        from runbook.sandbox.faults import FAULTS

        undo = FAULTS[fault].undo
        assert undo, f"{fault} has no undo"
        self.fault(fault, target)
        try:
            yield
        finally:
            self.fault(undo, target)


@pytest.fixture(scope="session")
def sandbox() -> Iterator[Sandbox]:
    if not sys.platform.startswith("linux") or os.geteuid() != 0:
        pytest.skip("the sandbox needs Linux and root")
    fleet.up(topology.build(), say=lambda m: print(f"sandbox: {m}", file=sys.stderr))
    state = fleet.load_state()
    assert state and state["complete"]
    yield Sandbox(sandbox_dir(), fleet.topology_of(state), inventory_path())
    if not os.environ.get("RUNBOOK_KEEP_SANDBOX"):
        fleet.down()


@contextmanager
def shaped_sandbox(sites: int, nodes: int) -> Iterator[Sandbox]:
    """A sandbox of another shape for one test module, beside the worker's own (its own
    folder, prefix and subnet, per worker), taken down at the end; inside the block the
    environment points runbook (and every `runbook` the tests start) at it."""
    if not sys.platform.startswith("linux") or os.geteuid() != 0:
        pytest.skip("the sandbox needs Linux and root")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("RUNBOOK_SANDBOX_DIR", f"/var/lib/runbook-sandbox-shaped{_worker}")
        env.setenv("RUNBOOK_SANDBOX_PREFIX", f"rbq{_worker}")
        env.setenv("RUNBOOK_SANDBOX_SUBNET", f"10.213.{90 + _worker}.0/24")
        fleet.up(
            topology.build(sites=sites, nodes=nodes),
            say=lambda m: print(f"sandbox: {m}", file=sys.stderr),
        )
        state = fleet.load_state()
        assert state and state["complete"]
        try:
            yield Sandbox(sandbox_dir(), fleet.topology_of(state), inventory_path())
        finally:
            if not os.environ.get("RUNBOOK_KEEP_SANDBOX"):
                fleet.down()


@dataclass
class CliResult:
    code: int
    out: str
    err: str

    def json(self) -> dict:  # type: ignore[type-arg]
        return json.loads(self.out)  # type: ignore[no-any-return]


@pytest.fixture
def runbook_cli(state_dir: Path) -> object:
    """Run the real `runbook` command (a new process, as an operator would)."""

    def call(*args: str, env: dict[str, str] | None = None, timeout: float = 300) -> CliResult:
        full_env = dict(os.environ)
        full_env.update(env or {})
        proc = subprocess.run(
            [sys.executable, "-m", "runbook", *args],
            capture_output=True,
            text=True,
            env=full_env,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
            check=False,
        )
        return CliResult(proc.returncode, proc.stdout, proc.stderr)

    return call
