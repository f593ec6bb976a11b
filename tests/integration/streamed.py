"""A `runbook` process read line by line while it runs (for interrupt and race tests)."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from pathlib import Path

#: What p0-rollback prints as its restores start: the task in which each node restores the
#: plugin and checks it, in one call.
RESTORE_STARTS = "Verify the node"


class Streamed:
    """A `runbook` process whose output is read line by line while it runs."""

    def __init__(self, *args: str) -> None:
        import queue
        import threading

        self.proc = subprocess.Popen(
            [sys.executable, "-m", "runbook", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            env=dict(os.environ),
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.proc.stdout
        for line in self.proc.stdout:
            self.lines.put(line)

    def wait_for(self, text: str, timeout: float = 120) -> None:
        import queue
        import time

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.5)
            except queue.Empty:
                continue
            self.seen.append(line)
            if text in line:
                return
        raise AssertionError(f"never saw {text!r}; output so far:\n{''.join(self.seen)}")

    def send_signal(self, sig: int) -> None:
        self.proc.send_signal(sig)

    def playbook_pid(self) -> int:
        """The ansible-playbook process this run started (its main process, not a worker)."""
        for pid in descendants(self.proc.pid):  # parents before their children
            try:
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            except OSError:
                continue
            if b"ansible-playbook" in cmdline:
                return pid
        raise AssertionError("no ansible-playbook under this run")

    def finish(self, timeout: float = 180) -> str:
        """Wait for the process; all it printed."""
        import time

        self.proc.wait(timeout=timeout)
        time.sleep(0.2)
        while not self.lines.empty():
            self.seen.append(self.lines.get())
        return "".join(self.seen)

    @property
    def returncode(self) -> int | None:
        return self.proc.returncode


def descendants(pid: int) -> list[int]:
    """Every process under `pid`, children first found first."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(entry))
    found: list[int] = []
    todo = [pid]
    while todo:
        current = todo.pop(0)
        for child in children.get(current, []):
            found.append(child)
            todo.append(child)
    return found


def kill_controller(stream: Streamed) -> None:
    """SIGKILL the runbook process and everything it started: the controller dies."""
    import signal

    victims = [stream.proc.pid, *descendants(stream.proc.pid)]
    for pid in victims:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    stream.proc.wait(timeout=30)
