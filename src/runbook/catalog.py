"""The runbook catalog: one YAML file per runbook, validated against the shipped JSON Schema."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runbook import clock, statecache, yamlfile
from runbook.errors import RunbookError
from runbook.paths import content_dir

if TYPE_CHECKING:
    import jsonschema


@dataclass(frozen=True)
class CommonOption:
    """An option every runbook command has: declared here once, for the catalog's reserved
    names, the command line and the service layer's RunOptions alike."""

    name: str  # the long option, without its dashes; also RunOptions' field (dashes as _)
    help: str
    kind: str = "text"  # text, flag, count, multiple, integer
    short: str | None = None
    metavar: str | None = None
    #: Only destructive runbooks have it.
    destructive_only: bool = False

    @property
    def dest(self) -> str:
        return self.name.replace("-", "_")


COMMON_OPTIONS: tuple[CommonOption, ...] = (
    CommonOption("reason", "Why you run this; recorded verbatim, never templated.", metavar="TEXT"),
    CommonOption("incident", "Put this run on the incident's timeline.", "integer", metavar="ID"),
    CommonOption(
        "inventory",
        "Inventory file or folder (repeatable). Default: $RUNBOOK_INVENTORY, your project's "
        "runbook.yml, else the running sandbox's.",
        "multiple",
        short="-i",
        metavar="INVENTORY",
    ),
    CommonOption(
        "limit",
        "Only these hosts or groups, as ansible-playbook -l.",
        short="-l",
        metavar="PATTERN",
    ),
    CommonOption(
        "extra-vars",
        "Extra variables: key=value, JSON, or @file (repeatable).",
        "multiple",
        short="-e",
        metavar="VARS",
    ),
    CommonOption("check", "Change nothing; show what would change.", "flag"),
    CommonOption("diff", "Show the differences of changed files.", "flag"),
    CommonOption(
        "yes", "Do not ask for confirmation (required without a terminal).", "flag", short="-y"
    ),
    CommonOption("verbose", "More Ansible detail (-vvv ...).", "count", short="-v"),
    CommonOption(
        "force-unlock",
        "Break a site lock another run holds (recorded in the run record).",
        "flag",
        destructive_only=True,
    ),
    CommonOption(
        "forks", "Hosts worked on at once. Default: the number of hosts (5-50).", "integer"
    ),
)

#: Names a catalog parameter may not take: the common options and the CLI's own.
RESERVED = frozenset({o.name for o in COMMON_OPTIONS} | {"json", "project", "db", "help"})

#: Ansible's magic and special variables: a parameter never takes one of these names, even
#: though parameters reach playbooks in their own namespace (runbook_params).
MAGIC_VARIABLES = frozenset(
    {
        "hostvars",
        "groups",
        "group_names",
        "inventory_hostname",
        "inventory_hostname_short",
        "inventory_dir",
        "inventory_file",
        "play_hosts",
        "playbook_dir",
        "role_name",
        "role_path",
        "role_names",
        "omit",
        "environment",
        "vars",
        "lookup",
        "item",
        "site",
        "wp_path",
    }
)


#: runbook's own variables that -e may set (waves, the failure budget, where locks live).
OPERATOR_VARIABLES = frozenset(
    {"runbook_serial", "runbook_max_fail_percentage", "runbook_lock_dir"}
)


def extra_var_problem(var: str) -> str | None:
    """Why -e may not set `var` (None: it may): runbook's internals and the roles' inputs are
    set by its options and the inventory, where the run record sees them."""
    if var in OPERATOR_VARIABLES or var.startswith("ansible_"):
        return None
    if var.startswith(("runbook_", "_")):
        return "it is runbook's own (use its options: --force-unlock, --reason, ...)"
    problem = variable_problem(var)
    if problem and "role" in problem:
        return f"{problem}; set it in the inventory (group_vars, host_vars)"
    return None


