"""The one error type and the exit codes: the project's contract with shells and CI jobs."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Exit codes of `runbook`. Documented in the README; never renumber one."""

    OK = 0
    #: An unexpected internal error (a bug): the traceback is shown under --debug.
    INTERNAL = 1
    #: Bad command line, bad catalog or configuration, bad input.
    USAGE = 2
    #: The run finished but some hosts failed a task.
    HOSTS_FAILED = 3
    #: Some hosts could not be reached.
    HOSTS_UNREACHABLE = 4
    #: The run finished but its verification (smoke test) failed.
    VERIFICATION_FAILED = 5
    #: Another run holds the lock on a target site.
    LOCK_HELD = 6
    #: The operator declined a confirmation, or confirmation was needed and impossible.
    ABORTED = 7
    #: The sandbox or the local machine cannot do what was asked.
    ENVIRONMENT = 8
    #: `runbook health`: the worst verdict is yellow / red (a rollback trigger fired is red) /
    #: nothing could be judged. Green is OK.
    HEALTH_YELLOW = 10
    HEALTH_RED = 11
    HEALTH_INCONCLUSIVE = 12
    #: Interrupted by Ctrl-C or SIGTERM; the run record says how far it got.
    INTERRUPTED = 130


class RunbookError(Exception):
    """An error the operator can act on: a message naming the file, host or value, and a code."""

    def __init__(self, message: str, code: ExitCode = ExitCode.USAGE) -> None:
        super().__init__(message)
        self.message = message
        self.code = code

    def __str__(self) -> str:
        return self.message
