"""Every row of shared/spec/wp-cli-contract.md, against the sandbox's `wp` on real WordPress.

With WP_CLI_BIN set, `runbook sandbox up` installs the real WP-CLI instead, and these same
tests check that the contract holds for it too.
"""

from __future__ import annotations

import json
import re
import subprocess

import pytest

from runbook.ansible.module_utils.runbook_wp import error_line

HOST = "beta-1"
PATH = "--path=/var/www/beta/htdocs"
BASE_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": "/root", "LANG": "C.UTF-8"}


@pytest.fixture
def wp(sandbox):
    def call(
        *args: str,
        allow_root: bool = True,
        env: dict[str, str] | None = None,
        input: str | None = None,
    ) -> subprocess.CompletedProcess[str]:
        argv = ["wp", *args, PATH, "--skip-themes"]
        if allow_root:
            argv.append("--allow-root")
        return sandbox.on(HOST, *argv, env={**BASE_ENV, **(env or {})}, input=input)

    yield call
    for name in ("rb_contract", "rb_contract_patch", "rb_contract_scalar"):
        call("option", "delete", name)


# -- streams and exit codes -------------------------------------------------------------------


def test_success_on_stdout_no_colour_exit_0(wp) -> None:
    r = wp("cache", "flush")
    assert (r.returncode, r.stdout, r.stderr) == (0, "Success: The cache was flushed.\n", "")
    assert "\x1b[" not in r.stdout


def test_error_on_stderr_exit_1(wp) -> None:
    r = wp("option", "get", "rb_no_such_option")
    assert r.returncode == 1
    assert r.stdout == ""
    assert r.stderr == "Error: Could not get 'rb_no_such_option' option. Does it exist?\n"


def test_warning_on_stderr_exit_0(wp) -> None:
    r = wp("option", "delete", "rb_no_such_option")
    assert r.returncode == 0
    assert r.stderr.startswith("Warning: ")


def test_quiet_drops_success_and_warning_not_data_or_errors(wp) -> None:
    assert wp("cache", "flush", "--quiet").stdout == ""
    assert wp("option", "delete", "rb_no_such_option", "--quiet").stderr == ""
    assert wp("option", "get", "blogname", "--quiet").stdout == "MASE sandbox\n"
    r = wp("option", "get", "rb_no_such_option", "--quiet")
    assert r.returncode == 1 and r.stderr.startswith("Error:")


def test_missing_positional_prints_usage_on_stdout(wp) -> None:
    r = wp("option", "get")
    assert r.returncode == 1
    assert r.stdout.startswith("usage: wp option get <key>")


def test_unknown_flag(wp) -> None:
    r = wp("option", "get", "blogname", "--frobnicate")
    assert r.returncode == 1
    assert r.stderr == "Error: Parameter errors:\n unknown --frobnicate parameter\n"


def test_database_down_for_every_command(sandbox, wp) -> None:
    with sandbox.broken("db-stop", "beta"):
        for args in (
            ("option", "get", "blogname"),
            ("cache", "flush"),
            ("transient", "delete", "--all"),
            ("plugin", "list", "--format=json"),
            ("core", "is-installed"),
        ):
            r = wp(*args)
            assert r.returncode == 1, args
            # The Error: line is the message; PHP's warnings may come first on stderr (the real
            # WP-CLI prints mysqli_real_connect's), and `core is-installed` says more.
            said = error_line(r.stderr)
            assert said.startswith("Error: Error establishing a database connection."), args
            if args[0] != "core":
                assert said == "Error: Error establishing a database connection.", args
            else:
                assert "could not be established" in said
    assert wp("option", "get", "blogname").returncode == 0


