"""`runbook deploy` on the sandbox with real traffic: a good package in waves, a package that
fatals on its REST routes caught by the first wave's gate and reverted, hostile packages
refused before any node changes."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
from tests.integration.conftest import shaped_sandbox
from tests.integration.streamed import Streamed
from tests.integration.test_rollback import flags, plugin_tree, version
from tests.integration.test_rollout import traffic

from runbook.errors import ExitCode
from runbook.sandbox import assets, fleet
from runbook.store import Store

NODES = ("alpha-1", "alpha-2", "beta-1", "beta-2")


def package(tmp_path: Path, version_: str, breaks: str | None = None) -> Path:
    """The sandbox plugin at `version_` as WordPress ships plugins: a zip of mase/."""
    tree = tmp_path / "src" / "mase"
    assets.write_plugin(tree, version_)
    admin = tree / "includes" / "admin.php"
    if breaks == "layout":
        # No PHP error anywhere: the login page's stylesheet paints it red.
        admin.write_text(
            admin.read_text() + "\nadd_action('login_head', function () {\n"
            "    echo '<style>body.login{background:#c00 !important}</style>';\n});\n"
        )
    elif breaks is None:
        # A harmless change: the version in a hidden field of the login form.
        admin.write_text(
            admin.read_text() + "\nadd_action('login_form', function () {\n"
            '    echo \'<input type="hidden" name="mase_version" value="\' . '
            "esc_attr(MASE_VERSION) . '\">';\n});\n"
        )
    if breaks == "status":
        rest = tree / "includes" / "rest.php"
        rest.write_text(
            rest.read_text().replace(
                "'version' => MASE_VERSION", "'version' => mase_status_version_of_2_1_2()"
            )
        )
    if breaks == "templates":
        # The templates listing: traffic asks for it, the wave's smoke test does not, so the
        # health gate on real requests is what must catch it.
        rest = tree / "includes" / "rest.php"
        text = rest.read_text()
        broken = text.replace(
            "return array_keys(mase_templates());", "return mase_templates_index_of_2_1_2();"
        )
        assert broken != text
        rest.write_text(broken)
    out = tmp_path / f"mase-{version_}.zip"
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as bundle:
        for path in sorted(tree.rglob("*")):
            bundle.write(path, path.relative_to(tree.parent).as_posix())
    return out


def deploy_args(source: Path, *extra: str, analysis: str = "4s") -> list[str]:
    """`runbook deploy` of `source` with the tests' short windows."""
    return [
        "deploy",
        "--package",
        str(source),
        "--reason",
        "ship it",
        "--analysis",
        analysis,
        "--min-samples",
        "5",
        *extra,
    ]


def deploy(runbook_cli, source: Path, *extra: str):  # type: ignore[no-untyped-def]
    return runbook_cli(*deploy_args(source, *extra), timeout=600)


def events(state_dir: Path) -> list[dict]:
    with Store(state_dir / "runbook.sqlite3") as store:
        return store.rollout_events(1)


@pytest.fixture(scope="module")
def sandbox():
    """This module's fleet: two sites of two nodes (waves of 1, 50% and 100% are 1, 1 and 2
    nodes)."""
    with shaped_sandbox(sites=2, nodes=2) as built:
        yield built


@pytest.fixture
def fresh(sandbox):
    fleet.reset()
    return sandbox


