"""module_utils/runbook_logscan.py on real-format samples of each log type."""

from __future__ import annotations

import datetime
import io
import os
from pathlib import Path

import pytest

from runbook.ansible.module_utils import runbook_logscan as ls

UTC = datetime.UTC

DEBUG_LOG = b"""\
[27-Nov-2026 14:00:01 UTC] PHP Deprecated:  Creation of dynamic property WP_Foo::$bar is deprecated in /var/www/a/htdocs/wp-includes/class-foo.php on line 12
[27-Nov-2026 14:00:05 UTC] MASE: modern API client lost its envelope for /mase/v1/settings
[27-Nov-2026 14:00:05 UTC] PHP Warning:  Undefined array key "payload" in /var/www/a/htdocs/wp-content/plugins/mase/includes/modern-api-client.php on line 24
[27-Nov-2026 14:00:05 UTC] PHP Fatal error:  Uncaught Error: Call to undefined function mase_modern_client_dispatch() in /var/www/a/htdocs/wp-content/plugins/mase/includes/modern-api-client.php:27
Stack trace:
#0 /var/www/a/htdocs/wp-includes/class-wp-hook.php(308): {closure}(NULL, 'mase_rest_statu...', Object(WP_REST_Request))
#1 {main}
  thrown in /var/www/a/htdocs/wp-content/plugins/mase/includes/modern-api-client.php on line 27
[27-Nov-2026 14:00:09 UTC] PHP Warning:  Undefined array key "payload" in /var/www/a/htdocs/wp-content/plugins/mase/includes/modern-api-client.php on line 24
[27-Nov-2026 15:00:00 Europe/Berlin] PHP Notice:  Something at 15:00 Berlin time in /x.php on line 3
garbage line without a timestamp \xff\xfe
"""

NGINX_ERROR = b"""\
2026/11/27 14:00:05 [error] 812#812: *41 FastCGI sent in stderr: "PHP message: PHP Fatal error:  Uncaught Error" while reading response header from upstream, request: "GET /wp-json/mase/v1/status HTTP/1.1"
2026/11/27 14:00:07 [warn] 812#812: *42 an upstream response is buffered to a temporary file
"""

ACCESS_LOG = b"""\
10.0.0.1 - - [27/Nov/2026:14:00:01 +0000] "GET /wp-login.php HTTP/1.1" 200 4120 "-" "curl/7.88" 0.080
10.0.0.1 - - [27/Nov/2026:14:00:02 +0000] "GET /wp-json/mase/v1/status HTTP/1.1" 500 120 "-" "curl/7.88" 1.250
10.0.0.1 - - [27/Nov/2026:14:00:03 +0000] "POST /wp-json/mase/v1/settings HTTP/1.1" 200 80 "-" "curl/7.88" 0.300
10.0.0.1 - - [27/Nov/2026:14:00:04 +0000] "GET / HTTP/1.1" 200 512 "-" "Mozilla/5.0 (X11)"
not an access line
"""


#: The target plugin the samples come from.
MASE = ls.PluginMarkers("mase", "MASE")


def scan(data: bytes, kind: str = "php", **kw) -> dict:  # type: ignore[type-arg]
    summary = ls.Summary(plugin=MASE)
    ls.scan_records(io.BytesIO(data), kind, summary, "node-1", **kw)
    return summary.result()


def test_php_records_levels_mase_and_stack_traces() -> None:
    result = scan(DEBUG_LOG)
    assert result["counts"] == {
        "mase:fatal": 1,
        "mase:info": 1,
        "mase:warning": 2,
        "php:deprecated": 1,
        "php:fatal": 1,
        "php:info": 1,
        "php:notice": 1,
        "php:warning": 2,
    }
    assert result["records"] == 6
    assert result["unparsed_lines"] == 1  # the garbage line; stack trace lines belong to a record
    top = result["top"][0]
    assert top["count"] == 2 and top["level"] == "warning"
    assert top["fingerprint"].startswith(
        "warning|/var/www/a/htdocs/wp-content/plugins/mase/includes/modern-api-client.php|24|"
    )
    fatal = next(e for e in result["top"] if e["level"] == "fatal")
    assert fatal["first_seen"] == "2026-11-27T14:00:05+00:00" and fatal["plugin"]


def test_zones_apply() -> None:
    record = ls.parse_php_head(b"[27-Nov-2026 15:00:00 Europe/Berlin] PHP Notice:  x")
    assert record is not None and record.time == datetime.datetime(2026, 11, 27, 14, 0, tzinfo=UTC)
    nginx = ls.parse_nginx_error(
        b"2026/11/27 14:00:05 [error] 1#1: x", datetime.timezone(datetime.timedelta(hours=2))
    )
    assert nginx is not None and nginx.time.hour == 12


def test_fingerprints_normalise_numbers_ids_and_quotes() -> None:
    a = ls.parse_php_head(
        b"[27-Nov-2026 14:00:01 UTC] PHP Warning:  Order 123 'abc' in /a.php on line 9"
    )
    b = ls.parse_php_head(
        b"[27-Nov-2026 14:00:02 UTC] PHP Warning:  Order 456 'xyz' in /a.php on line 9"
    )
    assert a and b and a.fingerprint() == b.fingerprint()


