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


class Options:
    """A site's options as WP-CLI answers for them: `option get` prints JSON (an empty object
    as []) or fails with "Could not get"; `option update` stores what it is given."""

    def __init__(self, **values: object) -> None:
        self.values = dict(values)
        self.updates = 0
        self.corrupt = False

    def __call__(self, args: list[str]) -> str:
        import json

        if args[:2] == ["option", "get"]:
            if args[2] not in self.values:
                raise wp.WpError(["wp", *args], 1, "", f"Error: Could not get '{args[2]}' option.")
            value = self.values[args[2]]
            return json.dumps(value if value else [])
        if args[:2] == ["option", "update"]:
            self.updates += 1
            self.values[args[2]] = {"mangled": True} if self.corrupt else json.loads(args[3])
            return "Success: Updated."
        raise AssertionError(args)


def test_a_json_option_is_merged_written_once_and_read_back() -> None:
    site = Options(flags={"a": True, "b": True})
    done = wp.set_json_option(site, "/w", "flags", {"b": False, "c": True})
    assert done == {
        "changed": True,
        "before": {"a": True, "b": True},
        "after": {"a": True, "b": False, "c": True},
    }
    assert list(site.values["flags"]) == ["a", "b", "c"] and site.updates == 1
    again = wp.set_json_option(site, "/w", "flags", {"b": False, "c": True})
    assert again["changed"] is False and site.updates == 1  # nothing to write
    dry = wp.set_json_option(site, "/w", "flags", {"a": False}, check_mode=True)
    assert dry["changed"] and dry["after"]["a"] is False and site.values["flags"]["a"] is True


def test_a_json_option_that_is_missing_or_reads_back_wrong_is_an_option_error() -> None:
    with pytest.raises(wp.OptionError, match="cannot read flags in /w: wp option get"):
        wp.set_json_option(Options(), "/w", "flags", {"a": True})
    assert wp.set_json_option(Options(), "/w", "flags", {"a": True}, create=True)["changed"]
    site = Options(flags={"a": True})
    site.corrupt = True
    with pytest.raises(wp.OptionError, match="flags in /w reads back as") as caught:
        wp.set_json_option(site, "/w", "flags", {"a": False})
    assert caught.value.facts == {"before": {"a": True}, "after": {"mangled": True}}


def test_option_values_are_normalised_then_checked() -> None:
    assert wp.option_values({"a": "40"}, "percentages") == ({"a": 40}, [])
    assert wp.option_values({"a": "yes"}, "flags")[1] == ["a='yes' is not a boolean"]


def test_a_wordpress_root_is_a_folder_with_wp_load_php(tmp_path: Path) -> None:
    assert wp.not_a_wordpress_root(str(tmp_path)) == (
        f"{tmp_path} is not a WordPress root (no wp-load.php)"
    )
    (tmp_path / "wp-load.php").write_text("<?php\n")
    assert wp.not_a_wordpress_root(str(tmp_path)) is None
