"""The service layer: one typed entry per use case, between the CLI and the domain.

The CLI (and the monitor, rollouts, deploys built on it) parse, call these, and print; the
rules, the record and Ansible live below.
"""

from __future__ import annotations

from runbook.catalog import COMMON_OPTIONS, REPORT_KINDS, CommonOption, Parameter, Runbook
from runbook.execution import RunRequest, RunResult
from runbook.service.runs import RunOptions, run
from runbook.service.workspace import Workspace, closest

__all__ = [
    "COMMON_OPTIONS",
    "REPORT_KINDS",
    "CommonOption",
    "Parameter",
    "RunOptions",
    "RunRequest",
    "RunResult",
    "Runbook",
    "Workspace",
    "closest",
    "run",
]
