from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from tests.unit.test_store import new_run

from runbook import __version__
from runbook.cli import cli, main
from runbook.errors import ExitCode

DESTRUCTIVE = """
name: wipe
description: Wipe things. Used by the tests.
priority: P0
playbook: status.yml
destructive: true
parameters:
  - name: feature
    type: string
    required: true
    pattern: "[a-z_]+"
    help: The feature.
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "runbooks").mkdir()
    (tmp_path / "runbooks" / "wipe.yml").write_text(DESTRUCTIVE)
    (tmp_path / "hosts.yml").write_text("all:\n  hosts:\n    web-1:\n      site: a\n")
    return tmp_path


def test_help_lists_builtins_and_runbooks(state_dir: Path) -> None:
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    for word in ("list", "show", "runs", "sandbox", "status", "[P3]"):
        assert word in result.output


def test_version(state_dir: Path) -> None:
    result = CliRunner().invoke(cli, ["--version"])
    assert __version__ in result.output


def test_list_and_json(state_dir: Path) -> None:
    result = CliRunner().invoke(cli, ["list", "--json"])
    assert result.exit_code == 0
    names = {b["name"] for b in json.loads(result.output)}
    assert "status" in names
    table = CliRunner().invoke(cli, ["list"])
    assert "status" in table.output and "P3" in table.output


def test_show_unknown_runbook_lists_catalog(
    state_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["show", "nope"]) == ExitCode.USAGE
    err = capsys.readouterr().err
    assert "no runbook 'nope'" in err and "status" in err


def test_show_project_runbook(state_dir: Path, project: Path) -> None:
    result = CliRunner().invoke(cli, ["--project", str(project), "show", "wipe", "--json"])
    data = json.loads(result.output)
    assert data["destructive"] is True
    assert data["parameters"][0]["name"] == "feature"


def test_runbook_help_shows_parameters_and_common_flags(state_dir: Path, project: Path) -> None:
    result = CliRunner().invoke(cli, ["--project", str(project), "wipe", "--help"])
    assert result.exit_code == 0
    for flag in (
        "--feature",
        "--reason",
        "-i, --inventory",
        "-l, --limit",
        "-e, --extra-vars",
        "--check",
        "--diff",
        "--json",
        "-y, --yes",
        "-v, --verbose",
    ):
        assert flag in result.output


def run_main(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


def test_destructive_needs_reason(
    state_dir: Path, project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run_main(
        ["--project", str(project), "wipe", "--feature", "x", "-i", str(project / "hosts.yml")],
        capsys,
    )
    assert code == ExitCode.USAGE
    assert "--reason is required" in err


def test_destructive_without_terminal_refuses_at_once(
    state_dir: Path, project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run_main(
        [
            "--project",
            str(project),
            "wipe",
            "--feature",
            "x",
            "--reason",
            "r",
            "-i",
            str(project / "hosts.yml"),
        ],
        capsys,
    )
    assert code == ExitCode.ABORTED
    assert "no terminal to confirm on: pass --yes" in err
    assert not (state_dir / "runs").exists()  # nothing ran


def test_parameter_validation_names_the_option(
    state_dir: Path, project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run_main(
        [
            "--project",
            str(project),
            "wipe",
            "--feature",
            "Bad!",
            "--reason",
            "r",
            "-i",
            str(project / "hosts.yml"),
        ],
        capsys,
    )
    assert code == ExitCode.USAGE
    assert "--feature: 'Bad!' does not match" in err
    code, _, err = run_main(
        ["--project", str(project), "wipe", "--reason", "r", "-i", str(project / "hosts.yml")],
        capsys,
    )
    assert "wipe needs --feature" in err


@pytest.mark.parametrize("reason", ["", "   ", "a\x00b", "x" * 2001])
def test_bad_reasons_refused(
    state_dir: Path, reason: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run_main(["status", "--reason", reason, "-i", "/nonexistent"], capsys)
    assert code == ExitCode.USAGE
    assert "--reason" in err


def test_missing_inventory_named(state_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_main(["status", "-i", "/nonexistent/inv.yml"], capsys)
    assert code == ExitCode.USAGE
    assert "/nonexistent/inv.yml" in err


def test_limit_matching_nothing(
    state_dir: Path, project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run_main(["status", "-i", str(project / "hosts.yml"), "-l", "nothere"], capsys)
    assert code == ExitCode.USAGE
    assert "match --limit nothere" in err


def test_bad_extra_vars(state_dir: Path, project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_main(["status", "-i", str(project / "hosts.yml"), "-e", "novalue"], capsys)
    assert code == ExitCode.USAGE
    assert "expected key=value" in err


def test_bad_catalog_in_project_is_reported(
    state_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "runbooks").mkdir()
    (tmp_path / "runbooks" / "x.yml").write_text("name: x\n")
    code, _, err = run_main(["--project", str(tmp_path), "list"], capsys)
    assert code == ExitCode.USAGE
    assert "x.yml" in err and "field (top level)" in err


def test_runs_empty_and_unknown(state_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_main(["runs", "--json"], capsys)
    assert code == 0 and json.loads(out) == []
    code, _, err = run_main(["runs", "show", "nope"], capsys)
    assert code == ExitCode.USAGE and "no run 'nope'" in err


def test_unknown_command_is_usage_error(
    state_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run_main(["frobnicate"], capsys)
    assert code == ExitCode.USAGE
    assert "No such command" in err


def test_a_mistyped_name_gets_the_closest_runbook(
    state_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run_main(["p0-rollbak", "--reason", "x"], capsys)
    assert code == ExitCode.USAGE
    assert "Did you mean 'p0-rollback'?" in err
    code, _, err = run_main(["show", "p0-rollbak"], capsys)
    assert code == ExitCode.USAGE and "did you mean p0-rollback?" in err


def test_show_prints_patterns_whole_and_defaults(
    state_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run_main(["show", "p0-rollback"], capsys)
    assert code == 0
    assert r"matches latest|[a-z0-9_-]+-backup-[0-9]{8}-[0-9]{6}\.tar\.gz" in out
    assert "default latest" in out


def test_runbook_help_keeps_the_first_paragraph_whole(
    state_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run_main(["p1-disable-feature", "--help"], capsys)
    assert code == 0
    first = " ".join(out.split("\n\n")[1].split())
    assert first == (
        "[P1] Disable one feature flag on every site, every other flag untouched; "
        "flush caches; verify."
    )
    assert "workflow document" not in out


def test_runs_never_cut_ids_and_show_takes_last(
    state_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from runbook.store import Store

    with Store() as store:
        for n in range(2):
            new_run(store, f"20261129T10000{n}Z-abcde{n}", f"2026-11-29T10:00:0{n}Z")
    code, out, _ = run_main(["runs"], capsys)  # no terminal here
    assert code == 0
    assert "20261129T100001Z-abcde1" in out and "20261129T100000Z-abcde0" in out
    code, out, _ = run_main(["runs", "--json"], capsys)
    assert [r["run_id"] for r in json.loads(out)] == [
        "20261129T100001Z-abcde1",
        "20261129T100000Z-abcde0",
    ]
    code, out, _ = run_main(["runs", "show", "last", "--json"], capsys)
    assert json.loads(out)["run_id"] == "20261129T100001Z-abcde1"
    code, _, err = run_main(["runs", "show", "20261129"], capsys)
    assert code == ExitCode.USAGE and "more than one run" in err
    code, out, _ = run_main(["runs", "show", "20261129T100000", "--json"], capsys)
    assert json.loads(out)["run_id"] == "20261129T100000Z-abcde0"


def test_a_bad_project_file_does_not_stop_the_shipped_runbooks(
    state_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "runbooks").mkdir()
    (tmp_path / "runbooks" / "x.yml").write_text("a: &a [1, 2]\nb: [*a, *a]\n")
    code, out, _ = run_main(["--project", str(tmp_path), "p0-rollback", "--help"], capsys)
    assert code == 0 and "Roll the fleet back now" in out
    code, _, err = run_main(["--project", str(tmp_path), "x"], capsys)
    assert code == ExitCode.USAGE and "x.yml" in err and "aliases" in err


def test_extra_vars_files_refuse_bombs(
    state_dir: Path, project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bomb = tmp_path / "vars.yml"
    bomb.write_text("a: &a [1, 2]\nb: [*a, *a]\n")
    code, _, err = run_main(["status", "-i", str(project / "hosts.yml"), "-e", f"@{bomb}"], capsys)
    assert code == ExitCode.USAGE and "aliases" in err and "vars.yml" in err


def test_hostile_reasons_print_as_text_in_the_record(
    state_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from runbook.store import Store

    reason = "[/bold] [link=https://evil.example]x[/link] \x1b]0;pwned\x07 \u202eevil"
    with Store() as store:
        new_run(store, "20261129T100000Z-abcdef", runbook="p0-rollback", reason=reason)
    for args in (["runs"], ["runs", "show", "last"]):
        code, out, err = run_main(args, capsys)
        assert code == 0, err
        assert "\x1b" not in out and "\u202e" not in out
        assert "[/bold]" in out
    assert "<U+202E>evil" in out  # runs show: the whole reason


def test_extra_vars_may_not_set_runbooks_or_the_roles_internals(
    state_dir: Path, project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """-e site_lock_force=true broke another run's lock with nothing in the record."""
    for given, why in (
        ("site_lock_force=true", "an input of the site_lock role; set it in the inventory"),
        ("runbook_force_unlock=true", "runbook's own"),
        ('{"runbook_params": {"backup": "x"}}', "runbook's own"),
    ):
        code, _, err = run_main(["status", "-i", str(project / "hosts.yml"), "-e", given], capsys)
        assert code == ExitCode.USAGE, given
        assert "refused" in err and why in err, err


def test_a_full_state_disk_stops_a_run_before_anything_is_touched(
    state_dir: Path,
    project: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With the state folder full a run took the locks, then crashed with exit 1."""
    from runbook import execution

    monkeypatch.setattr(execution, "MIN_FREE_BYTES", 1 << 60)
    code, _, err = run_main(["status", "-i", str(project / "hosts.yml")], capsys)
    assert code == ExitCode.ENVIRONMENT
    assert "free some space; nothing was run" in err
    code, out, _ = run_main(["runs", "--json"], capsys)
    assert json.loads(out) == []