def test_db_check_is_mysqlchecks_word(sandbox, wp) -> None:
    """`wp db check` (WP-CLI's db-command, after_wp_config_load): mysqlcheck's own output, a
    line per table, then `Success: Database checked.`; with the database down, mysqlcheck's
    error and its exit code, and no `Error:` line of WP-CLI's."""
    r = wp("db", "check")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[-1] == "Success: Database checked."
    tables = dict(line.split() for line in lines[:-1])
    assert tables["wordpress.wp_options"] == "OK" and set(tables.values()) == {"OK"}
    with sandbox.broken("db-stop", "beta"):
        r = wp("db", "check")
        assert r.returncode == 2 and "Success:" not in r.stdout
        # mariadb-check when the client is MariaDB's (WP-CLI's get_sql_check_command)
        assert re.search(r"^(mysqlcheck|mariadb-check): Got error: 2002", r.stderr, re.M)
        assert "Error:" not in r.stderr


def test_cli_info_says_which_wp_cli_this_is(wp) -> None:
    """`wp cli info --format=json`: the version, and where WP-CLI lives; the sandbox's
    stand-in says it is one, so a report can tell them apart."""
    r = wp("cli", "info", "--format=json")
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout)
    assert info["wp_cli_version"] == "2.12.0" and info["php_version"].startswith("8.")
    assert info["wp_cli_dir_path"]


def test_root_needs_allow_root(wp) -> None:
    r = wp("option", "get", "blogname", allow_root=False)
    assert r.returncode == 1
    assert r.stderr.splitlines()[0].startswith(
        "Error: YIKES! It looks like you're running this as root."
    )
    assert (
        wp("option", "get", "blogname", allow_root=False, env={"WP_CLI_ALLOW_ROOT": "1"}).returncode
        == 0
    )
    assert (
        wp("option", "get", "blogname", allow_root=False, env={"WP_CLI_ALLOW_ROOT": "0"}).returncode
        == 1
    )
    # Even `--version` (WP-CLI checks for root first); `cli info` is let through.
    version = wp("--version", allow_root=False)
    assert version.returncode == 1 and version.stdout == ""
    assert error_line(version.stderr).startswith("Error: YIKES!")
    assert wp("--version").stdout == "WP-CLI 2.12.0\n"
    assert wp("cli", "info", allow_root=False).returncode == 0


def test_plugin_output_lands_on_stdout_before_the_data(sandbox, wp) -> None:
    mu = "/var/www/beta/htdocs/wp-content/mu-plugins"
    sandbox.on(HOST, "mkdir", "-p", mu)
    sandbox.on(HOST, "sh", "-c", f"echo '<?php echo \"noise from a mu-plugin\";' > {mu}/noise.php")
    try:
        r = wp("option", "get", "mase_feature_flags", "--format=json")
        assert r.returncode == 0
        assert r.stdout.startswith("noise from a mu-plugin{")
        from runbook.ansible.module_utils.runbook_wp import parse_json_output

        with pytest.raises(ValueError, match="noise from a mu-plugin"):
            parse_json_output(r.stdout)
    finally:
        sandbox.on(HOST, "rm", "-rf", mu)


def test_option_update_without_value_reads_stdin(wp) -> None:
    r = wp("option", "update", "rb_contract", "--format=json", input='{"from":"stdin"}')
    assert r.returncode == 0, r.stderr
    assert json.loads(wp("option", "get", "rb_contract", "--format=json").stdout) == {
        "from": "stdin"
    }


# -- commands ---------------------------------------------------------------------------------


def test_option_get_formats(wp) -> None:
    assert wp("option", "get", "mase_feature_flags", "--format=json").stdout == (
        '{"modern_preview_engine":true,"modern_state_manager":true,'
        '"modern_api_client":true,"legacy_fallback":false}\n'
    )
    # Scalars come back as JSON strings (the sandbox's sites are public: blog_public 1).
    assert wp("option", "get", "blog_public", "--format=json").stdout == '"1"\n'
    yaml_out = wp("option", "get", "mase_feature_flags", "--format=yaml").stdout
    assert yaml_out.startswith("---\n") and "modern_api_client: true" in yaml_out
    # Spyc's dump ends with a newline and print_value adds one: a blank last line.
    assert yaml_out.endswith("legacy_fallback: false\n\n")
    assert (
        "'legacy_fallback' => false"
        in wp("option", "get", "mase_feature_flags", "--format=var_export").stdout
    )


