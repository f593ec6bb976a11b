"""module_utils/runbook_wp.py as plain Python."""

from __future__ import annotations

from pathlib import Path

import pytest

from runbook.ansible.module_utils import runbook_wp as wp


def test_argv_is_a_list_with_deliberate_flags() -> None:
    argv = wp.wp_argv(
        "wp",
        "/srv/www",
        ["option", "get", "k"],
        allow_root=True,
        skip_plugins="mase",
        url="http://x",
    )
    assert argv == [
        "wp",
        "option",
        "get",
        "k",
        "--path=/srv/www",
        "--url=http://x",
        "--skip-plugins=mase",
        "--skip-themes",
        "--allow-root",
    ]
    assert "--allow-root" not in wp.wp_argv("wp", "/p", ["core", "version"])


def test_json_output_parsed_defensively() -> None:
    assert wp.parse_json_output('{"a":true}\n') == {"a": True}
    with pytest.raises(ValueError, match="not JSON: 'Hello from a plugin"):
        wp.parse_json_output('Hello from a plugin{"a":true}')


def test_run_wp_closes_stdin_and_reports_first_error_line(tmp_path: Path) -> None:
    script = tmp_path / "fake-wp"
    script.write_text(
        "#!/bin/sh\ncat >/dev/null\necho 'Error: YIKES! root' >&2\necho 'second line' >&2\nexit 1\n"
    )
    script.chmod(0o755)
    with pytest.raises(wp.WpError) as err:
        wp.run_wp([str(script), "option", "get", "k", "--allow-root"], timeout=5)
    assert str(err.value) == "wp option get k (exit 1): Error: YIKES! root"
    assert err.value.rc == 1


def test_plugin_version_from_header(tmp_path: Path) -> None:
    plugin = tmp_path / "mase"
    plugin.mkdir()
    (plugin / "mase.php").write_text("<?php\n/**\n * Plugin Name: MASE\n * Version: 2.1.0\n */\n")
    assert wp.plugin_version(str(plugin), "mase") == "2.1.0"
    assert wp.plugin_version(str(tmp_path / "missing"), "mase") is None