def test_a_good_package_in_waves(fresh, runbook_cli, state_dir, tmp_path) -> None:
    before = {n: len(list((fresh.root / "hosts" / n).rglob("mase-backup-*.tar.gz"))) for n in NODES}
    proc = Streamed(
        *deploy_args(package(tmp_path, "2.1.1"), "--version", "2.1.1", "--waves", "1,50%,100%")
    )
    # Each node's version once each wave is in (its gate's analysis is running).
    seen = []
    with traffic(["alpha", "beta"]):
        for wave in ("wave 1: alpha-1 on", "wave 2: alpha-2 on", "wave 3: beta-1, beta-2 on"):
            proc.wait_for(wave, timeout=300)
            seen.append({n: version(fresh, n) for n in NODES})
        out = proc.finish(timeout=300)
    assert proc.returncode == 0, out
    assert seen == [
        {"alpha-1": "2.1.1", "alpha-2": "2.1.0", "beta-1": "2.1.0", "beta-2": "2.1.0"},
        {"alpha-1": "2.1.1", "alpha-2": "2.1.1", "beta-1": "2.1.0", "beta-2": "2.1.0"},
        {n: "2.1.1" for n in NODES},
    ]
    waves = [e["data"]["hosts"] for e in events(state_dir) if e["kind"] == "wave"]
    assert waves == [["alpha-1"], ["alpha-2"], ["beta-1", "beta-2"]]
    gates = [e for e in events(state_dir) if e["kind"] == "gate"]
    assert [g["data"]["verdict"] for g in gates] == ["green"] * 3
    assert {version(fresh, n) for n in NODES} == {"2.1.1"}
    # The features stayed off (every wave's smoke test checked it), and are off now.
    for site in ("alpha", "beta"):
        current = flags(fresh, site)
        assert not any(current[f] for f in ("modern_preview_engine", "modern_api_client"))
    # Every node was backed up before it changed.
    for node in NODES:
        assert (
            len(list((fresh.root / "hosts" / node).rglob("mase-backup-*.tar.gz"))) >= before[node]
        )
    shown = runbook_cli("deploy", "status", "1", "--json").json()
    assert shown["status"] == "completed" and shown["where"]["phase"] == "done"
    # The visual check passed a harmless change (a hidden field), page by page, node by node.
    # Each site's key pages: the fixed ones and the first page its sitemap lists.
    checked = [p for g in gates for p in g["data"]["visual"]["pages"]]
    assert {(p["host"], p["page"]) for p in checked} == {
        (n, page) for n in NODES for page in ("/", "/wp-login.php", "/hello-world/")
    }
    assert all(p["changed_share"] <= 0.01 and p["status"] == 200 for p in checked)
    assert all(Path(p["diff"]).is_file() and Path(p["after"]).is_file() for p in checked)


def test_a_layout_break_without_any_error_is_caught_by_the_visual_check(
    fresh, runbook_cli, state_dir, tmp_path
) -> None:
    with traffic(["alpha", "beta"]):
        result = deploy(
            runbook_cli,
            package(tmp_path, "2.1.3", breaks="layout"),
            "--waves",
            "1,100%",
            "--visual-pages",
            "/,/wp-login.php",
            "--json",
        )
    assert result.code == ExitCode.HEALTH_RED, result.err
    # --json: the deploy's document at the end, however it ended.
    assert result.json()["status"] == "aborted" and result.json()["incident_id"] == 1
    gate = next(e for e in events(state_dir) if e["kind"] == "gate")
    assert gate["data"]["outcome"] == "abort" and "visual_change" in gate["data"]["fired"]
    login = next(p for p in gate["data"]["visual"]["pages"] if p["page"] == "/wp-login.php")
    assert login["host"] == "alpha-1" and login["changed_share"] > 0.2
    assert "visual: /wp-login.php on alpha-1 changed" in gate["summary"]
    assert {version(fresh, n) for n in NODES} == {"2.1.0"}


def test_a_package_that_fatals_is_caught_by_the_first_wave_and_reverted(
    fresh, runbook_cli, state_dir, tmp_path
) -> None:
    broken = package(tmp_path, "2.1.2", breaks="templates")
    untouched = {n: plugin_tree(fresh, n).joinpath("mase.php").read_text() for n in NODES}
    proc = Streamed(*deploy_args(broken, "--waves", "1,100%", "--visual-pages", "/", analysis="6s"))
    # Visitors arrive once the first wave is in: only its gate, on their requests, sees it.
    proc.wait_for("wave 1: alpha-1 on 2.1.2")
    with traffic(["alpha", "beta"], rate=30):
        out = proc.finish(timeout=300)
    assert proc.returncode == ExitCode.HEALTH_RED, out
    gate = next(e for e in events(state_dir) if e["kind"] == "gate")
    assert gate["data"]["verdict"] == "red" and gate["data"]["outcome"] == "abort"
    assert {"critical_errors_last_5m", "new_fatal_fingerprint"} <= set(gate["data"]["fired"])
    # The deployed node is back, verified; the others never received the package.
    assert {version(fresh, n) for n in NODES} == {"2.1.0"}
    assert plugin_tree(fresh, "alpha-1").joinpath("mase.php").read_text() == untouched["alpha-1"]
    started = next(e for e in events(state_dir) if e["kind"] == "started")
    shipped = Path(started["data"]["package"]["archive"]).name
    for node in ("alpha-2", "beta-1", "beta-2"):
        assert not list((fresh.root / "hosts" / node).rglob(f"packages/{shipped}"))
    assert list((fresh.root / "hosts" / "alpha-1").rglob(f"packages/{shipped}"))
    kinds = [e["kind"] for e in events(state_dir)]
    assert "reverted" in kinds and kinds[-1] == "aborted"
    listing = runbook_cli("incident", "list", "--json").json()
    assert len(listing) == 1 and listing[0]["priority"] == "P1"