def test_window_filters_records() -> None:
    since = datetime.datetime(2026, 11, 27, 14, 0, 6, tzinfo=UTC)
    result = scan(DEBUG_LOG, since=since)
    # The Berlin record is at 14:00:00 UTC: before the window.
    assert result["counts"] == {"php:warning": 1, "mase:warning": 1}


def test_nginx_error_levels() -> None:
    result = scan(NGINX_ERROR, "nginx_error")
    assert result["counts"] == {"mase:fatal": 1, "nginx:fatal": 1, "nginx:warning": 1}


def test_access_stats() -> None:
    stats = ls.access_stats(io.BytesIO(ACCESS_LOG))
    assert stats["requests"] == 4 and stats["errors_5xx"] == 1
    assert stats["api_requests"] == 2 and stats["api_error_rate"] == 0.5
    assert stats["timed_requests"] == 3 and stats["response_time_p50"] == 0.3
    assert stats["unparsed_lines"] == 1


def test_overlong_lines_and_binary_garbage_are_counted(tmp_path: Path) -> None:
    data = b"\x00\xff" * 100 + b"\n" + b"x" * (ls.MAX_LINE * 3) + b"\n" + DEBUG_LOG
    result = scan(data)
    assert result["overlong_lines"] == 1
    assert result["unparsed_lines"] == 3
    assert result["records"] == 6


def write_log(path: Path, start: datetime.datetime, records: int, step_s: int = 1) -> None:
    with open(path, "wb") as f:
        for i in range(records):
            t = start + datetime.timedelta(seconds=i * step_s)
            f.write(
                t.strftime("[%d-%b-%Y %H:%M:%S UTC] ").encode()
                + f"PHP Warning:  thing {i} in /a.php on line 3\n".encode()
            )


def test_seek_time_finds_the_window_start(tmp_path: Path) -> None:
    path = tmp_path / "debug.log"
    start = datetime.datetime(2026, 11, 27, 0, 0, tzinfo=UTC)
    write_log(path, start, 50_000)
    since = start + datetime.timedelta(seconds=40_000)
    with open(path, "rb") as f:
        offset = ls.seek_time(f, os.path.getsize(path), since, "php")
        f.seek(offset)
        first = ls.parse_php_head(f.readline().rstrip(b"\n"))
        assert first is not None and first.time == since


def test_incremental_resume_rotation_and_copytruncate(tmp_path: Path) -> None:
    path = tmp_path / "debug.log"
    path.write_bytes(DEBUG_LOG)
    inode, head, size = ls.file_identity(path)
    state = {"inode": inode, "head": head, "head_len": min(size, ls.HEAD_BYTES), "offset": size}
    assert ls.resume_offset(path, state) == (size, "resumed")
    with open(path, "ab") as f:
        f.write(b"[27-Nov-2026 16:00:00 UTC] PHP Warning:  new in /b.php on line 1\n")
    assert ls.resume_offset(path, state)[0] == size  # only what is new
    with open(path, "r+b") as f:  # copytruncate: same inode, shorter
        f.truncate(0)
    assert ls.resume_offset(path, state) == (0, "truncated (copy-truncate)")
    path.unlink()
    path.write_bytes(NGINX_ERROR * 10)  # rotated: a new file (its inode may be reused)
    offset, reason = ls.resume_offset(path, state)
    assert offset == 0 and reason in ("rotated (new inode)", "rewritten (first bytes differ)")


@pytest.mark.parametrize("text,expected", [("5m", 300), ("1h", 3600), ("2d", 172800)])
def test_parse_since(text: str, expected: int) -> None:
    now = datetime.datetime(2026, 11, 27, 12, tzinfo=UTC)
    assert (now - ls.parse_since(text, now)).total_seconds() == expected
    with pytest.raises(ValueError, match="not a duration"):
        ls.parse_since("soon")


def test_a_half_written_last_line_is_read_again_next_time() -> None:
    whole = b"[27-Nov-2026 14:00:01 UTC] PHP Warning:  a in /a.php on line 1\n"
    half = b"[27-Nov-2026 14:00:02 UTC] PHP Fatal err"
    summary = ls.Summary()
    end = ls.scan_records(io.BytesIO(whole + half), "php", summary, "x")
    assert end == len(whole)  # an incremental scan resumes at the half line's start


def test_fast_scan_agrees_with_the_line_by_line_scan(tmp_path: Path) -> None:
    data = (DEBUG_LOG * 300) + b"x" * (ls.MAX_LINE + 10) + b"\n" + DEBUG_LOG
    slow, fast = ls.Summary(top=50, plugin=MASE), ls.Summary(top=50, plugin=MASE)
    ls.scan_records(io.BytesIO(data), "wordpress", slow, "n")
    end = ls.fast_scan(io.BytesIO(data), "wordpress", fast, "n")
    assert end == len(data)
    a, b = slow.result(), fast.result()
    assert a["counts"] == b["counts"] and a["records"] == b["records"]
    assert a["top"] == b["top"]
    assert a["unparsed_lines"] == b["unparsed_lines"]


