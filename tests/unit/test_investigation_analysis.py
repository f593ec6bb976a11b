"""The investigation's pure parts: secrets scrubbed (canaries), the plugin's options checked,
the nodes compared, fingerprints merged, the suspect named, the bundle's checksums."""

from __future__ import annotations

import hashlib
import json
import tarfile
from pathlib import Path

import pytest

from runbook.ansible.module_utils.runbook_scrub import MASK, scrub, scrub_value
from runbook.investigate import analysis
from runbook.service.investigate import write_bundle

CANARY = "CANARY-7f3a9c21e4"


@pytest.mark.parametrize(
    "line",
    [
        f"[30-Nov-2026 10:00:00 UTC] MASE: api call failed token={CANARY}",
        f"MASE: request to https://api.example/v1?api_key={CANARY}&page=2 failed",
        f'MASE: settings {{"menu":"#fff","api_password":"{CANARY}"}}',
        f"MASE: [auth_token] => {CANARY}",
        f"Authorization: Bearer {CANARY}",
        f"define('DB_PASSWORD', '{CANARY}');",
        f"PHP Warning: login failed for password: {CANARY} in /x.php on line 3",
        f"Set-Cookie: PHPSESSID={CANARY}; path=/",
    ],
)
def test_secrets_in_log_lines_are_scrubbed(line: str) -> None:
    out = scrub(line)
    assert CANARY not in out and MASK in out


def test_options_are_scrubbed_by_name_and_their_values_everywhere() -> None:
    known: list[str] = []
    value = {"menu": "#fff", "nested": {"license_key_secret": CANARY}, "list": ["a"]}
    out = scrub_value({"mase_settings": value, "mase_api_token": CANARY}, known)
    assert CANARY not in json.dumps(out) and CANARY in known
    assert out["mase_settings"]["menu"] == "#fff"
    # The same secret elsewhere (a log line with no name around it) is masked too.
    assert scrub(f"MASE: sent {CANARY} upstream", known) == f"MASE: sent {MASK} upstream"
    # What is not secret is left as it is.
    plain = "PHP Fatal error:  Uncaught Error: Call to undefined function f() in /a.php:34"
    assert scrub(plain) == plain


FLAGS = ["modern_api_client", "legacy_fallback"]
KINDS = {"f": "flags", "p": "percentages", "s": "settings"}


def test_options_that_look_right_and_ones_that_do_not() -> None:
    good = {
        "f": {"value": {"modern_api_client": True, "legacy_fallback": False}},
        "p": {"value": {"modern_api_client": 10}},
        "s": {"value": []},  # WP-CLI prints an empty object as []
    }
    checked = analysis.check_options(good, KINDS, FLAGS)
    assert checked["corrupt"] == [] and checked["trigger"] is None
    bad = {
        "f": {"value": "{bad json"},  # written by hand: WordPress stores the string
        "p": {"value": {"modern_api_client": 140, "x": True}},
        "s": {"value": None, "missing": True},
    }
    checked = analysis.check_options(bad, KINDS, FLAGS)
    assert checked["corrupt"] == ["f", "p", "s"]
    assert checked["trigger"]["name"] == "data-integrity"
    assert "settings not persisting" in checked["trigger"]["text"]
    assert "holds a string" in checked["options"]["f"]["problems"][0]
    assert len(checked["options"]["p"]["problems"]) == 2
    unread = analysis.check_options({"f": {"value": None, "error": "wp: Error: x"}}, KINDS, FLAGS)
    assert unread["options"]["f"]["status"] == "unreadable" and unread["corrupt"] == []


def test_nodes_that_disagree() -> None:
    same = {"wordpress_version": "6.1", "php_version": "8.2"}
    tree = {"version": "2.1.0", "sha256": "a" * 64}
    nodes = {
        "alpha-1": {**same, "plugin_tree": tree},
        "alpha-2": {**same, "plugin_tree": {**tree, "sha256": "b" * 64}},
    }
    assert analysis.disagreements(nodes) == [
        f"plugin files differs: alpha-1: {'a' * 12}; alpha-2: {'b' * 12}"
    ]
    assert analysis.disagreements({"alpha-1": nodes["alpha-1"]}) == []


