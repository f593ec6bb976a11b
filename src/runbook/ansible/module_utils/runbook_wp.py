# -*- coding: utf-8 -*-
"""Running WP-CLI on a host the way wp-cli-contract.md says: argv only, stdin closed,
defensive about what plugins print on stdout. Plain Python: no Ansible import."""

from __future__ import annotations

import json
import os
import re
import subprocess
from typing import Any, Callable, Dict, List, Optional, Tuple, Union

VERSION_HEADER = re.compile(rb"^[ \t/*#@]*Version:(.*)$", re.IGNORECASE | re.MULTILINE)


class WpError(Exception):
    """A wp command failed: carries the argv, exit code and what it said."""

    def __init__(self, argv: List[str], rc: int, stdout: str, stderr: str) -> None:
        self.argv = argv
        self.rc = rc
        self.stdout = stdout
        self.stderr = stderr
        first = error_line(stderr or stdout or "")
        # Name the command, not every global flag: `wp option get K`, exit code, first line.
        words = [a for a in argv[1:] if not a.startswith("--")][:3]
        super().__init__(f"wp {' '.join(words)} (exit {rc}): {first}")


def error_line(said: str) -> str:
    """What a failed wp said, as one line: its `Error:` line (the real WP-CLI prints PHP's
    warnings and a fatal's stack trace to stderr before it), else the first line. WP-CLI's
    multi-line errors (YIKES) are identified by their first line."""
    lines = [line.strip() for line in said.strip().splitlines() if line.strip()]
    for line in lines:
        if line.startswith("Error:"):
            return line
    return lines[0] if lines else "no output"


def wp_argv(
    wp_bin: str,
    path: str,
    args: List[str],
    allow_root: bool = False,
    skip_plugins: Union[bool, str, None] = None,
    skip_themes: bool = True,
    url: Optional[str] = None,
) -> List[str]:
    """The argv for one wp command. skip_plugins: None, True (all) or a slug to skip."""
    argv = [wp_bin, *args, f"--path={path}"]
    if url:
        argv.append(f"--url={url}")
    if skip_plugins is True:
        argv.append("--skip-plugins")
    elif skip_plugins:
        argv.append(f"--skip-plugins={skip_plugins}")
    if skip_themes:
        argv.append("--skip-themes")
    if allow_root:
        argv.append("--allow-root")
    return argv


def wp_argument_spec(**own: Dict[str, Any]) -> Dict[str, Dict[str, Any]]:
    """The WP-CLI options every wp_* module takes (path, wp_bin, allow_root, url), plus its own."""
    spec: Dict[str, Dict[str, Any]] = dict(
        path=dict(type="path", required=True),
        wp_bin=dict(type="str", default="wp"),
        allow_root=dict(type="bool", default=False),
        url=dict(type="str"),
    )
    spec.update(own)
    return spec


def wp_runner(
    params: Dict[str, Any], skip_plugins: Union[bool, str, None] = None
) -> Callable[[List[str]], str]:
    """`wp(args) -> stdout` for a module's params (path, wp_bin, allow_root, url, as
    wp_argument_spec declares them); raises WpError like run_wp."""

    def wp(args: List[str]) -> str:
        return run_wp(
            wp_argv(
                params["wp_bin"],
                params["path"],
                args,
                allow_root=params["allow_root"],
                skip_plugins=skip_plugins,
                url=params["url"],
            )
        )

    return wp


def run_wp(argv: List[str], timeout: float = 60, env: Optional[Dict[str, str]] = None) -> str:
    """Run wp with stdin closed; returns stdout, raises WpError on a non-zero exit."""
    proc = subprocess.run(
        argv,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=timeout,
        env=env if env is not None else dict(os.environ),
        check=False,
    )
    stdout = proc.stdout.decode("utf-8", "replace")
    stderr = proc.stderr.decode("utf-8", "replace")
    if proc.returncode != 0:
        raise WpError(argv, proc.returncode, stdout, stderr)
    return stdout


def parse_json_output(stdout: str) -> Any:
    """WP-CLI JSON output, tolerating nothing: anything a plugin echoed first is an error that
    carries the raw text (wp-cli-contract.md: "parse JSON defensively")."""
    text = stdout.strip()
    try:
        return json.loads(text)
    except ValueError:
        raise ValueError(f"wp printed something that is not JSON: {text[:500]!r}") from None


def plugin_version(plugin_dir: str, slug: str) -> Optional[str]:
    """The Version header of a plugin's main file, read the way WordPress does (first 8 KiB)."""
    candidates = [os.path.join(plugin_dir, f"{slug}.php")]
    if os.path.isdir(plugin_dir):
        candidates += sorted(
            os.path.join(plugin_dir, n) for n in os.listdir(plugin_dir) if n.endswith(".php")
        )
    for path in candidates:
        try:
            with open(path, "rb") as handle:
                head = handle.read(8192)
        except OSError:
            continue
        if b"Plugin Name:" not in head:
            continue
        match = VERSION_HEADER.search(head)
        if match:
            return match.group(1).strip().rstrip(b"*/").strip().decode("utf-8", "replace")
    return None