def test_the_waves_smoke_test_stops_it_and_the_revert_holds_under_traffic(
    fresh, runbook_cli, state_dir, tmp_path
) -> None:
    """The status route fatals: the wave's own smoke test fails it. The revert's smoke test
    must judge the restored code, not the fatals the broken one wrote before the swap (it
    failed the revert, "MIXED VERSIONS", until the offsets were taken after the swap)."""
    with traffic(["alpha", "beta"], rate=30):
        result = deploy(
            runbook_cli,
            package(tmp_path, "2.1.2", breaks="status"),
            "--waves",
            "1",
            "--visual",
            "off",
        )
    assert result.code == ExitCode.HEALTH_RED, result.err
    kinds = [e["kind"] for e in events(state_dir)]
    assert "wave-failed" in kinds and "reverted" in kinds, kinds
    assert "revert-failed" not in kinds
    assert {version(fresh, n) for n in NODES} == {"2.1.0"}


@pytest.mark.parametrize(
    ("members", "extra", "message"),
    [
        (
            {"mase/mase.php": b"<?php /* Version: 9.9.9 */", "../../etc/evil": b"x"},
            (),
            "climbs out with '..'",
        ),
        (
            {"mase/mase.php": b"<?php\n/*\n * Plugin Name: MASE\n * Version: 2.1.1\n */"},
            ("--version", "2.2.0"),
            "--version says 2.2.0",
        ),
    ],
)
def test_hostile_packages_are_refused_before_any_node_changes(
    fresh, runbook_cli, state_dir, tmp_path, members, extra, message
) -> None:
    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil, "w") as bundle:
        for name, data in members.items():
            bundle.writestr(name, data)
    result = deploy(runbook_cli, evil, *extra)
    assert result.code == ExitCode.USAGE and message in result.err, result.err
    assert runbook_cli("runs", "--json").json() == []
    assert {version(fresh, n) for n in NODES} == {"2.1.0"}


def test_check_shows_the_plan_and_changes_nothing(fresh, runbook_cli, state_dir, tmp_path) -> None:
    backups = sorted(p.name for p in (fresh.root / "hosts").rglob("mase-backup-*.tar.gz"))
    before = {site: flags(fresh, site) for site in ("alpha", "beta")}
    result = deploy(runbook_cli, package(tmp_path, "2.1.1"), "--check", "--json")
    assert result.code == 0, result.err
    plan = result.json()["plan"]
    assert plan["order"] == list(NODES) and plan["waves"] == [1, 4]  # 25% of 4 is the 1 before
    assert plan["visual"]["site_pages"] == {
        site: ["/", "/wp-login.php", "/hello-world/"] for site in ("alpha", "beta")
    }
    # The preparation ran in check mode on every node; no deploy was recorded.
    shown = runbook_cli("runs", "show", result.json()["run_id"], "--json").json()
    assert shown["check_mode"] and shown["runbook"] == "deploy-prepare"
    assert runbook_cli("deploy", "status", "--json").json() == []
    assert sorted(p.name for p in (fresh.root / "hosts").rglob("mase-backup-*.tar.gz")) == backups
    assert {site: flags(fresh, site) for site in ("alpha", "beta")} == before
    assert {version(fresh, n) for n in NODES} == {"2.1.0"}