def record(second: int, text: str = "thing") -> bytes:
    return (
        f"[27-Nov-2026 14:00:{second:02d} UTC] PHP Warning:  {text} in /a.php on line 3\n".encode()
    )


def test_incremental_scans_count_everything_once_across_rotations(tmp_path: Path) -> None:
    path = tmp_path / "debug.log"
    path.write_bytes(record(1) + record(2))
    total = ls.Summary()
    state, how = ls.scan_incremental(str(path), "wordpress", None, total)
    assert how == "first scan" and total.records == 2
    with open(path, "ab") as f:
        f.write(record(3) + b"[27-Nov-2026 14:00:04 UTC] PHP Warn")  # a half-written line
    state, how = ls.scan_incremental(str(path), "wordpress", state, total)
    assert how == "resumed" and total.records == 3
    with open(path, "ab") as f:
        f.write(b"ing:  x in /a.php on line 3\n")  # the line is finished now
    # Rotation by rename: the old file gets one more record before it moves.
    with open(path, "ab") as f:
        f.write(record(5))
    path.rename(tmp_path / "debug.log.1")
    path.write_bytes(record(6) + record(7))
    state, how = ls.scan_incremental(str(path), "wordpress", state, total)
    assert "rotated file read first" in how
    assert total.records == 7  # 1..7, the half line counted once, whole
    # Copy-truncate: the content is copied to .1 and the file emptied in place.
    with open(path, "ab") as f:
        f.write(record(8))
    (tmp_path / "debug.log.1").write_bytes(path.read_bytes())
    with open(path, "r+b") as f:
        f.truncate(0)
    with open(path, "ab") as f:
        f.write(record(9))
    state, how = ls.scan_incremental(str(path), "wordpress", state, total)
    assert how.startswith("truncated")
    assert total.records == 9
    assert total.unparsed == 0


def test_a_request_time_that_is_not_a_number_is_unparsed() -> None:
    line = b'1.2.3.4 - - [27/Nov/2026:14:00:01 +0000] "GET / HTTP/1.1" 200 1 "-" "-" .'
    stats = ls.access_stats(io.BytesIO(line + b"\n"))
    assert stats["requests"] == 0 and stats["unparsed_lines"] == 1


def test_a_window_past_any_calendar_is_an_error_not_a_crash() -> None:
    with pytest.raises(ValueError, match="further than any calendar"):
        ls.parse_since("99999999999d")


# nginx writes FastCGI's stderr as it came, newlines and all (ngx_http_fastcgi_module:
# `FastCGI sent in stderr: "%*s"`), then its context; PHP-FPM passes PHP's messages, each
# `PHP message: PHP <Level>:  ...`, one after another.
NGINX_MULTI = b"""\
2026/05/02 10:00:01 [error] 12#12: *7 FastCGI sent in stderr: "PHP message: PHP Warning:  require(/srv/www/wp-content/plugins/mase/x.php): Failed to open stream: No such file or directory in /srv/www/wp-settings.php on line 85
PHP message: PHP Fatal error:  Uncaught Error: Failed opening required '/srv/www/wp-content/plugins/mase/x.php' (include_path='.:/usr/share/php') in /srv/www/wp-settings.php:85
Stack trace:
#0 {main}
  thrown in /srv/www/wp-settings.php on line 85" while reading response header from upstream, client: 192.0.2.7, server: shop.example.com, request: "GET / HTTP/1.1", upstream: "fastcgi://unix:/run/php/php8.2-fpm.sock:", host: "shop.example.com"
2026/05/02 10:00:02 [error] 12#12: *9 FastCGI sent in stderr: "Primary script unknown" while reading response header from upstream, client: 192.0.2.8, server: shop.example.com, request: "GET /nope.php HTTP/1.1", upstream: "fastcgi://unix:/run/php/php8.2-fpm.sock:", host: "shop.example.com"
2026/05/02 10:00:03 [error] 12#12: *11 FastCGI sent in stderr: "PHP message: PHP Warning:  mysqli_real_connect(): (HY000/2002): Connection refused in /srv/www/wp-includes/class-wpdb.php on line 1987" while reading response header from upstream, client: 192.0.2.9, server: shop.example.com, request: "GET / HTTP/1.1", upstream: "fastcgi://unix:/run/php/php8.2-fpm.sock:", host: "shop.example.com"
2026/05/02 10:00:04 [crit] 12#12: *13 connect() to unix:/run/php/php8.2-fpm.sock failed (2: No such file or directory) while connecting to upstream, client: 192.0.2.10, server: shop.example.com, request: "GET / HTTP/1.1", upstream: "fastcgi://unix:/run/php/php8.2-fpm.sock:", host: "shop.example.com"
2026/05/02 10:00:05 [emerg] 1#1: host not found in upstream "backend.internal" in /etc/nginx/sites-enabled/shop:12
"""


