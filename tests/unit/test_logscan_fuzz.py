"""No input crashes the log parsers: property-based (hypothesis)."""

from __future__ import annotations

import datetime
import io

from hypothesis import given, settings
from hypothesis import strategies as st

from runbook.ansible.module_utils import runbook_logscan as ls

PREFIXES = st.sampled_from(
    [
        b"",
        b"[27-Nov-2026 14:00:01 UTC] PHP Fatal error:  ",
        b"[99-Foo-2026 99:99:99 Mars/Olympus] ",
        b"2026/11/27 14:00:05 [error] 1#1: ",
        b'2026/11/27 14:00:05 [error] 1#1: *7 FastCGI sent in stderr: "PHP message: PHP Warning:  ',
        b"PHP message: PHP Fatal error:  ",
        b"PHP message: PHP Catchable fatal error:  ",
        b'" while reading response header from upstream, client: 192.0.2.7',
        b"2026/11/27 14:00:05 [crit] 1#1: *9 connect() failed ",
        b"[27-Nov-2026 14:00:01 UTC] PHP Strict Standards:  ",
        b"[27-Nov-2026 14:00:01 UTC] PHP   2. require() ",
        b"[27-Nov-2026 14:00:01] WARNING: [pool www] child 1 exited on signal 9 ",
        b"[0x00007f1c2e813f60] sleep() /srv/a.php:",
        b"[Tue Jun 02 14:07:31.104522 2026] [php:warn] [pid 1] [client 1.2.3.4:5] PHP Warning:  ",
        b"[Tue Jun 02 14:07:31 2026] [proxy_fcgi:error] [pid 1] AH01071: Got error 'PHP message: ",
        b'h.example:443 1.2.3.4 - - [27/Nov/2026:14:00:01 +0000] "GET / HTTP/1.1" 200 1 "-" "-" ',
        b'{"time_iso8601":"2026-11-27T14:00:01+00:00","request":"GET / HTTP/1.1","status":',
        b"[27-Nov-2026 14:00:01 UTC] WordPress database error Table 'x' for query SELECT ",
        "[27-Nov-2026 14:00:01 UTC] Ошибка базы данных WordPress x в запросе SELECT ".encode(),
        b"[27-Nov-2026 14:00:01 UTC] PHP Warning:  x in C:\\www\\a.php on line ",
        b'1.2.3.4 - - [27/Nov/2026:14:00:01 +0000] "\\x16\\x03\\x01" 400 0 "-" "-" ',
        b"Stack trace:\n#0 ",
        b"\xff\xfe\x00",
        b'1.2.3.4 - - [27/Nov/2026:14:00:01 +0000] "GET / HTTP/1.1" 200 1 "-" "-" ',
    ]
)
LINES = st.lists(st.tuples(PREFIXES, st.binary(max_size=300)), max_size=40)


def as_log(parts: list[tuple[bytes, bytes]]) -> bytes:
    return b"\n".join(p + body for p, body in parts)


@settings(max_examples=500, deadline=None, derandomize=True)
@given(LINES, st.sampled_from(["php", "wordpress", "nginx_error", "php_fpm", "apache_error"]))
def test_record_scan_never_crashes(parts: list[tuple[bytes, bytes]], kind: str) -> None:
    summary = ls.Summary(plugin=ls.PluginMarkers("mase", "MASE"))
    data = as_log(parts)
    handle = io.BytesIO(data)
    end = ls.scan_records(handle, kind, summary, "x")
    result = summary.result()
    assert 0 <= end <= len(data)
    assert result["records"] + result["unparsed_lines"] <= data.count(b"\n") + 1


@settings(max_examples=500, deadline=None, derandomize=True)
@given(LINES)
def test_access_stats_never_crash(parts: list[tuple[bytes, bytes]]) -> None:
    for options in ({}, {"time_unit": "us"}, {"json_fields": ls.JSON_FIELDS}):
        stats = ls.access_stats(io.BytesIO(as_log(parts)), **options)  # type: ignore[arg-type]
        assert stats["errors_5xx"] <= stats["requests"]


@settings(max_examples=200, deadline=None, derandomize=True)
@given(LINES, st.datetimes(timezones=st.just(datetime.UTC)))
def test_seek_never_crashes_and_stays_in_the_file(
    parts: list[tuple[bytes, bytes]], since: datetime.datetime
) -> None:
    data = as_log(parts) * 50
    offset = ls.seek_time(io.BytesIO(data), len(data), since, "php")
    assert 0 <= offset <= len(data)