def test_option_get_json_escaping_and_empty_object(wp) -> None:
    wp("option", "update", "rb_contract", '{"url":"a/b","name":"Zoë"}', "--format=json")
    assert (
        wp("option", "get", "rb_contract", "--format=json").stdout
        == '{"url":"a\\/b","name":"Zo\\u00eb"}\n'
    )
    wp("option", "update", "rb_contract", "{}", "--format=json")
    assert wp("option", "get", "rb_contract", "--format=json").stdout == "[]\n"


def test_option_update_updated_then_unchanged(wp) -> None:
    value = '{"a":true,"b":false}'
    assert (
        wp("option", "update", "rb_contract", value, "--format=json").stdout
        == "Success: Updated 'rb_contract' option.\n"
    )
    assert (
        wp("option", "update", "rb_contract", value, "--format=json").stdout
        == "Success: Value passed for 'rb_contract' option is unchanged.\n"
    )
    # Strict equality: the same keys in another order are a change.
    assert (
        wp("option", "update", "rb_contract", '{"b":false,"a":true}', "--format=json").stdout
        == "Success: Updated 'rb_contract' option.\n"
    )


@pytest.mark.parametrize("bad", ["{not json", "", "null"])
def test_option_update_invalid_json_writes_nothing(wp, bad: str) -> None:
    wp("option", "update", "rb_contract", '{"keep":1}', "--format=json")
    r = wp("option", "update", "rb_contract", bad, "--format=json")
    assert r.returncode == 1
    assert r.stderr == f"Error: Invalid JSON: {bad}\n"
    assert wp("option", "get", "rb_contract", "--format=json").stdout == '{"keep":1}\n'


def test_option_patch(wp) -> None:
    wp("option", "update", "rb_contract_patch", '{"a":true,"b":true}', "--format=json")
    r = wp("option", "patch", "update", "rb_contract_patch", "a", "false", "--format=json")
    assert r.stdout == "Success: Updated 'rb_contract_patch' option.\n"
    r = wp("option", "patch", "update", "rb_contract_patch", "a", "false", "--format=json")
    assert r.stdout == "Success: Value passed for 'rb_contract_patch' option is unchanged.\n"
    wp("option", "patch", "insert", "rb_contract_patch", "c", "true", "--format=json")
    wp("option", "patch", "delete", "rb_contract_patch", "b")
    assert json.loads(wp("option", "get", "rb_contract_patch", "--format=json").stdout) == {
        "a": False,
        "c": True,
    }
    missing = wp("option", "patch", "update", "rb_contract_patch", "zz", "true", "--format=json")
    assert (missing.returncode, missing.stderr) == (1, 'Error: No data exists for key "zz"\n')
    gone = wp("option", "patch", "update", "rb_no_such_option", "a", "true", "--format=json")
    assert gone.returncode == 1 and gone.stderr.startswith("Error: No data exists for key")
    # Without --format=json the value is stored as a string.
    wp("option", "patch", "update", "rb_contract_patch", "a", "true")
    assert (
        json.loads(wp("option", "get", "rb_contract_patch", "--format=json").stdout)["a"] == "true"
    )