def test_an_nginx_entry_carrying_several_php_messages_over_several_lines() -> None:
    """On real files ~80% of the entries holding a fatal were reported as plain `error`."""
    result = scan(NGINX_MULTI, "nginx_error")
    assert result["unparsed_lines"] == 0  # the entry's later lines are the entry's
    assert result["records"] == 5
    assert result["counts"]["nginx:fatal"] == 1  # the entry's worst message
    fatal = [e for e in result["top"] if e["level"] == "fatal"]
    assert len(fatal) == 1
    assert fatal[0]["fingerprint"].startswith("fatal|/srv/www/wp-settings.php|85|")
    warnings = {e["fingerprint"] for e in result["top"] if e["level"] == "warning"}
    assert any(w.startswith("warning|/srv/www/wp-settings.php|85|") for w in warnings)


def test_nginx_fingerprints_are_what_fastcgi_said() -> None:
    """Quoting swallowed the whole FastCGI text: 'Primary script unknown' and a mysqli
    warning shared one fingerprint."""
    result = scan(NGINX_MULTI, "nginx_error")
    prints = [e["fingerprint"] for e in result["top"]]
    unknown = [p for p in prints if "Primary script unknown" in p]
    mysqli = [p for p in prints if "mysqli_real_connect" in p]
    assert len(unknown) == 1 and len(mysqli) == 1 and unknown != mysqli
    assert "client" not in unknown[0] and "192.0.2" not in unknown[0]


def test_the_web_servers_own_severities_are_not_php_fatals() -> None:
    """A file with no PHP fatal reported 115 'fatals': nginx's [crit] and [emerg]."""
    result = scan(NGINX_MULTI[NGINX_MULTI.index(b"2026/05/02 10:00:04") :], "nginx_error")
    assert result["counts"] == {"nginx:crit": 2}
    assert not any(k.endswith((":fatal", ":parse")) for k in result["counts"])


@pytest.mark.parametrize(
    ("line", "level"),
    [
        (b"PHP Catchable fatal error:  Argument 1 passed to f() must be an instance of A", "fatal"),
        (b"PHP Recoverable fatal error:  Object of class A could not be converted", "fatal"),
        (b"PHP Fatal error:  Allowed memory size of 134217728 bytes exhausted", "fatal"),
        (b"PHP Parse error:  syntax error, unexpected '}'", "parse"),
        (
            b"PHP Strict Standards:  Non-static method A::b() should not be called statically",
            "notice",
        ),
        (b"PHP Core Warning:  Module 'mysqli' already loaded", "warning"),
        (b"PHP Compile Error:  Cannot redeclare f()", "fatal"),
        (b"PHP User Deprecated:  f() is deprecated", "deprecated"),
        (b"PHP User Notice:  something", "notice"),
        (b"PHP Unknown error:  something", "error"),
        (b"PHP Warning:  Undefined variable $x", "warning"),
        (b"MASE: not a PHP message", "info"),
    ],
)
def test_every_level_spelling_php_writes(line: bytes, level: str) -> None:
    """PHP 5's `Catchable fatal error` was counted as info."""
    record = ls.parse_php_head(b"[02-May-2026 10:00:01 UTC] " + line + b" in /a.php on line 3")
    assert record is not None and record.level == level


LONG_TEXT = b"[27-Nov-2026 14:00:09 UTC] PHP Warning:  " + b"w" * 5000 + b" in /a.php on line 3\n"


@pytest.mark.parametrize(
    "data",
    [
        DEBUG_LOG,
        DEBUG_LOG + b"\n\n\r\n" + DEBUG_LOG,  # blank lines: neither records nor unparsed
        DEBUG_LOG + b"[27-Nov-2026 14:00:09 UTC] PHP Fatal error:  half written in /a.php:3",
        b"\n" + DEBUG_LOG.replace(b"\n", b"\r\n"),
        b"not a log line\n" + DEBUG_LOG + b"   \n\t\n",
        # A text over 4 KiB, its location at the end (the fast path cut it at 4096 bytes and
        # lost the location), and a head line over 64 KiB: unparsed, as the line scan has it.
        DEBUG_LOG + LONG_TEXT + DEBUG_LOG,
        DEBUG_LOG + LONG_TEXT.replace(b"w" * 5000, b"w" * ls.MAX_LINE) + DEBUG_LOG,
    ],
)
def test_the_fast_and_the_line_scan_agree_on_every_shape(data: bytes) -> None:
    """A final line without its newline was dropped by the fast path, and blank lines were
    unparsed in one path and not the other."""
    slow, fast = ls.Summary(top=50, plugin=MASE), ls.Summary(top=50, plugin=MASE)
    ls.scan_records(io.BytesIO(data), "wordpress", slow, "n")
    ls.fast_scan(io.BytesIO(data), "wordpress", fast, "n")
    a, b = slow.result(), fast.result()
    keys = ("records", "counts", "unparsed_lines", "overlong_lines", "unparsed_samples")
    assert [a[k] for k in keys] == [b[k] for k in keys]
    assert a["top"] == b["top"]


