from __future__ import annotations

import json
from pathlib import Path

import pytest

from runbook import catalog
from runbook.errors import RunbookError


def write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.yml"
    path.write_text(text)
    return path


VALID = """
name: {name}
description: Do a thing. And more words.
priority: P1
playbook: status.yml
destructive: true
parameters:
  - name: feature
    type: string
    required: true
    pattern: "[a-z_]+"
    help: The feature flag.
"""


def test_shipped_catalog_loads_and_names_match_files() -> None:
    books = catalog.load()
    assert "status" in books
    for name, book in books.items():
        assert book.source.stem == name
        assert book.playbook.is_file()
        assert book.priority in {"P0", "P1", "P2", "P3"}


def test_project_runbook_adds_and_overrides(tmp_path: Path) -> None:
    write(tmp_path / "runbooks", "disable-thing", VALID.format(name="disable-thing"))
    write(tmp_path / "runbooks", "status", VALID.format(name="status"))
    books = catalog.load(tmp_path)
    assert books["disable-thing"].destructive
    assert books["status"].priority == "P1"  # the project's copy wins
    assert books["status"].source == tmp_path / "runbooks" / "status.yml"


def test_project_playbook_found_before_shipped(tmp_path: Path) -> None:
    (tmp_path / "playbooks").mkdir()
    (tmp_path / "playbooks" / "status.yml").write_text("---\n")
    write(tmp_path / "runbooks", "mine", VALID.format(name="mine"))
    assert catalog.load(tmp_path)["mine"].playbook == tmp_path / "playbooks" / "status.yml"


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("name: bad\ndescription: x\npriority: P9\nplaybook: status.yml\n", "priority"),
        ("name: bad\ndescription: x\nplaybook: status.yml\n", "(top level)"),
        (
            "name: bad\ndescription: x\npriority: P1\nplaybook: status.yml\nsurprise: 1\n",
            "(top level)",
        ),
        (
            "name: bad\ndescription: x\npriority: P1\nplaybook: status.yml\n"
            "parameters:\n  - {name: x, type: float, help: h}\n",
            "parameters.0.type",
        ),
        (
            "name: bad\ndescription: x\npriority: P1\nplaybook: status.yml\n"
            "parameters:\n  - {name: x, type: choice, help: h}\n",
            "parameters.0",
        ),
        ("name: bad\ndescription: x\npriority: P1\nplaybook: ../../etc/passwd\n", "playbook"),
        (
            "name: bad\ndescription: x\npriority: P1\nplaybook: status.yml\n"
            "max_fail_percentage: 101\n",
            "max_fail_percentage",
        ),
    ],
)
def test_bad_file_error_names_file_and_field(tmp_path: Path, text: str, field: str) -> None:
    path = write(tmp_path / "runbooks", "bad", text)
    with pytest.raises(RunbookError) as err:
        catalog.load(tmp_path)
    assert str(path) in str(err.value)
    assert f"field {field}" in str(err.value)


def test_yaml_syntax_error_names_file(tmp_path: Path) -> None:
    path = write(tmp_path / "runbooks", "broken", "name: [unclosed\n")
    with pytest.raises(RunbookError, match="not valid YAML") as err:
        catalog.load(tmp_path)
    assert str(path) in str(err.value)


def test_name_must_match_file(tmp_path: Path) -> None:
    write(tmp_path / "runbooks", "one", VALID.format(name="two"))
    with pytest.raises(RunbookError, match="field name"):
        catalog.load(tmp_path)


def test_reserved_parameter_names_refused(tmp_path: Path) -> None:
    text = VALID.format(name="x").replace("name: feature", "name: reason")
    write(tmp_path / "runbooks", "x", text)
    with pytest.raises(RunbookError, match="--reason is one of runbook's own options"):
        catalog.load(tmp_path)


def test_missing_playbook_named(tmp_path: Path) -> None:
    write(tmp_path / "runbooks", "x", VALID.format(name="x").replace("status.yml", "nope.yml"))
    with pytest.raises(RunbookError, match=r"nope\.yml is not in"):
        catalog.load(tmp_path)


def test_bad_regex_pattern_named(tmp_path: Path) -> None:
    write(tmp_path / "runbooks", "x", VALID.format(name="x").replace('"[a-z_]+"', '"[a-z"'))
    with pytest.raises(RunbookError, match=r"parameters\.feature\.pattern"):
        catalog.load(tmp_path)


def test_parameter_conversion() -> None:
    p = catalog.Parameter("feature", "string", "h", pattern="[a-z_]+")
    assert p.convert("modern_api_client") == "modern_api_client"
    with pytest.raises(RunbookError, match="--feature: 'Bad Name' does not match"):
        p.convert("Bad Name")
    n = catalog.Parameter("percent", "integer", "h", minimum=0, maximum=100)
    assert n.convert("25") == 25
    with pytest.raises(RunbookError, match="above the maximum 100"):
        n.convert("101")
    with pytest.raises(RunbookError, match="not a whole number"):
        n.convert("1.5")
    c = catalog.Parameter("mode", "choice", "h", choices=("a", "b"))
    with pytest.raises(RunbookError, match="is not one of: a, b"):
        c.convert("c")


