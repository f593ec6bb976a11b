"""The fault suite: an operator's worst night, on the sandbox. Each case is a fault; after it,
`lost()` checks that nothing was lost (every node's plugin tree whole and one known version,
no lock held, no run left "running" in the record) and the table printed at the end says, per
fault, whether it was survived and what was lost. bench/faults.py prints the totals."""

from __future__ import annotations

from tests.integration.conftest import runbook_cli, sandbox

__all__ = ["runbook_cli", "sandbox"]