OPTION_KEY = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


def validate_values(values: Dict[str, Any], kind: str) -> List[str]:
    """Why each key or value is invalid (empty: all valid). kind: flags or percentages."""
    errors: List[str] = []
    for name, value in values.items():
        if not OPTION_KEY.match(str(name)):
            errors.append(f"{name!r} is not a valid name (lowercase letters, digits, _)")
        elif kind == "flags" and not isinstance(value, bool):
            errors.append(f"{name}={value!r} is not a boolean")
        elif kind == "percentages" and (
            isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 100
        ):
            errors.append(f"{name}={value!r} is not a whole number from 0 to 100")
    return errors


def option_values(values: Dict[str, Any], kind: str) -> Tuple[Dict[str, Any], List[str]]:
    """`values` as they are written (a percentage given as a digit string becomes a number),
    and why each is invalid (empty: all valid)."""
    if kind == "percentages":
        values = {k: int(v) if isinstance(v, str) and v.isdigit() else v for k, v in values.items()}
    return values, validate_values(values, kind)


def merge_values(current: Dict[str, Any], values: Dict[str, Any]) -> Dict[str, Any]:
    """`current` with `values` set: existing keys keep their place, new ones follow sorted,
    so the same input always produces the same (strictly equal) value."""
    result = dict(current)
    for name in sorted(k for k in values if k not in current):
        result[name] = values[name]
    for name, value in values.items():
        result[name] = value
    return result


def not_a_wordpress_root(path: str) -> Optional[str]:
    """Why `path` is not a WordPress root (no wp-load.php), or None when it is one."""
    if os.path.isfile(os.path.join(path, "wp-load.php")):
        return None
    return f"{path} is not a WordPress root (no wp-load.php)"


WP_VERSION = re.compile(r"^\$wp_version\s*=\s*'([^']+)'\s*;", re.MULTILINE)


def core_version(wp_root: str) -> Optional[str]:
    """WordPress's version from wp-includes/version.php, as `wp core version` reads it."""
    try:
        with open(os.path.join(wp_root, "wp-includes", "version.php"), encoding="utf-8") as f:
            match = WP_VERSION.search(f.read(65536))
    except (OSError, UnicodeDecodeError):
        return None
    return match.group(1) if match else None


def site_cache_commands(transients: bool) -> List[List[str]]:
    """The wp commands that flush a site's caches: `cache flush`, and with `transients`,
    `transient delete --all`."""
    commands = [["cache", "flush"]]
    if transients:
        commands.append(["transient", "delete", "--all"])
    return commands


def flush_site_caches(
    wp: Callable[[List[str]], str], transients: bool, actions: List[Dict[str, str]]
) -> None:
    """site_cache_commands run in turn: each appended to `actions` with what WP-CLI said;
    raises WpError at the first that fails."""
    for command in site_cache_commands(transients):
        said = wp(command).strip()
        actions.append({"command": "wp " + " ".join(command), "said": said})


class OptionError(Exception):
    """A JSON option not set as asked: `msg` names the option and the WordPress root, `facts`
    (before, after) say how far it got."""

    def __init__(self, msg: str, **facts: Any) -> None:
        super().__init__(msg)
        self.msg = msg
        self.facts = facts


def set_json_option(
    wp: Callable[[List[str]], str],
    path: str,
    option: str,
    values: Dict[str, Any],
    create: bool = False,
    check_mode: bool = False,
) -> Dict[str, Any]:
    """Merge valid `values` (option_values) into the JSON-object option, write it only when
    that changes it, then read it back: changed, before and after. Raises OptionError."""
    try:
        current = parse_json_output(wp(["option", "get", option, "--format=json"]))
    except WpError as exc:
        if "Could not get" not in (exc.stderr or "") or not create:
            raise OptionError(f"cannot read {option} in {path}: {exc}") from None
        current = {}
    except ValueError as exc:
        raise OptionError(f"cannot read {option} in {path}: {exc}") from None
    if current == []:
        current = {}  # WP-CLI prints an empty object as []
    if not isinstance(current, dict):
        raise OptionError(f"{option} in {path} holds {current!r}, not an object")
    wanted = merge_values(current, values)
    if wanted == current or check_mode:
        return {"changed": wanted != current, "before": current, "after": wanted}
    try:
        wp(["option", "update", option, json.dumps(wanted, separators=(",", ":")), "--format=json"])
        after = parse_json_output(wp(["option", "get", option, "--format=json"]))
    except (WpError, ValueError) as exc:
        raise OptionError(f"writing {option} in {path} failed: {exc}", before=current) from None
    if after != wanted:
        raise OptionError(
            f"{option} in {path} reads back as {after!r}, not the {wanted!r} written",
            before=current,
            after=after,
        )
    return {"changed": True, "before": current, "after": after}


def option_change(option: str, outcome: Dict[str, Any]) -> Dict[str, Any]:
    """An option's change as the run record's site part keeps it (`options_changed`)."""
    return {option: {"option": option, "before": outcome["before"], "after": outcome["after"]}}
