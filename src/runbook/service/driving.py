"""What the rollout's and the deploy's drivers share: their row in the record (read it, write
the state with what another terminal said meanwhile, with its event in the same transaction),
the wait for an analysis window, and the gates' thresholds."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from runbook import clock
from runbook.health import thresholds
from runbook.service.workspace import Workspace

#: How often a waiting driver looks at the record (pause, promote, abort from elsewhere).
POLL_SECONDS = 1.0
#: An event as the record keeps it with a state: kind, summary, data, run id.
Event = tuple[str, str, Any, "str | None"]


def gate_rows(min_samples: int | None) -> dict[str, thresholds.Row]:
    """The threshold rows a gate judges by; `--min-samples` for the rates and the p95."""
    if min_samples is None:
        return thresholds.merged()
    n = int(min_samples)
    return thresholds.merged(
        {
            "error_rates": {"php_errors": {"min_samples": n}, "api_errors": {"min_samples": n}},
            "performance": {"api_response": {"min_samples": n}},
        }
    )


@dataclass
class RecordDriver:
    """Drives one row of the rollouts table to its end, a pause, an abort, or a stop."""

    ws: Workspace
    rollout_id: int
    say: Callable[[str], None] = print
    stop: threading.Event | None = None
    #: How its lines begin ("rollout 3: ..."), and the phase in which a promotion counts.
    label: ClassVar[str] = "rollout"
    judging_phase: ClassVar[str] = "analyse"

    def __post_init__(self) -> None:
        self.stop = self.stop or threading.Event()

    def _load(self) -> dict[str, Any]:
        with self.ws.store() as store:
            return store.rollout(self.rollout_id)

    def _save(
        self, state: dict[str, Any], status: str | None = None, event: Event | None = None
    ) -> dict[str, Any]:
        """Write the driver's state; a promotion or an abort given meanwhile from another
        terminal is kept, and so is a status someone else set."""
        with self.ws.store() as store:
            given = store.rollout(self.rollout_id)["state"]
            if given.get("abort_why"):
                state["abort_why"] = given["abort_why"]
            if given.get("promote") and state.get("phase") == self.judging_phase:
                state["promote"] = given["promote"]
            saved = store.update_rollout(
                self.rollout_id, state=state, status=status, expect=("running",), event=event
            )
        if event is not None:
            self.say(f"{self.label} {self.rollout_id}: {event[1]}")
        return saved

    def _wait(self, until: str) -> bool:
        """Until the window ends, looking at the record; False when it stopped being ours to
        drive (paused, promoted, aborted elsewhere) or the process is told to stop."""
        assert self.stop is not None
        while clock.now() < clock.parse(until):
            if self.stop.wait(POLL_SECONDS):
                return False
            current = self._load()
            if current["status"] != "running" or current["state"].get("promote"):
                return False
        return True
