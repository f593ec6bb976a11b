"""The service layer without the CLI: the options, confirmation through a callback, the
inventory fallback, the profile, and the pure report functions."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.conftest import REPO

from runbook.errors import ExitCode, RunbookError
from runbook.health import report
from runbook.service import COMMON_OPTIONS, RunOptions, Workspace
from runbook.service.runs import prepare

INVENTORY = "all:\n  hosts:\n    web-1:\n      site: a\n      wp_path: /srv/a\n"


@pytest.fixture
def ws(tmp_path: Path, state_dir: Path) -> Workspace:
    (tmp_path / "hosts.yml").write_text(INVENTORY)
    return Workspace(
        project=None, db=tmp_path / "db.sqlite3", fallback_inventory=tmp_path / "hosts.yml"
    )


def test_run_options_are_the_common_options() -> None:
    options, params = RunOptions.split(
        {
            "reason": "drill",
            "inventory": ("a.yml",),
            "extra_vars": ("x=1",),
            "verbose": 2,
            "backup": "latest",
            "yes": True,
        }
    )
    assert options.reason == "drill" and options.inventory == ("a.yml",)
    assert options.extra_vars == {"x": "1"} and options.verbose == 2 and options.yes
    assert params == {"backup": "latest"}
    # Each common option is a RunOptions field, and nothing else is.
    assert {o.dest for o in COMMON_OPTIONS} == set(vars(options))


def test_confirmation_goes_through_the_callback(ws: Workspace) -> None:
    book = ws.runbook("p0-rollback")
    asked: list[str] = []
    with pytest.raises(RunbookError) as refused:
        prepare(ws, book, {}, RunOptions(reason="drill"), print, None)
    assert refused.value.code == ExitCode.ABORTED and "pass --yes" in refused.value.message

    def no(question: str) -> bool:
        asked.append(question)
        return False

    with pytest.raises(RunbookError, match="not confirmed"):
        prepare(ws, book, {}, RunOptions(reason="drill"), print, no)
    assert asked == ["p0-rollback will change 1 hosts in 1 sites (a). Go ahead?"]
    request = prepare(ws, book, {}, RunOptions(reason="drill"), print, lambda _: True)
    assert request.hosts == {"web-1": "a"}
    assert request.params == {"backup": "latest"}  # the catalog's default
    assert request.extra_vars["runbook_target"]["rollback_flags"]["legacy_fallback"] is True


def test_no_inventory_without_the_fallback(tmp_path: Path, state_dir: Path) -> None:
    bare = Workspace(project=None, db=tmp_path / "db.sqlite3")
    with pytest.raises(RunbookError, match="no inventory"):
        prepare(bare, bare.runbook("status"), {}, RunOptions(), print)


def test_a_mistyped_runbook_names_the_closest(ws: Workspace) -> None:
    with pytest.raises(RunbookError, match="did you mean p0-rollback"):
        ws.runbook("p0-rollbak")


def test_errors_top_and_skew_are_pure() -> None:
    hosts = {
        "a-1": {
            "outcome": "ok",
            "logs": {
                "counts": {"php:fatal": 2, "mase:fatal": 1, "nginx:warning": 3},
                "top": [
                    {
                        "fingerprint": "f1",
                        "level": "fatal",
                        "count": 2,
                        "sample": "x",
                        "first_seen": "2026-11-27T10:00:00+00:00",
                        "last_seen": "2026-11-27T10:05:00+00:00",
                    }
                ],
            },
        },
        "a-2": {
            "outcome": "ok",
            "logs": {
                "counts": {"php:fatal": 1},
                "top": [
                    {
                        "fingerprint": "f1",
                        "level": "fatal",
                        "count": 1,
                        "sample": "x",
                        "first_seen": "2026-11-27T09:00:00+00:00",
                        "last_seen": "2026-11-27T09:01:00+00:00",
                    }
                ],
            },
        },
        "b-1": {"outcome": "unreachable", "message": "timed out", "logs": None},
    }
    rows = report.count_errors(hosts, None, "mase")
    assert rows["a-1"]["fatal"] == 2 and rows["a-1"]["warning"] == 3  # mase not counted twice
    assert report.count_errors(hosts, "mase", "mase")["a-1"]["fatal"] == 1
    assert report.totals(rows)["fatal"] == 3
    [top] = report.merge_top(hosts, 5)
    assert top["count"] == 3 and top["hosts"] == {"a-1": 2, "a-2": 1}
    assert top["first_seen"].startswith("2026-11-27T09:00")
    assert report.not_scanned(hosts) == {"b-1": "unreachable: timed out"}
    assert report.clock_skew("2026-11-27T10:00:05+00:00", "2026-11-27T10:00:00Z") == 5.0
    assert report.stack_thresholds(
        {"t": {"m": {"red": 1, "yellow": 2}}}, {"t": {"m": {"red": 3}}}
    ) == {"t": {"m": {"red": 3, "yellow": 2}}}


def test_a_second_plugin_is_configuration(tmp_path: Path, state_dir: Path) -> None:
    shipped = (REPO / "targets" / "default.yml").read_text()
    (tmp_path / "other.yml").write_text(
        shipped.replace("slug: mase", "slug: other").replace("name: MASE", "name: Other")
    )
    (tmp_path / "runbook.yml").write_text("target: other.yml\n")
    profile = Workspace(project=tmp_path).profile()
    assert (profile.slug, profile.name) == ("other", "Other")
    assert profile.as_vars()["rollback_flags"]["legacy_fallback"] is True
    (tmp_path / "other.yml").write_text("runbook_target: {slug: 'Bad Slug'}\n")
    with pytest.raises(RunbookError, match=r"other.yml: field slug: 'Bad Slug' is not valid"):
        Workspace(project=tmp_path).profile()


def _p0_run(ws: Workspace, run_id: str, code: ExitCode, changed: int) -> object:
    from runbook.events import HostOutcome, RunModel
    from runbook.execution import RunRequest, RunResult
    from runbook.inventory import Inventory

    book = ws.runbook("p0-rollback")
    model = RunModel.for_hosts({"alpha-1": "alpha"})
    state = model.hosts["alpha-1"]
    state.seen, state.ok, state.changed = True, 3, changed
    with ws.store() as store:
        store.start_run(
            run_id=run_id,
            runbook=book.name,
            parameters={},
            reason="admin crashes",
            operator="ops",
            inventory="inv",
            host_limit=None,
            check_mode=False,
            started_at="2026-11-29T10:00:00Z",
            artifact_dir="/tmp/a",
        )
        store.finish_run(
            run_id,
            status="successful",
            exit_code=int(code),
            ended_at="2026-11-29T10:01:00Z",
            hosts=[HostOutcome.of(state)],
            summary={},
        )
    request = RunRequest(
        book, {}, Inventory((), "-i"), {"alpha-1": "alpha"}, reason="admin crashes"
    )
    return RunResult(
        run_id,
        request,
        model,
        "successful",
        code,
        "2026-11-29T10:00:00Z",
        "2026-11-29T10:01:00Z",
        60.0,
        Path("/tmp"),
        0,
        False,
    )


def test_one_incident_per_emergency(ws: Workspace) -> None:
    """Every refused or retried p0-rollback opened another P0 incident."""
    from runbook.incidents.records import Incidents
    from runbook.service.runs import attach_incident

    book = ws.runbook("p0-rollback")
    said: list[str] = []
    first = _p0_run(ws, "r1", ExitCode.OK, 1)
    assert attach_incident(ws, book, first, None, said.append) == 1  # type: ignore[arg-type]
    again = _p0_run(ws, "r2", ExitCode.HOSTS_FAILED, 1)
    assert attach_incident(ws, book, again, None, said.append) == 1  # type: ignore[arg-type]
    assert "joins P0 incident 1" in said[-1]
    refused = _p0_run(ws, "r3", ExitCode.LOCK_HELD, 0)
    assert attach_incident(ws, book, refused, None, said.append) is None  # type: ignore[arg-type]
    with ws.store() as store:
        incidents = Incidents(store)
        assert [i["id"] for i in incidents.all(True)] == [1]
        assert [r["run_id"] for r in incidents.runs(1)] == ["r1", "r2"]
        incidents.update(1, status="resolved")
    later = _p0_run(ws, "r4", ExitCode.OK, 1)
    assert attach_incident(ws, book, later, None, said.append) == 2  # type: ignore[arg-type]
    assert later.incident_id == 2  # type: ignore[attr-defined]


def test_logs_older_than_the_window_are_named() -> None:
    hosts = {
        "a-1": {
            "logs": {
                "window": {"since": "2026-11-30T02:00:00+00:00"},
                "sources": [
                    {"path": "/var/log/php/error.log", "newest": "2026-05-02T10:00:09+00:00"},
                    {"path": "/var/log/nginx/error.log", "newest": "2026-11-30T02:10:00+00:00"},
                    {"path": "/srv/debug.log", "newest": None},
                ],
            }
        },
        "b-1": {"logs": None},
    }
    assert report.older_than_window(hosts) == {
        "a-1": {"/var/log/php/error.log": "2026-05-02T10:00:09+00:00"}
    }