def test_transient_delete_all(wp) -> None:
    """A single site's `transient delete --all` deletes its `_transient_*` only (a timeout and
    its transient count once); `--network` the `_site_transient_*`. WP-CLI's plural rule:
    "1 transient", "2 transients" (never "transient(s)"); none: "No transients found."."""
    for name, value in (
        ("_transient_rb_contract_a", "a"),
        ("_transient_timeout_rb_contract_a", "9999999999"),
        ("_transient_rb_contract_b", "b"),
        ("_site_transient_rb_contract_s", "s"),
    ):
        assert wp("option", "update", name, value).returncode == 0
    r = wp("transient", "delete", "--all")
    assert r.returncode == 0, r.stderr
    said = re.fullmatch(r"Success: (\d+) (transients?) deleted from the database\.\n", r.stdout)
    assert said, r.stdout
    count, noun = int(said.group(1)), said.group(2)
    # WordPress may set transients of its own while booting: at least our two.
    assert count >= 2 and noun == ("transient" if count == 1 else "transients")
    for gone in ("_transient_rb_contract_a", "_transient_timeout_rb_contract_a"):
        assert wp("option", "get", gone).returncode == 1
    assert wp("option", "get", "_site_transient_rb_contract_s").stdout == "s\n"
    r = wp("transient", "delete", "--all", "--network")
    assert r.returncode == 0 and r.stdout.startswith("Success: "), r.stdout
    assert wp("option", "get", "_site_transient_rb_contract_s").returncode == 1
    assert wp("transient", "delete", "--all").stdout in (
        "Success: No transients found.\n",
        "Success: 1 transient deleted from the database.\n",
    )


def test_plugin_get_version_and_missing(wp) -> None:
    assert wp("plugin", "get", "mase", "--field=version").stdout == "2.1.0\n"
    r = wp("plugin", "get", "nope", "--field=version")
    assert (r.returncode, r.stderr) == (1, "Error: The 'nope' plugin could not be found.\n")


def test_plugin_list_json_has_no_trailing_newline(wp) -> None:
    r = wp("plugin", "list", "--format=json", "--skip-update-check")
    assert r.returncode == 0 and not r.stdout.endswith("\n")
    rows = json.loads(r.stdout)
    assert {"name": "mase", "status": "active", "version": "2.1.0"}.items() <= rows[0].items()


def test_plugin_list_reports_a_skipped_plugin_active(wp) -> None:
    """--skip-plugins keeps the plugin from loading; it is still active in the database, and
    WP-CLI's list says so (its filters step aside once plugins are loaded)."""
    r = wp("plugin", "list", "--format=json", "--skip-update-check", "--skip-plugins=mase")
    assert r.returncode == 0, r.stderr
    assert {row["name"]: row["status"] for row in json.loads(r.stdout)}["mase"] == "active"
    active = wp("plugin", "list", "--status=active", "--field=name", "--skip-plugins=mase")
    assert "mase" in active.stdout.split()


def test_core_is_installed(wp) -> None:
    r = wp("core", "is-installed")
    assert (r.returncode, r.stdout, r.stderr) == (0, "", "")


# -- storage model ----------------------------------------------------------------------------


def test_top_level_booleans_are_not_booleans(wp) -> None:
    wp("option", "update", "rb_contract_scalar", "true", "--format=json")
    assert wp("option", "get", "rb_contract_scalar", "--format=json").stdout == '"1"\n'
    wp("option", "update", "rb_contract_scalar", "false", "--format=json")
    assert wp("option", "get", "rb_contract_scalar", "--format=json").stdout == '""\n'
    wp("option", "update", "rb_contract_scalar", '{"x":false}', "--format=json")
    assert wp("option", "get", "rb_contract_scalar", "--format=json").stdout == '{"x":false}\n'


# -- habits: a fatal plugin cannot stop its own rollback --------------------------------------


def test_skip_plugins_survives_a_plugin_that_dies_on_load(sandbox, wp) -> None:
    sandbox.fault("plugin-load", "beta")
    try:
        broken = wp("option", "get", "blogname")
        assert broken.returncode == 1
        # The Error: line (the real WP-CLI prints the PHP fatal and its stack trace first).
        assert error_line(broken.stderr).startswith(
            "Error: There has been a critical error on this website."
        )
        skipped = wp("option", "get", "blogname", "--skip-plugins=mase")
        assert (skipped.returncode, skipped.stdout) == (0, "MASE sandbox\n")
    finally:
        sandbox.fault("plugin-off", "beta")
    assert wp("option", "get", "blogname").returncode == 0
