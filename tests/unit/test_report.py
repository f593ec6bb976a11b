"""`runbook report`: the Success Metrics from stored cycles (the shape the monitor stores),
in text, Markdown and HTML with plots."""

from __future__ import annotations

from pathlib import Path

from runbook.cli import main
from runbook.monitor import render, report
from runbook.store import Store


def cycle(at: str, api: float | None, p95: float | None, critical: int, e5xx: int) -> dict:
    return {
        "at": at,
        "sites": {
            "beta": {
                "verdict": "red" if critical else "green",
                "tables": {},
                "raw": {"beta-1": {"critical_new": critical, "requests": 100, "errors_5xx": e5xx}},
                "metrics": [
                    {
                        "scope": "host",
                        "target": "beta-1",
                        "metric": "api_errors",
                        "value": api,
                        "samples": 40,
                        "verdict": "green",
                    },
                    {
                        "scope": "host",
                        "target": "beta-1",
                        "metric": "php_errors",
                        "value": 0.0,
                        "samples": 100,
                        "verdict": "green",
                    },
                    {
                        "scope": "host",
                        "target": "beta-1",
                        "metric": "api_response",
                        "value": p95,
                        "samples": 40,
                        "verdict": "green",
                    },
                    {
                        "scope": "site",
                        "target": "beta",
                        "metric": "feature_adoption",
                        "value": 85.0,
                        "samples": 1,
                        "verdict": "green",
                    },
                ],
                "rules": [],
                "plan": {"action": "none"},
            }
        },
    }


def test_success_metrics_met_and_not_met() -> None:
    healthy = [
        cycle("2026-11-30T10:00:00Z", 0.5, 150, 0, 0),
        cycle("2026-11-30T10:01:00Z", 0.0, 160, 0, 0),
    ]
    got = {m["metric"]: m for m in report.success_metrics(healthy, "beta", 150.0, [])}
    assert got["Error rate < 1%"]["result"] == "met"
    assert (
        got["Error rate < 1%"]["figures"] == "API 0.25% of 80 requests, PHP 0.00% of 200 requests"
    )
    assert got["Performance within 10% of baseline"]["result"] == "met"
    assert got["Zero critical errors"]["result"] == "met"
    assert got["Feature adoption > 80%"]["result"] == "met"
    assert got["No increase in support tickets"]["result"] == "unknown"
    assert got["Zero downtime"]["result"] == "met"
    sick = [*healthy, cycle("2026-11-30T10:02:00Z", 50.0, 2000, 7, 20)]
    got = {m["metric"]: m for m in report.success_metrics(sick, "beta", 150.0, ["run-9"])}
    assert got["Error rate < 1%"]["result"] == "not met"
    assert got["Performance within 10% of baseline"]["result"] == "not met"
    assert got["Zero critical errors"]["figures"] == "7 PHP fatal/parse errors in 3 cycles"
    assert got["Zero downtime"]["result"] == "not met"
    assert "failed smoke checks in run run-9" in got["Zero downtime"]["figures"]
    # No baseline, no cycles: unknown, never met.
    assert report.success_metrics(healthy, "beta", None, [])[1]["result"] == "unknown"
    assert {m["result"] for m in report.success_metrics([], "beta", 150.0, [])} == {"unknown"}


def test_report_formats_from_the_record(state_dir: Path, tmp_path: Path, capsys) -> None:
    with Store(state_dir / "runbook.sqlite3") as store:
        for c in (
            cycle("2026-11-30T10:00:00Z", 0.0, 150, 0, 0),
            cycle("2026-11-30T10:01:00Z", 40.0, 900, 3, 5),
        ):
            store.finish_cycle(
                fleet="f",
                at=c["at"],
                dry_run=False,
                run_id=None,
                verdict="red",
                sites=c["sites"],
                offsets={},
            )
        store.add_monitor_event(
            fleet="f",
            site="beta",
            kind="decision",
            at="2026-11-30T10:01:00Z",
            summary="p0-rollback beta: <b>critical</b> | pipe",
        )
    since = "2026-11-30T09:00:00Z"
    assert main(["report", "--since", since]) == 0
    out = capsys.readouterr().out
    assert "NOT MET  Zero critical errors: 3 PHP fatal/parse errors in 2 cycles" in out
    assert main(["report", "--since", since, "--format", "md"]) == 0
    md = capsys.readouterr().out
    assert "| Zero critical errors | not met | 3 PHP fatal/parse errors in 2 cycles |" in md
    assert "<b>critical</b> \\| pipe" in md
    target = tmp_path / "out" / "report.html"
    assert main(["report", "--since", since, "--format", "html", "-o", str(target)]) == 0
    page = target.read_text()
    assert page.count("<figure") == 1 and "<svg" in page and "error rate (%)" in page
    assert "&lt;b&gt;critical&lt;/b&gt;" in page and "<b>critical" not in page
    assert main(["report", "--since", "last tuesday"]) == 2


def test_an_empty_period_says_so() -> None:
    doc = {
        "since": "a",
        "until": "b",
        "cycles": 0,
        "sites": {},
        "events": [],
        "runs": [],
        "incidents": [],
    }
    assert "No monitor cycles in this period" in render.text(doc)
    assert "No monitor cycles in this period" in render.page(doc)


def test_a_deploys_visual_check_is_in_the_report(state_dir: Path, tmp_path: Path) -> None:
    """The deploy's gates are listed; the page over the threshold is shown (before, after,
    diff); a page within it is a table row only."""
    from PIL import Image

    from runbook.service import report as report_service
    from runbook.service.workspace import Workspace

    shots = {}
    for name, colour in (("before", "white"), ("after", "red"), ("diff", "black")):
        shots[name] = tmp_path / f"{name}.png"
        Image.new("RGB", (1280, 900), colour).save(shots[name])
    failed = {
        "host": "alpha-1",
        "page": "/wp-login.php",
        "status": 200,
        "changed_share": 0.43,
        **{k: str(v) for k, v in shots.items()},
    }
    passed = {**failed, "page": "/", "changed_share": 0.001, "before": str(tmp_path / "gone.png")}
    with Store(state_dir / "runbook.sqlite3") as store:
        deploy = store.start_rollout(
            kind="deploy",
            subject="2.1.3",
            sites=["alpha"],
            plan={"visual": {"threshold": 0.01}},
            state={},
            reason="ship <it>",
            operator="ops",
            inventory="inv",
        )
        store.add_rollout_event(
            deploy,
            "gate",
            "wave 1 (alpha-1): red (visual_change)",
            {"wave": 1, "visual": {"pages": [passed, failed], "failed": "..."}},
        )
    doc = report_service.build(Workspace(), "1h")
    (change,) = doc["changes"]
    assert [(p["page"], p["failed"]) for p in change["visual_pages"]] == [
        ("/", False),
        ("/wp-login.php", True),
    ]
    page = render.page(doc)
    assert "ship &lt;it&gt;" in page and "wave 1 (alpha-1): red (visual_change)" in page
    assert page.count("data:image/png;base64,") == 3
    assert "/wp-login.php on alpha-1: before, after, difference" in page
    assert "43.00%" in page and "0.10%" in page
    assert "visual /wp-login.php on alpha-1: 43.0% changed" in render.text(doc)
    assert "| 1 | alpha-1 | /wp-login.php | 200 | 43.00% **over** |" in render.markdown(doc)