def variable_problem(var: str) -> str | None:
    """Why a parameter's Ansible name is refused (None: it is fine)."""
    if var.startswith(("ansible_", "runbook_", "_")):
        return "names starting ansible_, runbook_ or _ belong to Ansible and runbook"
    if var in MAGIC_VARIABLES:
        return "it is one of Ansible's magic variables or an inventory variable"
    roles = content_dir() / "roles"
    owner = (
        next((r.name for r in sorted(roles.iterdir()) if var.startswith(f"{r.name}_")), None)
        if roles.is_dir()
        else None
    )
    if owner:
        return f"it would be an input of the {owner} role"
    return None


@dataclass(frozen=True)
class Parameter:
    name: str
    type: str
    help: str
    required: bool = False
    pattern: str | None = None
    choices: tuple[str, ...] = ()
    default: str | int | bool | None = None
    minimum: int | None = None
    maximum: int | None = None

    @property
    def var(self) -> str:
        """The Ansible variable name: dashes become underscores."""
        return self.name.replace("-", "_")

    def convert(self, raw: str | int | bool) -> str | int | bool:
        """Check one value from the command line; errors name the option and what it takes."""
        if self.type == "boolean":
            if isinstance(raw, bool):
                return raw
            raise RunbookError(f"--{self.name} takes no value")
        text = str(raw)
        if self.type == "integer":
            return self._integer(text)
        if self.type == "time":
            try:
                clock.window_start(text)
            except ValueError as exc:
                raise RunbookError(f"--{self.name}: {exc}") from None
        if self.type == "choice" and text not in self.choices:
            raise RunbookError(f"--{self.name}: {text!r} is not one of: {', '.join(self.choices)}")
        if self.pattern and not re.fullmatch(self.pattern, text):
            raise RunbookError(f"--{self.name}: {text!r} does not match {self.pattern}")
        return text

    def _integer(self, text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise RunbookError(f"--{self.name}: {text!r} is not a whole number") from None
        if self.minimum is not None and value < self.minimum:
            raise RunbookError(f"--{self.name}: {value} is below the minimum {self.minimum}")
        if self.maximum is not None and value > self.maximum:
            raise RunbookError(f"--{self.name}: {value} is above the maximum {self.maximum}")
        return value


@dataclass(frozen=True)
class Runbook:
    name: str
    description: str
    priority: str
    playbook: Path
    source: Path
    destructive: bool = False
    parameters: tuple[Parameter, ...] = ()
    notify: tuple[str, ...] = ()
    serial: int | str | None = None
    max_fail_percentage: int | None = None
    #: Which report the run prints and puts in --json (REPORT_KINDS), if any.
    report: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def summary(self) -> str:
        """The description's first sentence, on one line."""
        paragraph = " ".join(self.description.strip().split("\n\n")[0].split())
        sentence, dot, _ = paragraph.partition(". ")
        return sentence + ("." if dot else "")


#: The reports a runbook can name in its `report:` field (the views print each).
REPORT_KINDS = ("rollback", "status", "log-scan")


@cache
def schema() -> dict[str, Any]:
    text = resources.files("runbook").joinpath("schemas/runbook.schema.json").read_text()
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def _where(error: jsonschema.ValidationError) -> str:
    path = ".".join(str(p) for p in error.absolute_path)
    return path or "(top level)"


def _parameter(path: Path, raw: dict[str, Any]) -> Parameter:
    """One catalog parameter, its name checked against runbook's and Ansible's own."""
    if raw["name"] in RESERVED:
        raise RunbookError(
            f"{path}: field parameters: --{raw['name']} is one of runbook's own options"
        )
    problem = variable_problem(raw["name"].replace("-", "_"))
    if problem:
        raise RunbookError(f"{path}: field parameters: --{raw['name']} is refused: {problem}")
    if "pattern" in raw:
        try:
            re.compile(raw["pattern"])
        except re.error as exc:
            raise RunbookError(f"{path}: field parameters.{raw['name']}.pattern: {exc}") from None
    return Parameter(
        name=raw["name"],
        type=raw["type"],
        help=raw["help"],
        required=raw.get("required", False),
        pattern=raw.get("pattern"),
        choices=tuple(raw.get("choices", ())),
        default=raw.get("default"),
        minimum=raw.get("minimum"),
        maximum=raw.get("maximum"),
    )


#: Kept between commands (statecache): parsing a catalog file and importing and running the
#: JSON Schema validator cost ~0.1 s at every start. An entry is the file's validated data
#: for the file's identity (inode, size, modification time) and the schema's digest.
_CACHE_FORMAT = 1


def _validated(path: Path) -> Any:
    """The file's data, validated against the schema; RunbookError names the field."""
    where, name, identity = _cache_key(path)
    if where is not None:
        kept = statecache.get(where, name, identity)
        if isinstance(kept, dict) and all(k in kept for k in schema().get("required", ())):
            return kept
    data = yamlfile.load(path)
    import jsonschema  # here: a command whose catalog is kept does not load it

    validator = jsonschema.Draft202012Validator(schema())
    errors = sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path))
    if errors:
        first = errors[0]
        raise RunbookError(f"{path}: field {_where(first)}: {first.message}")
    if where is not None:
        statecache.put(where, name, identity, data)
    return data