# xdebug (develop mode) logs the stack with a timestamp on every frame.
XDEBUG_LOG = b"""\
[02-May-2026 10:00:01 UTC] PHP Fatal error:  Uncaught Error: Call to undefined function f() in /srv/www/wp-content/plugins/mase/mase.php:12
[02-May-2026 10:00:01 UTC] PHP Stack trace:
[02-May-2026 10:00:01 UTC] PHP   1. {main}() /srv/www/index.php:0
[02-May-2026 10:00:01 UTC] PHP   2. require() /srv/www/index.php:17
[02-May-2026 10:00:01 UTC] PHP   3. do_action($hook_name = 'init') /srv/www/wp-settings.php:700
[02-May-2026 10:00:02 UTC] PHP Warning:  Undefined array key "x" in C:\\www\\site\\wp-content\\plugins\\mase\\a.php on line 20
[02-May-2026 10:00:03 UTC] PHP Warning:  Undefined array key "x" in C:\\www\\site\\wp-content\\plugins\\mase\\a.php on line 31
"""


def test_xdebug_frames_belong_to_their_record_and_windows_paths_keep_their_line() -> None:
    """Frames inflated `records` 5.6x on a real file; C:\\ paths merged different lines."""
    for scanner in (ls.scan_records, ls.fast_scan):
        summary = ls.Summary(top=50, plugin=MASE)
        scanner(io.BytesIO(XDEBUG_LOG), "php", summary, "n")
        result = summary.result()
        assert result["records"] == 3 and result["unparsed_lines"] == 0, scanner
        warnings = sorted(e["fingerprint"] for e in result["top"] if e["level"] == "warning")
        path = "C:\\www\\site\\wp-content\\plugins\\mase\\a.php"
        assert warnings == [
            f'warning|{path}|20|PHP Warning:  Undefined array key "…"',
            f'warning|{path}|31|PHP Warning:  Undefined array key "…"',
        ], warnings


def test_a_binary_request_line_is_a_request() -> None:
    """TLS bytes sent to the HTTP port, as nginx logs them, were unparsed."""
    line = (
        b'192.0.2.7 - - [02/May/2026:10:00:01 +0000] "\\x16\\x03\\x01\\x02\\x00\\x01\\x00\\x01\\xFC\\x03\\x03" '
        b'400 157 "-" "-"\n'
    )
    stats = ls.access_stats(io.BytesIO(line))
    assert stats["requests"] == 1 and stats["unparsed_lines"] == 0


# What WordPress and PHP write over several lines: the SQL of a database error, print_r output,
# a driver's second line. Each line belongs to the record above it.
MULTILINE_LOG = b"""\
[02-May-2026 10:00:01 UTC] WordPress database error Table 'wp.wp_mase_log' doesn't exist for query SELECT *
FROM wp_mase_log
WHERE id = 3 made by require('wp-blog-header.php'), wp, WP->main, do_action_ref_array('wp')
[02-May-2026 10:00:02 UTC] Array
(
    [payload] => null
    [status] => 500
)
[02-May-2026 10:00:03 UTC] PHP Warning:  oci_connect(): ORA-12541: TNS:no listener in /srv/a.php on line 9
ORA-12541: TNS:no listener
"""


def test_continuation_lines_are_the_record_above_not_unparsed() -> None:
    for scanner in (ls.scan_records, ls.fast_scan):
        summary = ls.Summary(top=50, plugin=MASE)
        scanner(io.BytesIO(MULTILINE_LOG), "wordpress", summary, "n")
        result = summary.result()
        assert result["records"] == 3, scanner
        assert result["unparsed_lines"] == 0, scanner


def test_unparsed_is_kept_for_what_is_malformed() -> None:
    data = MULTILINE_LOG + b"torn \x00\x00\x00 write\n" + b"not utf-8 \xff\xfe\n" + MULTILINE_LOG
    for scanner in (ls.scan_records, ls.fast_scan):
        summary = ls.Summary(top=50, plugin=MASE)
        scanner(io.BytesIO(data), "wordpress", summary, "n")
        assert summary.result()["unparsed_lines"] == 2, scanner


@pytest.mark.parametrize(
    "line",
    [
        # wpdb::print_error, as today's WordPress writes it (untranslated) ...
        "WordPress database error Table 'wp.wp_mase_log' doesn't exist for query SELECT * FROM "
        "wp_mase_log WHERE id = 3 made by require('wp-blog-header.php'), wp, WP->main",
        # ... and as older ones wrote it through their translations (de_DE, ru_RU).
        "WordPress-Datenbank-Fehler Table 'wp.wp_mase_log' doesn't exist für Abfrage SELECT * "
        "FROM wp_mase_log WHERE id = 3 von require('wp-blog-header.php'), wp, WP->main",
        "Ошибка базы данных WordPress Table 'wp.wp_mase_log' doesn't exist в запросе SELECT * "
        "FROM wp_mase_log WHERE id = 3 выполненном require('wp-blog-header.php'), wp, WP->main",
    ],
)
def test_wordpress_database_errors_are_errors_by_mysqls_message(line: str) -> None:
    """They were counted as info, with no fingerprint."""
    data = f"[02-May-2026 10:00:01 UTC] {line}\n".encode()
    for scanner in (ls.scan_records, ls.fast_scan):
        summary = ls.Summary(top=50, plugin=MASE)
        scanner(io.BytesIO(data), "php", summary, "n")
        result = summary.result()
        assert result["counts"].get("wordpress:error") == 1, (scanner, result["counts"])
        [entry] = result["top"]
        assert entry["tag"] == "database" and entry["level"] == "error"
        assert entry["fingerprint"] == "error|-|-|database: Table '…' doesn't exist"