FATAL = "fatal|/var/www/a/htdocs/wp-content/plugins/mase/includes/modern-api-client.php|34|X()"
WARN = "warning|/var/www/a/htdocs/wp-content/plugins/mase/includes/modern-api-client.php|31|K"
OLD = "error|/var/www/a/htdocs/wp-includes/x.php|9|old"


def top(fp: str, level: str, count: int, first: str) -> dict:
    return {
        "fingerprint": fp,
        "level": level,
        "count": count,
        "first_seen": first,
        "last_seen": "2026-11-30T10:09:00+00:00",
        "sample": fp.split("|")[3],
        "where": "/var/log/php/error.log",
    }


def test_the_suspect_follows_the_last_change_before_it() -> None:
    logs = {
        "alpha-1": {"top": [top(OLD, "error", 90, "2026-11-30T08:00:00+00:00")]},
        "alpha-2": {
            "top": [
                top(WARN, "warning", 500, "2026-11-30T10:01:00+00:00"),
                top(FATAL, "fatal", 40, "2026-11-30T10:01:00+00:00"),
                top(OLD, "error", 10, "2026-11-30T08:00:00+00:00"),
            ]
        },
    }
    found = analysis.fingerprints(logs, {"alpha-1": [OLD], "alpha-2": [OLD]})
    assert [(f["fingerprint"], f["count"], f["new"]) for f in found] == [
        (WARN, 500, True),
        (OLD, 100, False),
        (FATAL, 40, True),
    ]
    runs = [
        {"runbook": "deploy-wave", "run_id": "r1", "started_at": "2026-11-30T10:00:00Z"},
        # A rollback after the error appeared is no cause of it.
        {"runbook": "p0-rollback", "run_id": "r2", "started_at": "2026-11-30T10:05:00Z"},
        {"runbook": "status", "run_id": "r3", "started_at": "2026-11-30T10:00:30Z"},
    ]
    flags = {"includes/modern-api-client.php": "modern_api_client"}
    suspect = analysis.suspect(found, runs, lambda p: flags.get(p.split("/plugins/mase/")[1]))
    assert suspect is not None
    assert (suspect["fingerprint"], suspect["line"], suspect["flag"]) == (
        FATAL,
        34,
        "modern_api_client",
    )
    assert suspect["change"]["run_id"] == "r1" and "after the last deploy" in suspect["why"]
    assert any("p1-disable-feature --feature modern_api_client" in c for c in suspect["confirm"])
    # Only old errors: still the most frequent error, said plainly; none at all: no suspect.
    only_old = analysis.fingerprints({"a": {"top": [top(OLD, "error", 5, "x")]}}, {"a": [OLD]})
    assert "most frequent" in analysis.suspect(only_old, [], lambda p: None)["why"]
    assert analysis.suspect([], runs, lambda p: None) is None


def test_the_bundle_holds_its_manifest_and_checksums(tmp_path: Path) -> None:
    doc = {
        "id": 7,
        "logs": {"samples": {"alpha-1": {"X()": [{"log": "/var/log/a", "lines": "raw\n#0"}]}}},
        "sites": {"alpha": {"browser": [{"page": "/", "console_errors": []}]}},
    }
    bundle, digest = write_bundle(doc, tmp_path)
    assert hashlib.sha256(bundle.read_bytes()).hexdigest() == digest
    with tarfile.open(bundle) as archive:
        names = archive.getnames()
        manifest = json.loads(archive.extractfile("investigation-7/manifest.json").read())
        for entry in manifest["files"]:
            data = archive.extractfile(f"investigation-7/{entry['path']}").read()
            assert hashlib.sha256(data).hexdigest() == entry["sha256"]
    assert sorted(names) == [
        "investigation-7/browser.json",
        "investigation-7/investigation.json",
        "investigation-7/logs/alpha-1.txt",
        "investigation-7/manifest.json",
    ]
    beside = json.loads(Path(f"{bundle}.manifest.json").read_text())
    assert beside["archive_sha256"] == digest
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