def _cache_key(path: Path) -> tuple[Path | None, str, list[Any]]:
    where = statecache.folder()
    try:
        st = path.stat()
    except OSError:
        return None, "", []
    resolved = str(path.resolve())
    identity = [_CACHE_FORMAT, resolved, st.st_ino, st.st_size, st.st_mtime_ns, _schema_digest()]
    digest = hashlib.sha256(resolved.encode()).hexdigest()[:24]
    return where, f"catalog-{digest}.json", identity


@cache
def _schema_digest() -> str:
    """The schema a kept file was validated against (read once, as schema() is)."""
    return hashlib.sha256(json.dumps(schema(), sort_keys=True).encode()).hexdigest()


def load_file(path: Path, playbook_dirs: list[Path]) -> Runbook:
    """Load and validate one catalog file; errors name the file and the field."""
    data = _validated(path)
    if data["name"] != path.stem:
        raise RunbookError(f"{path}: field name: {data['name']!r} must match the file name")
    params = [_parameter(path, raw) for raw in data.get("parameters", [])]
    playbook = next(
        (d / data["playbook"] for d in playbook_dirs if (d / data["playbook"]).is_file()), None
    )
    if playbook is None:
        raise RunbookError(
            f"{path}: field playbook: {data['playbook']} is not in "
            + " or ".join(str(d) for d in playbook_dirs)
        )
    return Runbook(
        name=data["name"],
        description=data["description"],
        priority=data["priority"],
        playbook=playbook,
        source=path,
        destructive=data.get("destructive", False),
        parameters=tuple(params),
        notify=tuple(data.get("notify", ())),
        serial=data.get("serial"),
        max_fail_percentage=data.get("max_fail_percentage"),
        report=data.get("report"),
    )


def find_project(start: Path | None = None) -> Path | None:
    """The user's project: the nearest folder, from `start` upward, holding a runbook.yml."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "runbook.yml").is_file():
            return folder
    return None


class Catalog(dict[str, Runbook]):
    """The runbooks by name, and the catalog files that did not load (by the name their file
    gives): a bad file fails only the runbook it defines."""

    def __init__(self) -> None:
        super().__init__()
        self.broken: dict[str, RunbookError] = {}


def load(project: Path | None = None, strict: bool = True) -> Catalog:
    """The shipped catalog, with the project's runbooks added or overriding by name.

    strict: the first bad file is an error. Otherwise it is kept in `broken` and the runbook
    it would define (or override) is left out, the rest loaded.
    """
    shipped = content_dir()
    layers = [(shipped / "runbooks", [shipped / "playbooks"])]
    if project is not None:
        if not project.is_dir():
            raise RunbookError(f"--project {project}: no such directory")
        layers.append((project / "runbooks", [project / "playbooks", shipped / "playbooks"]))
    catalog = Catalog()
    for folder, playbook_dirs in layers:
        if not folder.is_dir():
            continue
        for path in sorted([*folder.glob("*.yml"), *folder.glob("*.yaml")]):
            try:
                book = load_file(path, playbook_dirs)
            except RunbookError as exc:
                if strict:
                    raise
                catalog.pop(path.stem, None)  # never the shipped one in a broken override's place
                catalog.broken[path.stem] = exc
                continue
            catalog.broken.pop(book.name, None)
            catalog[book.name] = book
    return catalog