def test_a_fatal_after_leading_nul_bytes_is_found_and_unknown_content_is_said() -> None:
    """A real fatal after leading NUL bytes was lost; a file of an unknown format reported 0
    records and 0 unparsed, exactly what a clean log looks like."""
    holed = b"\x00" * 4096 + b"[02-May-2026 10:00:01 UTC] PHP Fatal error:  boom in /a.php:3\n"
    unknown = b"".join(f"{i} | svc=api | something happened\n".encode() for i in range(20))
    for scanner in (ls.scan_records, ls.fast_scan):
        summary = ls.Summary(top=50, plugin=MASE)
        scanner(io.BytesIO(holed), "php", summary, "n")
        assert summary.result()["counts"] == {"php:fatal": 1}, scanner
        summary = ls.Summary(top=50, plugin=MASE)
        scanner(io.BytesIO(unknown), "php", summary, "n")
        result = summary.result()
        assert result["records"] == 0 and result["unparsed_lines"] == 20, scanner
        assert result["unparsed_samples"][0] == "0 | svc=api | something happened", scanner


def test_a_window_over_a_file_of_unknown_format_reads_it_all(tmp_path: Path) -> None:
    """The scan started at the first line whose time it could read: an unknown format was
    skipped whole, uncounted."""
    data = b"".join(f"{i} | svc=api | boom\n".encode() for i in range(500))
    since = datetime.datetime(2026, 5, 2, tzinfo=UTC)
    assert ls.seek_time(io.BytesIO(data), len(data), since, "php") == 0


# PHP-FPM's own log as its zlog writes it, and a slow log entry with its frames.
FPM_LOG = b"""\
[02-May-2026 10:00:01] NOTICE: fpm is running, pid 812
[02-May-2026 10:00:05] WARNING: [pool www] child 1234 exited on signal 9 (SIGKILL) after 12.345678 seconds from start
[02-May-2026 10:00:06] WARNING: [pool www] server reached pm.max_children setting (5), consider raising it
[02-May-2026 10:00:07] WARNING: [pool www] child 1240, script '/srv/www/index.php' (request: "GET /index.php") executing too slow (5.012345 sec), logging
[02-May-2026 10:00:07]  [pool www] pid 1240
script_filename = /srv/www/index.php
[0x00007f1c2e813f60] sleep() /srv/www/wp-content/plugins/mase/includes/rest.php:12
[0x00007f1c2e813e80] mase_rest_status() /srv/www/wp-includes/class-wp-hook.php:324
[02-May-2026 10:00:09] WARNING: [pool www] child 1241 exited on signal 9 (SIGKILL) after 3.100000 seconds from start
"""


def test_php_fpms_own_log() -> None:
    result = scan(FPM_LOG, "php_fpm")
    assert result["unparsed_lines"] == 0  # the slow log's frames are its entry's
    assert result["counts"]["php-fpm:warning"] == 5 and result["counts"]["php-fpm:notice"] == 1
    killed = [e for e in result["top"] if "exited on signal" in e["fingerprint"]]
    assert len(killed) == 1 and killed[0]["count"] == 2  # pids and times normalised


def test_a_files_newest_record_is_read_from_its_end() -> None:
    data = DEBUG_LOG + b"\n\n"
    newest = ls.newest_time(io.BytesIO(data), len(data), "php")
    assert newest == datetime.datetime(2026, 11, 27, 14, 0, 0, tzinfo=UTC)  # Berlin 15:00
    assert ls.newest_time(io.BytesIO(b"no records\n"), 11, "php") is None


# Apache 2.4's error log as ErrorLogFormat's default writes it: mod_php's message as PHP wrote
# it, proxy_fcgi's "AH01071: Got error 'PHP message: ...'" with PHP's newlines as \n.
APACHE_ERROR = b"""\
[Tue Jun 02 14:07:31.104522 2026] [php:warn] [pid 2211] [client 192.0.2.7:51514] PHP Warning:  Undefined array key "x" in /srv/www/wp-content/plugins/mase/a.php on line 20, referer: https://shop.example.com/
[Tue Jun 02 14:07:32.200001 2026] [proxy_fcgi:error] [pid 2212:tid 140331] [client 192.0.2.8:51515] AH01071: Got error 'PHP message: PHP Warning:  require(/srv/x.php): Failed to open stream in /srv/www/index.php on line 3\\nPHP message: PHP Fatal error:  Uncaught Error: Failed opening required '/srv/x.php' in /srv/www/index.php:3\\nStack trace:\\n#0 {main}\\n  thrown in /srv/www/index.php on line 3'
[Tue Jun 02 14:07:33.000001 2026] [proxy:error] [pid 2213] (111)Connection refused: AH00957: FCGI: attempt to connect to 127.0.0.1:9000 (127.0.0.1) failed
[Tue Jun 02 14:07:34.000001 2026] [core:crit] [pid 2214] AH00102: [Tue Jun 02 14:07:34 2026] file overflow
[Tue Jun 02 14:07:35.000001 2026] [mpm_prefork:notice] [pid 2200] AH00163: Apache/2.4.62 (Debian) configured -- resuming normal operations
"""


