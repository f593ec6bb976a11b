"""The rollback report as an operator reads it at the end of a run."""

from __future__ import annotations

from rich.console import Console

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
