"""The rollback report as an operator reads it at the end of a run."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from runbook.errors import ExitCode
from runbook.views import print_rollback


def node(outcome: str, before: str, after: str | None) -> dict[str, object]:
    return {
        "outcome": outcome,
        "version_before": before,
        "version_after": after,
        "backup": "mase-backup-20261120-093000.tar.gz" if after else None,
    }


def test_flags_print_as_json_and_a_split_site_is_loud() -> None:
    report = {
        "sites": {
            "alpha": {
                "flags_option": "mase_feature_flags",
                "options_changed": {
                    "mase_feature_flags": {
                        "before": {"modern_api_client": True, "legacy_fallback": False},
                        "after": {"modern_api_client": False, "legacy_fallback": True},
                    }
                },
                "nodes": {
                    "alpha-1": node("changed", "2.1.0", "2.0.1"),
                    "alpha-2": node("unreachable", "2.1.0", None),
                },
                "split_versions": True,
            }
        },
        "not_rolled_back": {"alpha": {"alpha-2": "unreachable at 'Read WordPress': timed out"}},
    }
    console = Console(record=True, width=200)
    print_rollback(console, report)
    text = console.export_text()
    assert "modern_api_client=false, legacy_fallback=true" in text
    assert "2.1.0 -> 2.0.1" in text
    assert "SITE alpha IS SPLIT" in text
    assert "NOT ROLLED BACK: alpha-2 (site alpha): unreachable at 'Read WordPress'" in text


def test_a_lock_message_quoting_markup_is_printed_as_text() -> None:
    """A second operator's run printed the first one's reason as markup and crashed (exit 1
    instead of 6)."""
    from runbook.catalog import load
    from runbook.events import RunModel
    from runbook.execution import RunRequest, RunResult
    from runbook.inventory import Inventory
    from runbook.views import print_summary

    model = RunModel.for_hosts({"alpha-1": "alpha"})
    state = model.hosts["alpha-1"]
    state.seen, state.failed, state.lock_held = True, 1, True
    state.failed_task = "Take the site's lock on its first node"
    state.message = "site alpha is locked by run r1 (p0-rollback, by ops: '[/bold] \x1b[2J')"
    book = load()["p0-rollback"]
    request = RunRequest(book, {}, Inventory((), "-i"), {"alpha-1": "alpha"}, reason="x")
    result = RunResult(
        "r2", request, model, "failed", ExitCode.LOCK_HELD, "t0", "t1", 1.0, Path("/tmp"), 2, False
    )
    console = Console(record=True, width=200)
    print_summary(console, result)
    out = console.export_text()
    assert "'[/bold] \\x1b[2J'" in out and "\x1b" not in out


def test_the_monitor_board_and_its_line() -> None:
    from runbook.views import monitor_board, monitor_line

    doc = {
        "fleet": "inventory/hosts.yml",
        "cycle": 7,
        "at": "2026-11-30T12:00:00Z",
        "dry_run": True,
        "verdict": "red",
        "brake": None,
        "sites": {
            "beta": {
                "verdict": "red",
                "tables": {"error_rates": "red", "performance": "green"},
                "worst": {
                    "target": "beta-1",
                    "metric": "api_errors",
                    "value": 50.7,
                    "unit": "%",
                    "samples": 120,
                },
                "plan": {"action": "p0-rollback", "would": True, "held": None},
                "state": {
                    "breaker": {"tripped_at": "2026-11-30T11:00:00Z"},
                    "cooldown_until": None,
                    "in_flight": None,
                    "verifying": None,
                },
            }
        },
    }
    console = Console(width=200, record=True)
    console.print(monitor_board(doc, 42))
    shown = console.export_text()
    assert "cycle 7" in shown and "DRY RUN" in shown and "next in 42 s" in shown
    assert "beta-1 api_errors 50.7% (n=120)" in shown
    assert "would p0-rollback" in shown and "BREAKER OPEN since 2026-11-30T11:00:00Z" in shown
    assert monitor_line(doc) == (
        "2026-11-30T12:00:00Z cycle 7 (dry run): red: beta red [would p0-rollback]"
    )