def test_apache_error_log() -> None:
    result = scan(APACHE_ERROR, "apache_error")
    assert result["unparsed_lines"] == 0 and result["records"] == 5
    assert result["counts"] == {
        "apache:crit": 1,
        "apache:error": 1,
        "apache:fatal": 1,
        "apache:notice": 1,
        "apache:warning": 1,
        "mase:warning": 1,
    }
    fatal = [e for e in result["top"] if e["level"] == "fatal"]
    assert len(fatal) == 1 and fatal[0]["fingerprint"].startswith("fatal|/srv/www/index.php|3|")
    warning = [e for e in result["top"] if "Undefined array key" in e["fingerprint"]]
    assert warning[0]["fingerprint"].startswith(
        "warning|/srv/www/wp-content/plugins/mase/a.php|20|"
    )


def test_access_log_variants() -> None:
    vhost = (
        b'shop.example.com:443 192.0.2.7 - - [02/Jun/2026:14:07:31 +0000] "GET /wp-json/mase/v1/status '
        b'HTTP/1.1" 500 120 "-" "curl/8.1" 250000\n'
        b'shop.example.com:443 192.0.2.8 - - [02/Jun/2026:14:07:32 +0000] "GET / HTTP/1.1" 200 '
        b'4120 "-" "curl/8.1" 80000\n'
    )
    stats = ls.access_stats(io.BytesIO(vhost), api_prefix="/wp-json/mase/", time_unit="us")
    assert stats["requests"] == 2 and stats["api_error_rate"] == 1.0
    assert stats["response_time_p95"] == 0.25  # %D microseconds, as seconds
    seconds = vhost.replace(b" 250000\n", b" 1\n").replace(b" 80000\n", b" 0\n")
    assert ls.access_stats(io.BytesIO(seconds), time_unit="s")["response_time_p95"] == 1.0
    as_json = (
        b'{"time_iso8601":"2026-06-02T14:07:31+00:00","request":"GET /wp-json/mase/v1/status '
        b'HTTP/1.1","status":"502","request_time":"0.300"}\n'
        b'{"when":"2026-06-02T14:07:32+00:00","req":"GET / HTTP/1.1","code":200,"rt":0.05}\n'
    )
    json_stats = ls.access_stats(
        io.BytesIO(as_json), api_prefix="/wp-json/mase/", json_fields=ls.JSON_FIELDS
    )
    assert json_stats["requests"] == 1 and json_stats["api_errors"] == 1
    assert json_stats["unparsed_lines"] == 1  # other keys: said, not guessed
    mine = {"time": "when", "request": "req", "status": "code", "request_time": "rt"}
    assert ls.access_stats(io.BytesIO(as_json), json_fields=mine)["requests"] == 1


def _php_line(when: datetime.datetime, text: str) -> str:
    return f"[{when.strftime('%d-%b-%Y %H:%M:%S')} UTC] {text}\n"


def test_an_incremental_first_scan_starts_at_the_window_not_at_byte_0(tmp_path: Path) -> None:
    """The monitor's first cycle on a host reads the window, later cycles only what is new;
    what is new is the recent count of critical errors."""
    now = datetime.datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    log = tmp_path / "debug.log"
    fatal = "PHP Fatal error:  Uncaught Error: boom in /var/www/x/wp-content/plugins/mase/a.php:3"
    old = "".join(_php_line(now - datetime.timedelta(days=2, seconds=i), fatal) for i in range(500))
    recent = _php_line(now - datetime.timedelta(minutes=2), "PHP Warning:  w in /x.php on line 1")
    log.write_text(old + recent)
    sources = [{"path": str(log), "kind": "wordpress"}]
    args = {"api_prefix": "/wp-json/mase/", "plugin": "mase", "plugin_prefix": "MASE"}
    first = ls.scan_node(sources, since="10m", incremental=True, now=now, **args)
    assert first["records"] == 1 and first["critical_recent"] == 0
    assert first["sources"][0]["resumed"].startswith("first scan, from the window's start")
    with log.open("a") as handle:
        handle.write(_php_line(now, fatal) * 3)
    second = ls.scan_node(
        sources, since="10m", incremental=True, state=first["state"], now=now, **args
    )
    assert second["records"] == 3 and second["critical_recent"] == 3
    third = ls.scan_node(
        sources, since="10m", incremental=True, state=second["state"], now=now, **args
    )
    assert third["records"] == 0 and third["critical_recent"] == 0


def test_scan_node_names_a_bad_source_and_a_bad_window(tmp_path: Path) -> None:
    args = {"api_prefix": "/wp-json/mase/", "plugin": "mase", "plugin_prefix": "MASE"}
    with pytest.raises(ls.ScanError, match="needs a path and a kind"):
        ls.scan_node([{"path": "/x", "kind": "syslog"}], since="1h", **args)
    with pytest.raises(ls.ScanError):
        ls.scan_node([], since="yesterday-ish", **args)