def test_find_project_walks_upward(tmp_path: Path) -> None:
    (tmp_path / "runbook.yml").write_text("{}\n")
    deep = tmp_path / "a" / "b"
    deep.mkdir(parents=True)
    assert catalog.find_project(deep) == tmp_path
    assert catalog.find_project(Path("/")) is None


def test_summary_is_first_sentence() -> None:
    book = catalog.load()["status"]
    assert book.summary.endswith(".")
    assert "\n" not in book.summary


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("ansible-ssh-common-args", "belong to Ansible and runbook"),
        ("ansible-host-key-checking", "belong to Ansible and runbook"),
        ("hostvars", "magic variables"),
        ("inventory-hostname", "magic variables"),
        ("site-lock-force", "an input of the site_lock role"),
        ("plugin-restore-backup-dir", "an input of the plugin_restore role"),
        ("runbook-run", "belong to Ansible and runbook"),
    ],
)
def test_parameters_never_name_ansible_or_role_variables(
    tmp_path: Path, name: str, why: str
) -> None:
    """A parameter named ansible-ssh-common-args with a ProxyCommand default ran a command on
    the controller and turned host-key checking off."""
    text = VALID.format(name="x").replace("name: feature", f"name: {name}")
    write(tmp_path / "runbooks", "x", text)
    with pytest.raises(RunbookError, match=f"--{name} is refused: .*{why}"):
        catalog.load(tmp_path)


BOMB = """
a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]
b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]
e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]
f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]
g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]
h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g]
i: &i [*h, *h, *h, *h, *h, *h, *h, *h, *h]
"""


def test_yaml_bombs_and_huge_files_are_refused(tmp_path: Path) -> None:
    write(tmp_path / "runbooks", "bomb", BOMB)
    with pytest.raises(RunbookError, match=r"aliases .* are not allowed"):
        catalog.load(tmp_path)
    write(tmp_path / "runbooks", "bomb", "x: " + "a" * (2 << 20) + "\n")
    with pytest.raises(RunbookError, match="larger than 1024 KiB: refused"):
        catalog.load(tmp_path)


def test_a_bad_project_file_fails_only_its_runbook(tmp_path: Path) -> None:
    write(tmp_path / "runbooks", "bomb", BOMB)
    write(tmp_path / "runbooks", "status", "name: status\n")  # a broken override
    books = catalog.load(tmp_path, strict=False)
    assert "p0-rollback" in books and "bomb" not in books
    assert "status" not in books  # never the shipped one in the broken override's place
    assert set(books.broken) == {"bomb", "status"}
    assert "aliases" in str(books.broken["bomb"])


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("99999999999d", "more than 3650 days"),
        ("5000d", "more than 3650 days"),
        ("2026-13-01T00:00:00Z", "not a duration"),
        ("1900-01-01T00:00:00Z", "more than 3650 days back"),
        ("tomorrow", "not a duration"),
    ],
)
def test_absurd_windows_are_refused_on_the_controller(value: str, why: str) -> None:
    """--since 99999999999d crashed on every host; now it is exit 2 before anything runs."""
    since = next(p for p in catalog.load()["log-scan"].parameters if p.name == "since")
    with pytest.raises(RunbookError, match=f"--since: .*{why}"):
        since.convert(value)
    assert since.convert("5m") == "5m"


def test_validated_files_are_kept_in_the_state_directory(tmp_path: Path, state_dir: Path) -> None:
    """Kept once the state directory exists, given back while the file is the same, read and
    validated again once it changes (an invalid change is refused, naming the field)."""
    path = write(tmp_path / "runbooks", "kept", VALID.format(name="kept"))
    assert catalog.load(tmp_path)["kept"].priority == "P1"
    assert not state_dir.exists()  # a command that only reads makes no state directory
    state_dir.mkdir()
    catalog.load(tmp_path)
    entry = state_dir / "cache" / catalog._cache_key(path)[1]
    assert oct(entry.stat().st_mode & 0o777) == "0o600"
    # What is kept is what the next command gets: changed here (and only here), it is given back.
    kept = json.loads(entry.read_text())
    kept["value"]["description"] = "From the cache. And more words."
    entry.write_text(json.dumps(kept))
    assert catalog.load(tmp_path)["kept"].description.startswith("From the cache")
    path.write_text(VALID.format(name="kept").replace("priority: P1", "priority: P7"))
    with pytest.raises(RunbookError, match="field priority"):
        catalog.load(tmp_path)
    # A damaged entry is read over.
    path.write_text(VALID.format(name="kept"))
    catalog.load(tmp_path)
    entry.write_text("{damaged")
    assert catalog.load(tmp_path)["kept"].description.startswith("Do a thing")
