"""`runbook incident ...` through the CLI, on a private run record."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from click.testing import CliRunner

from runbook.cli import cli
from runbook.incidents.records import Incidents
from runbook.store import Store


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.output


def test_open_classifies_and_the_lifecycle_is_recorded(state_dir: Path) -> None:
    code, out = run(
        "incident",
        "open",
        "--title",
        "Settings not saving on shop",
        "--impact",
        "40% of users",
        "--json",
    )
    assert code == 0, out
    incident = json.loads(out)
    assert incident["priority"] == "P1"
    assert "Settings not saving" in incident["classification"]
    i = str(incident["id"])
    assert run("incident", "ack", i, "--owner", "alice")[0] == 0
    assert (
        run(
            "incident",
            "update",
            i,
            "--status",
            "mitigating",
            "--action-taken",
            "disabled modern_state_manager",
        )[0]
        == 0
    )
    assert run("incident", "escalate", i, "--why", "needs an architecture decision")[0] == 0
    assert run("incident", "resolve", i, "--root-cause", "a race in the state manager")[0] == 0
    code, out = run("incident", "timeline", i, "--json")
    kinds = [e["kind"] for e in json.loads(out)]
    assert kinds == ["opened", "acknowledged", "update", "status", "escalated", "update", "status"]
    code, out = run("incident", "review", i)
    assert code == 0, out
    assert "# Post-Incident Review: Settings not saving on shop" in out
    assert "a race in the state manager" in out
    code, out = run("incident", "review", i, "--format", "html")
    assert out.startswith("<!doctype html>") and "<h2>Timeline</h2>" in out


def test_list_marks_breaches_and_tick_escalates(state_dir: Path) -> None:
    store = Store(state_dir / "runbook.sqlite3")
    old = (datetime.now(UTC) - timedelta(hours=2)).isoformat()
    i = Incidents(store).open("Production down", "P0", at=old)
    store.close()
    code, out = run("incident", "list", "--json")
    assert code == 0, out
    row = json.loads(out)[0]
    assert row["response_breached"] and not row["resolution_breached"]
    assert row["response_left"].startswith("-")
    _code, out = run("incident", "tick", "--json")
    assert json.loads(out) == [
        {
            "incident": i,
            "action": "escalated",
            "level": 2,
            "why": json.loads(out)[0]["why"],
            "notified": [],
        }
    ]
    assert "no acknowledgement" in json.loads(out)[0]["why"]
    assert json.loads(run("incident", "tick", "--json")[1]) == []  # once per breach


def test_hostile_titles_are_text(state_dir: Path) -> None:
    title = "<script>alert(1)</script> {{ 7*7 }} <!channel>"
    code, out = run("incident", "open", "--title", title, "--priority", "P2", "--json")
    i = str(json.loads(out)["id"])
    code, out = run("incident", "review", i)
    assert code == 0, out
    # The title is printed as typed, never rendered (a clock reading may contain "49").
    assert f"# Post-Incident Review: {title}\n" in out
    _code, out = run("incident", "review", i, "--format", "html")
    # Shown, never run: the page's one script is its own (times in the reader's zone).
    assert out.count("<script>") == 1 and "&lt;script&gt;alert(1)" in out
    assert "alert(1)</script>" not in out


def test_classify_and_errors(state_dir: Path) -> None:
    code, out = run("incident", "classify", "Security vulnerability in the REST API", "--json")
    assert json.loads(out)["priority"] == "P0"
    code, out = run("incident", "classify", "the settings page is slow for some users")
    assert "respond within 24 h, resolve within 7 days" in out  # not 1 day, 0:00:00
    code, out = run("incident", "show", "42")
    assert code != 0
    code, out = run("status", "--incident", "42", "-i", "/nonexistent")
    assert code != 0


def test_checklists_keep_who_and_when(state_dir: Path) -> None:
    code, out = run("checklist", "daily", "--tick", "1", "--tick", "3", "--json")
    assert code == 0, out
    items = json.loads(out)["items"]
    assert [i["done"] for i in items] == [True, False, True, False]
    assert items[0]["item"] == "Review error logs" and items[0]["who"]
    code, out = run("checklist", "weekly")
    assert "[ ] 4. Plan next rollout phase" in out
    assert run("checklist", "monthly", "--tick", "9")[0] != 0


HOSTILE = "[/bold] [link=https://evil.example]x[/link] \x1b[2J\x1b]0;pwned\x07 \x9b31m \u202eevil"


def test_markup_escapes_and_bidi_are_shown_as_text_in_every_view(state_dir: Path) -> None:
    """Rich markup in a title crashed incident show/list; ESC, C1 and bidi reached the
    terminal raw (clear screen, window title, OSC 8 links) and the HTML review."""
    code, out = run("incident", "open", "--title", HOSTILE, "--priority", "P1", "--json")
    assert code == 0, out
    i = str(json.loads(out)["id"])
    for args in (
        ("incident", "show", i),
        ("incident", "list"),
        ("incident", "timeline", i),
        ("incident", "review", i),
        ("incident", "review", i, "--format", "html"),
        ("notify", "--incident", i, "--template", "p1", "--dry-run"),
    ):
        code, out = run(*args)
        assert code == 0, (args, out)
        assert "\x1b" not in out and "\x9b" not in out and "\u202e" not in out, args
        assert "\\x1b[2J" in out or "\\x1b" in out.replace("\n", ""), args
    _code, out = run("incident", "show", i)
    assert "[/bold] [link=https://evil.example]x[/link]" in out  # as typed, not a link
    assert "<U+202E>evil" in out