def generated_log(records: int, seed: int) -> bytes:
    """A debug.log in the shapes PHP and WordPress write, texts repeating as real logs do:
    stack traces, xdebug frames, a non-UTF-8 line, a control character, CRLF, blank lines,
    a multi-byte message, an overlong line, and a half-written last line."""
    import random

    rng = random.Random(seed)
    start = datetime.datetime(2026, 11, 27, 0, 0, tzinfo=UTC)
    frames = "".join(f"\n{{stamp}}PHP   {k}. f() /w/a.php:{k}" for k in range(1, 4))
    # (weight, record): {stamp} and {n} filled in per record; None: a line that is no record.
    shapes: list[tuple[int, str | None]] = [
        (40, 'PHP Warning:  Undefined array key "k{n}" in /w/mase/settings.php on line 3'),
        (20, "PHP Deprecated:  Creation of dynamic property A{n}::$p in /w/a.php on line 3"),
        (10, "MASE: saved for user {n}"),
        (5, "PHP Notice:  Überschrift {n} in /w/ä.php on line 1"),
        (
            5,
            "PHP Fatal error:  Uncaught Error: boom in /w/mase/api.php:27\nStack trace:\n"
            "#0 {{main}}\n  thrown in /w/mase/api.php on line 27",
        ),
        (3, "PHP Fatal error:  Uncaught Error: x in /w/a.php:2\n{stamp}PHP Stack trace:" + frames),
        (15, "WordPress database error Table 'wp_{n}' doesn't exist for query SELECT"),
        (2, None),
    ]
    # Lines no record is: bytes that are not UTF-8, a control character, blank lines, a line
    # that opens with a bracket; and records the fast path leaves to the regex: a head after
    # NUL padding (a torn write), a stamp in another time zone (another length).
    noise = [
        b"\xff\xfe not text\n",
        b"ctl \x01 char\n",
        b"\r\n",
        b"\n",
        b"[not a stamp at all] x\n",
        b"\x00\x00[27-Nov-2026 00:00:00 UTC] PHP Warning:  after a torn write in /w/a.php on line 1\n",
        b"[27-Nov-2026 01:00:00 Europe/Berlin] PHP Notice:  elsewhere in /w/b.php on line 2\n",
    ]
    out = [b"garbage before the first record\n"]
    for i in range(records):
        stamp = (start + datetime.timedelta(seconds=i // 7)).strftime("[%d-%b-%Y %H:%M:%S UTC] ")
        (shape,) = rng.choices([t for _, t in shapes], weights=[w for w, _ in shapes])
        if shape is None:
            out.append(rng.choice(noise))
            continue
        body = shape.format(stamp=stamp, n=rng.randrange(40))
        out.append(f"{stamp}{body}\n".encode())
        if i == records // 3:
            out.append(b"y" * (ls.MAX_LINE + 5) + b"\n")
    out.append(b"[27-Nov-2026 23:59:59 UTC] PHP Warning:  half writ")
    return b"".join(out)


@pytest.mark.parametrize("seed", [1, 2])
def test_the_split_scan_reads_a_generated_log_as_the_line_scan_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, seed: int
) -> None:
    """The fast path's C-speed tally (texts counted whole, stamps looked up per chunk) and its
    split across two processes give what the line-by-line scan gives, on small chunks that
    fold often, split and not split."""
    path = tmp_path / "debug.log"
    path.write_bytes(generated_log(20_000, seed))
    monkeypatch.setattr(ls, "CHUNK", 64 << 10)
    monkeypatch.setattr(ls, "MAX_BODIES", 300)
    monkeypatch.setattr(ls, "FEW", 4)
    slow = ls.Summary(top=500, plugin=MASE)
    with open(path, "rb") as handle:
        slow_end = ls.scan_records(handle, "wordpress", slow, "n")
    results = []
    for parallel in (1 << 40, 256 << 10):
        monkeypatch.setattr(ls, "PARALLEL_BYTES", parallel)
        fast = ls.Summary(top=500, plugin=MASE)
        with open(path, "rb") as handle:
            assert ls.fast_scan(handle, "wordpress", fast, "n") == slow_end  # the half line's
        results.append(fast.result())
    expected = slow.result()
    assert expected["records"] > 15_000 and expected["unparsed_lines"] > 100
    for got in results:
        for key in ("records", "counts", "plugin_records", "unparsed_lines", "first", "last"):
            assert got[key] == expected[key], key
        assert got["top"] == expected["top"]
        assert got["distinct_fingerprints"] == expected["distinct_fingerprints"]


def test_a_split_scan_whose_second_process_dies_reads_that_half_itself(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "debug.log"
    path.write_bytes(generated_log(5_000, 3))
    whole = ls.Summary(top=500)
    with open(path, "rb") as handle:
        ls.fast_scan(handle, "php", whole, "n")
    monkeypatch.setattr(ls, "PARALLEL_BYTES", 64 << 10)
    monkeypatch.setattr(ls.pickle, "dump", lambda *a, **k: os._exit(9))  # the child dies
    split = ls.Summary(top=500)
    with open(path, "rb") as handle:
        ls.fast_scan(handle, "php", split, "n")
    assert split.result() == whole.result()
