# -*- coding: utf-8 -*-
"""Scanning logs where they are: WordPress debug.log / PHP error log, nginx error and access logs.

Plain Python (no Ansible import): the `log_scan_info` module runs it on each node, the tests
import it directly. Everything is read as bytes, line by line, with a cap on line length, so
binary garbage, invalid UTF-8 and megabyte lines are counted as unparsed, never a crash, and
memory stays bounded whatever the file's size.

Time windows use the fact that logs are written in time order: the start of a window is found
by binary search over byte offsets (`seek_time`), so a query's cost follows the window, not the
file. Incremental scans remember inode, a fingerprint of the first bytes and the offset, and
survive rotation and copy-truncate.
"""

from __future__ import annotations

import datetime
import hashlib
import io
import json
import operator
import os
import pickle
import re
from collections import Counter
from typing import Any, BinaryIO, Callable, Dict, Iterator, List, Optional, Set, Tuple

MAX_LINE = 64 * 1024  # longer lines are counted as unparsed and skipped without being kept
OVERLONG = b"(a line longer than 64 KiB)"  # what an overlong line's sample says
HEAD_BYTES = 256  # the fingerprint of a file's first bytes (rotation detection)
UTC = datetime.timezone.utc
MONTHS = {
    m.encode(): i
    for i, m in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1
    )
}

# [27-Nov-2026 14:05:01 UTC] message   (PHP's error_log format; the zone is a name or offset)
PHP_RECORD = re.compile(
    rb"^\[(\d{2})-([A-Z][a-z]{2})-(\d{4}) (\d{2}):(\d{2}):(\d{2})"
    rb"(?: ([A-Za-z0-9_/+:\-]+))?\] (.*)$",
    re.DOTALL,
)
# 2026/11/27 14:05:01 [error] 1234#1234: *5 message   (no zone: the node's applies)
NGINX_ERROR = re.compile(
    rb"^(\d{4})/(\d{2})/(\d{2}) (\d{2}):(\d{2}):(\d{2}) \[([a-z]+)\] (.*)$", re.DOTALL
)
# combined: addr - user [27/Nov/2026:14:05:01 +0000] "GET /x HTTP/1.1" 200 512 "ref" "ua" [rt]
# A request line that is not one (TLS bytes sent to the HTTP port, logged as "\x16\x03...")
# is still a request, with its status (400): the method and path are then empty.
ACCESS = re.compile(
    # vhost_combined starts with the virtual host and port: "shop.example.com:443 ".
    rb"^(?:[^\s\[]+:\d+ )?(\S+) \S+ \S+ "
    rb"\[(\d{2})/([A-Z][a-z]{2})/(\d{4}):(\d{2}):(\d{2}):(\d{2}) ([+-]\d{4})\] "
    rb'"(?:([A-Z]+) (\S+)(?: [^"]*)?|[^"]*)" (\d{3}) (\d+|-)(?: "[^"]*" "[^"]*")?'
    rb"(?: (\d+(?:\.\d+)?))?\s*$"
)

# Every label PHP 5.x-8.x writes before the colon (main/main.c, php_error_cb: "Fatal error",
# "Recoverable fatal error" (PHP 7+), "Catchable fatal error" (PHP 5), "Parse error",
# "Warning", "Notice", "Strict Standards", "Deprecated", "Unknown error"), and the E_CORE_*,
# E_COMPILE_* and E_USER_* spellings loggers and frameworks write.
PHP_LEVELS = {
    b"fatal error": "fatal",
    b"recoverable fatal error": "fatal",
    b"catchable fatal error": "fatal",
    b"core error": "fatal",
    b"compile error": "fatal",
    b"user error": "fatal",
    b"parse error": "parse",
    b"warning": "warning",
    b"core warning": "warning",
    b"compile warning": "warning",
    b"user warning": "warning",
    b"notice": "notice",
    b"user notice": "notice",
    b"strict standards": "notice",
    b"deprecated": "deprecated",
    b"user deprecated": "deprecated",
    b"unknown error": "error",
    b"error": "error",
}
PHP_LABEL = re.compile(rb"PHP ([A-Za-z][A-Za-z ]{2,30}?):")
# The web server's own severities stay its own: an upstream nginx cannot reach is `crit`, never
# a PHP `fatal` (that is the PHP messages an entry carries).
NGINX_LEVELS = {
    b"emerg": "crit",
    b"alert": "crit",
    b"crit": "crit",
    b"error": "error",
    b"warn": "warning",
    b"notice": "notice",
    b"info": "info",
    b"debug": "info",
}
#: Worst first: an entry's level is the worst of its own and its PHP messages'.
SEVERITY = ("fatal", "parse", "crit", "error", "warning", "notice", "deprecated", "info")
# FastCGI's stderr in an nginx entry: one `PHP message: PHP <Level>:  ...` part per message.
PHP_MESSAGE = re.compile(
    r"PHP message: (PHP [A-Za-z ]{2,30}?:.*?)(?=\s*PHP message: |\"? while |\"?$)", re.DOTALL
)
FASTCGI_TEXT = re.compile(r'FastCGI sent in stderr: "(.*?)"(?: while |$)', re.DOTALL)
# wpdb::print_error: "WordPress database error %1$s for query %2$s made by %3$s", written in
# English by today's WordPress and translated by older ones ("WordPress-Datenbank-Fehler ...
# für Abfrage ... von ...", "Ошибка базы данных WordPress ... в запросе ..."): matched by its
# structure, a head naming WordPress, MySQL's message, two words, then the SQL.
WP_DB_ERROR = re.compile(
    r"^(?P<head>WordPress database error|.{0,60}?WordPress\S{0,30}) (?P<error>.+?) \S+ \S+ "
    r"(?P<sql>(?:SELECT|INSERT|UPDATE|DELETE|REPLACE|SHOW|CREATE|ALTER|DROP|DESCRIBE|TRUNCATE"
    r"|SET|START|COMMIT|ROLLBACK|LOCK|UNLOCK|OPTIMIZE|CALL)\b.*)$",
    re.DOTALL,
)
#: Longest message kept for an entry with continuation lines.
MAX_MESSAGE = 16 * 1024


def _moment(
    year: bytes, month: bytes, day: bytes, hh: bytes, mm: bytes, ss: bytes, tz: datetime.tzinfo
) -> Optional[datetime.datetime]:
    """A log line's time in UTC (month by its English abbreviation), or None for a date no
    calendar has."""
    if month not in MONTHS:
        return None
    try:
        when = datetime.datetime(
            int(year), MONTHS[month], int(day), int(hh), int(mm), int(ss), tzinfo=tz
        )
    except ValueError:
        return None
    return when.astimezone(UTC)


def _split_php_messages(record: Record, text: str) -> Record:
    """The PHP messages (`PHP message: PHP <Level>:  ...`) a web server's entry carries, each a
    record of its own; the entry's level becomes the worst of its own and theirs."""
    record.parts = []
    for part_text in PHP_MESSAGE.findall(text):
        part = Record(record.time, php_level(part_text.encode()), part_text.strip(), "php")
        located = LOCATION.search(part.message)
        if located:
            part.file, part.line = located.group(1), int(located.group(2))
        record.parts.append(part)
    levels = [record.level, *(p.level for p in record.parts)]
    record.level = min(levels, key=lambda lv: SEVERITY.index(lv) if lv in SEVERITY else 99)
    return record


def php_level(body: bytes) -> str:
    """The level of a message PHP wrote (`PHP Warning:  ...`); info for anything else."""
    match = PHP_LABEL.match(body)
    if not match:
        return "info"
    return PHP_LEVELS.get(match.group(1).strip().lower(), "info")


# ` in /srv/a.php on line 20`, ` in /srv/a.php:20`, and Windows' ` in C:\\www\\a.php on line 20`.
LOCATION = re.compile(r" in ((?:/|[A-Za-z]:\\)\S+?)(?: on line |:)(\d+)")
# xdebug's frames, each with its own timestamp: lines of the record above, not records.
XDEBUG_FRAME = re.compile(rb"PHP (?:Stack trace:|\s+\d+\. )")
NORMALISE = (
    (re.compile(r"'[^']*'"), "'…'"),
    (re.compile(r'"[^"]*"'), '"…"'),
    (re.compile(r"0x[0-9a-fA-F]+"), "0x…"),
    (re.compile(r"\b[0-9a-f]{8,}\b"), "…"),
    (re.compile(r"\d+(\.\d+)?"), "N"),
)


class Record:
    """One log record: its first line parsed, continuation lines (stack traces) attached."""

    __slots__ = ("file", "level", "line", "lines", "message", "parts", "source", "tag", "time")

    def __init__(self, time: datetime.datetime, level: str, message: str, source: str) -> None:
        self.time = time
        self.level = level
        self.message = message
        self.source = source
        self.lines = 1
        self.file: Optional[str] = None
        self.line: Optional[int] = None
        #: The PHP messages an nginx entry carries, each a record of its own.
        self.parts: List["Record"] = []
        #: What kind of error beyond its level: "database" for WordPress's database errors.
        self.tag: Optional[str] = None

    def fingerprint(self) -> str:
        """level + file + line + the message with numbers, ids and quoted values normalised.

        An nginx entry is fingerprinted by what FastCGI said, not by the quotes around it (which
        swallowed every message into one), and without its client/request context.
        """
        message = self.message
        if self.tag == "database":
            found = WP_DB_ERROR.match(message)
            message = f"database: {found.group('error') if found else message}"
        elif self.source == "nginx":
            inner = FASTCGI_TEXT.search(message)
            message = inner.group(1) if inner else message.split(", client: ", 1)[0]
            message = re.sub(r"^\*\d+ ", "", re.sub(r"^\d+#\d+: ", "", message))
        message = LOCATION.sub("", message)
        for pattern, replacement in NORMALISE:
            message = pattern.sub(replacement, message)
        return f"{self.level}|{self.file or '-'}|{self.line or '-'}|{message.strip()[:300]}"


def _zone(name: Optional[bytes], default: datetime.tzinfo) -> datetime.tzinfo:
    if not name:
        return default
    text = name.decode("ascii", "replace")
    if text in ("UTC", "GMT", "Z"):
        return UTC
    match = re.fullmatch(r"([+-])(\d{2}):?(\d{2})", text)
    if match:
        sign = 1 if match.group(1) == "+" else -1
        return datetime.timezone(
            sign * datetime.timedelta(hours=int(match.group(2)), minutes=int(match.group(3)))
        )
    try:
        import zoneinfo

        return zoneinfo.ZoneInfo(text)
    except (ImportError, ValueError, KeyError, OSError):
        return default


class PluginMarkers:
    """How the target plugin's own records are recognised: its log prefix (`MASE: ...`) or its
    paths (its folder, its REST routes) in the message. The records it marks are counted
    again under the plugin's slug as their source (`mase:fatal`)."""

    def __init__(self, slug: str, prefix: str) -> None:
        self.slug = slug
        self.prefix = prefix
        self.paths = (f"/plugins/{slug}/", f"/wp-json/{slug}/")

    def marks(self, record: Record) -> bool:
        message = record.message
        if record.source == "nginx":
            return any(p in message for p in self.paths)
        return (
            message.startswith(self.prefix)
            or f"{self.prefix}:" in message[:200]
            or self.paths[0] in message
        )


def parse_php_head(raw: bytes, local_tz: datetime.tzinfo = UTC) -> Optional[Record]:
    """The first line of a debug.log / PHP error log record, or None for a continuation line.

    NUL bytes before it (a copy-truncate's hole, a crash's torn write) are not the record's.
    """
    match = PHP_RECORD.match(raw.lstrip(b"\x00"))
    if not match:
        return None
    day, month, year, hh, mm, ss, zone, body = match.groups()
    if month not in MONTHS:
        return None
    try:
        when = datetime.datetime(
            int(year),
            MONTHS[month],
            int(day),
            int(hh),
            int(mm),
            int(ss),
            tzinfo=_zone(zone, local_tz),
        )
    except ValueError:
        return None
    level = php_level(body)
    text = body.decode("utf-8", "replace").rstrip()
    record = Record(when.astimezone(UTC), level, text, "php")
    if level == "info" and b"WordPress" in body[:120] and WP_DB_ERROR.match(text):
        # A database error WordPress logged: an error of WordPress's, by MySQL's message.
        record.level, record.source, record.tag = "error", "wordpress", "database"
        return record
    located = LOCATION.search(text)
    if located:
        record.file, record.line = located.group(1), int(located.group(2))
    return record


# PHP-FPM's own log (sapi/fpm/fpm/zlog.c): "[02-May-2026 10:00:01] WARNING: [pool www] child
# 123 exited on signal 9 (SIGKILL) after 12.3 seconds from start"; microseconds when
# log_level is debug. The slow log's entries start "[02-May-2026 10:00:01]  [pool www] pid 123"
# and their frames follow on lines of their own.
FPM_RECORD = re.compile(
    rb"^\[(\d{2})-([A-Z][a-z]{2})-(\d{4}) (\d{2}):(\d{2}):(\d{2})(?:\.\d+)?\] "
    rb"(?:(DEBUG|NOTICE|WARNING|ERROR|ALERT): )?\s*(.*)$",
    re.DOTALL,
)
FPM_LEVELS = {
    b"DEBUG": "info",
    b"NOTICE": "notice",
    b"WARNING": "warning",
    b"ERROR": "error",
    b"ALERT": "error",
}


def parse_fpm(raw: bytes, local_tz: datetime.tzinfo = UTC) -> Optional[Record]:
    """A PHP-FPM log record (source php-fpm): a pool killed by the OOM killer, max_children
    reached, a request executing too slowly, and the slow log's entries."""
    match = FPM_RECORD.match(raw)
    if not match:
        return None
    day, month, year, hh, mm, ss, level, body = match.groups()
    when = _moment(year, month, day, hh, mm, ss, local_tz)
    if when is None:
        return None
    text = body.decode("utf-8", "replace").rstrip()
    slow = level is None and text.startswith("[pool ")
    name = FPM_LEVELS.get(level or b"", "warning" if slow else "info")
    return Record(when, name, text, "php-fpm")


def parse_nginx_error(raw: bytes, local_tz: datetime.tzinfo = UTC) -> Optional[Record]:
    match = NGINX_ERROR.match(raw)
    if not match:
        return None
    year, month, day, hh, mm, ss, level, body = match.groups()
    try:
        when = datetime.datetime(
            int(year), int(month), int(day), int(hh), int(mm), int(ss), tzinfo=local_tz
        )
    except ValueError:
        return None
    record = Record(
        when.astimezone(UTC),
        NGINX_LEVELS.get(level, "info"),
        body.decode("utf-8", "replace").rstrip(),
        "nginx",
    )
    return record


# Apache 2.4's error log (ErrorLogFormat's default): "[Tue Jun 02 14:07:31.104522 2026]
# [php:error] [pid 2211] [client 192.0.2.7:51514] PHP Warning:  ..."; mod_php writes PHP's
# message as it is, proxy_fcgi as "AH01071: Got error 'PHP message: PHP Fatal error: ...'".
APACHE_ERROR = re.compile(
    rb"^\[[A-Z][a-z]{2} ([A-Z][a-z]{2}) (\d{2}) (\d{2}):(\d{2}):(\d{2})(?:\.\d+)? (\d{4})\] "
    rb"\[(?:[\w-]*:)?(emerg|alert|crit|error|warn|notice|info|debug|trace\d)\] (.*)$",
    re.DOTALL,
)
APACHE_CONTEXT = re.compile(r"^(?:\[(?:pid|client|remote) [^\]]*\] )+")


def parse_apache_error(raw: bytes, local_tz: datetime.tzinfo = UTC) -> Optional[Record]:
    """An Apache 2.4 error-log entry (source apache), its PHP messages its parts."""
    match = APACHE_ERROR.match(raw)
    if not match:
        return None
    month, day, hh, mm, ss, year, level, body = match.groups()
    when = _moment(year, month, day, hh, mm, ss, local_tz)
    if when is None:
        return None
    text = APACHE_CONTEXT.sub("", body.decode("utf-8", "replace").rstrip())
    text = text.split(", referer: ", 1)[0]
    # Apache writes newlines as \n: PHP's lines come back as lines.
    text = text.replace("\\n", "\n")
    name = NGINX_LEVELS.get(level if not level.startswith(b"trace") else b"debug", "info")
    record = Record(when, name, text, "apache")
    if text.startswith("PHP ") and "PHP message: " not in text:
        text = "PHP message: " + text  # mod_php: one message, as PHP wrote it
    return _split_php_messages(record, text)


def parse_access_json(
    raw: bytes, fields: Dict[str, str]
) -> Optional[Tuple[datetime.datetime, str, str, int, Optional[float]]]:
    """One line of an nginx access log written with a JSON log_format: `fields` names the
    keys for time (ISO 8601), request ("GET /x HTTP/1.1"), status and request_time (s)."""
    try:
        data = json.loads(raw)
        when = datetime.datetime.fromisoformat(str(data[fields["time"]]).replace("Z", "+00:00"))
        status = int(data[fields["status"]])
    except (ValueError, KeyError, TypeError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    method, _unused, rest = str(data.get(fields["request"]) or "").partition(" ")
    rt = data.get(fields["request_time"])
    try:
        seconds = float(rt) if rt not in (None, "", "-") else None
    except (TypeError, ValueError):
        seconds = None
    return when.astimezone(UTC), method, rest.split(" ")[0], status, seconds


#: The access-log kinds: combined (and vhost_combined) as nginx and Apache write them, JSON.
ACCESS_KINDS = ("nginx_access", "apache_access", "nginx_access_json")


def access_options(kind: str, source: Dict[str, Any]) -> Dict[str, Any]:
    """access_stats' options for a source: the response time's unit (Apache's %D is in
    microseconds, unless the source says `time_unit: s` for %T) and the JSON keys."""
    unit = source.get("time_unit") or ("us" if kind == "apache_access" else "s")
    fields = (
        {**JSON_FIELDS, **(source.get("fields") or {})} if kind == "nginx_access_json" else None
    )
    return {"time_unit": unit, "json_fields": fields}


#: nginx's own names for the JSON access-log keys ($time_iso8601, $request, $status, ...).
JSON_FIELDS = {
    "time": "time_iso8601",
    "request": "request",
    "status": "status",
    "request_time": "request_time",
}


def close_nginx_entry(record: Record) -> Record:
    """Once an nginx entry is whole (its continuation lines read): each PHP message it carries
    becomes a record of its own, and the entry's level is the worst of them and its own."""
    return _split_php_messages(record, record.message)


def parse_access(
    raw: bytes,
) -> Optional[Tuple[datetime.datetime, str, str, int, Optional[float]]]:
    """(time, method, path, status, request_time or None) of one combined-format line."""
    match = ACCESS.match(raw)
    if not match:
        return None
    _unused, day, month, year, hh, mm, ss, zone, method, path, status, _unused2, rt = match.groups()
    if month not in MONTHS:
        return None
    try:
        when = datetime.datetime(
            int(year), MONTHS[month], int(day), int(hh), int(mm), int(ss), tzinfo=_zone(zone, UTC)
        )
    except ValueError:
        return None
    return (
        when.astimezone(UTC),
        (method or b"").decode("ascii", "replace"),
        (path or b"").decode("utf-8", "replace"),
        int(status),
        float(rt) if rt else None,
    )


def read_lines(
    handle: BinaryIO, stop: Optional[int] = None
) -> Iterator[Tuple[int, int, Optional[bytes]]]:
    """Yield (start, end, line) with lines capped at MAX_LINE; an overlong line yields None.

    `end` is where the next line starts, or `start` itself for a last line with no newline
    yet (still being written): an incremental scan resumes there and reads it whole next time.
    """
    offset = handle.tell()
    while stop is None or offset < stop:
        line = handle.readline(MAX_LINE + 1)
        if not line:
            return
        start = offset
        offset += len(line)
        if len(line) > MAX_LINE and not line.endswith(b"\n"):
            while True:  # skip the rest of an overlong line without keeping it
                rest = handle.readline(MAX_LINE)
                offset += len(rest)
                if not rest or rest.endswith(b"\n"):
                    break
            yield start, offset, None
            continue
        yield start, (offset if line.endswith(b"\n") else start), line.rstrip(b"\r\n")


def line_time(raw: bytes, kind: str, local_tz: datetime.tzinfo) -> Optional[datetime.datetime]:
    if kind in ("php", "wordpress"):
        record = parse_php_head(raw, local_tz)
        return record.time if record else None
    if kind == "nginx_error":
        record = parse_nginx_error(raw, local_tz)
        return record.time if record else None
    if kind == "php_fpm":
        record = parse_fpm(raw, local_tz)
        return record.time if record else None
    if kind == "apache_error":
        record = parse_apache_error(raw, local_tz)
        return record.time if record else None
    parsed = parse_access_json(raw, JSON_FIELDS) if kind == "nginx_access_json" else None
    if parsed is not None:
        return parsed[0]
    parsed = parse_access(raw)
    return parsed[0] if parsed else None


def seek_time(
    handle: BinaryIO,
    size: int,
    since: datetime.datetime,
    kind: str,
    local_tz: datetime.tzinfo = UTC,
    probe: int = 16,
) -> int:
    """The offset of the first record at or after `since`, by binary search over the file.

    Logs are appended in time order; a few records out of order (clock skew between writers)
    only move the start by those records. Cost: O(log(size)) short reads.
    """
    low, high = 0, size
    while high - low > 4096:
        mid = (low + high) // 2
        handle.seek(mid)
        handle.readline(MAX_LINE + 1)  # to the next line start
        found = None
        for _unused in range(probe):
            pos = handle.tell()
            raw = handle.readline(MAX_LINE + 1)
            if not raw:
                break
            when = line_time(raw.rstrip(b"\r\n"), kind, local_tz)
            if when is not None:
                found = (pos, when)
                break
        if found is None:
            high = mid
        elif found[1] < since:
            low = found[0] + 1
        else:
            high = mid
    handle.seek(low)
    if low:
        handle.readline(MAX_LINE + 1)
    start = handle.tell()
    dated = False
    # The last few KB by hand: the first record at or after `since`.
    while True:
        pos = handle.tell()
        raw = handle.readline(MAX_LINE + 1)
        if not raw:
            if not dated:
                # Not one line with a time the scanner can read: scan it all, so that content
                # of an unknown format is counted (as unparsed), never skipped as if clean.
                handle.seek(start)
                return start
            return pos
        when = line_time(raw.rstrip(b"\r\n"), kind, local_tz)
        dated = dated or when is not None
        if when is not None and when >= since:
            handle.seek(pos)
            return pos


def newest_time(
    handle: BinaryIO, size: int, kind: str, local_tz: datetime.tzinfo = UTC, tail: int = 1 << 18
) -> Optional[datetime.datetime]:
    """The time of the file's newest record, read from its end (None: no record there)."""
    handle.seek(max(0, size - tail))
    for raw in reversed(handle.read(tail).split(b"\n")):
        when = line_time(raw.rstrip(b"\r"), kind, local_tz)
        if when is not None:
            return when
    return None


def file_identity(path: str) -> Tuple[int, str, int]:
    """(inode, sha256 of the first bytes, size): how a later scan knows it is the same file."""
    st = os.stat(path)
    with open(path, "rb") as handle:
        head = handle.read(HEAD_BYTES)
    return st.st_ino, hashlib.sha256(head).hexdigest(), st.st_size


def resume_offset(path: str, state: Optional[Dict[str, Any]]) -> Tuple[int, str]:
    """Where an incremental scan starts: the remembered offset if the file is the same one and
    has not shrunk (copy-truncate), else 0. Returns (offset, reason)."""
    inode, head, size = file_identity(path)
    if not state:
        return 0, "first scan"
    if state.get("inode") != inode:
        return 0, "rotated (new inode)"
    if size < state.get("offset", 0):
        return 0, "truncated (copy-truncate)"
    if len(head) and state.get("head") and state.get("head_len", HEAD_BYTES) <= size:
        with open(path, "rb") as handle:
            now = hashlib.sha256(handle.read(state["head_len"])).hexdigest()
        if now != state["head"]:
            return 0, "rewritten (first bytes differ)"
    return state.get("offset", 0), "resumed"


class Summary:
    """Counts per level and source, fingerprints, and what could not be parsed."""

    def __init__(
        self, top: int = 10, max_fingerprints: int = 5000, plugin: Optional[PluginMarkers] = None
    ) -> None:
        self.counts: Dict[str, int] = {}
        #: PluginMarkers: whose records are also counted under the plugin's slug.
        self.plugin = plugin
        self.plugin_records = 0
        self.records = 0
        self.unparsed = 0
        #: The first few unparsed lines, as text (escapes shown): what the scanner could not read.
        self.unparsed_samples: List[str] = []
        self.overlong = 0
        self.fingerprints: Dict[str, Dict[str, Any]] = {}
        self.max_fingerprints = max_fingerprints
        self.dropped_fingerprints = 0
        self.top = top
        self.first: Optional[str] = None
        self.last: Optional[str] = None

    def not_parsed(self, line: Optional[bytes], count: int = 1) -> None:
        """`count` lines the scanner could not read; the first few kept as samples."""
        self.unparsed += count
        if line is not None and len(self.unparsed_samples) < 5:
            self.unparsed_samples.append(repr(line[:200])[2:-1])

    def add(self, record: Record, where: str) -> None:
        """One record (the line-by-line scan)."""
        self.add_many(record, 1, record.time, record.time, where)

    def add_many(
        self,
        record: Record,
        count: int,
        first: datetime.datetime,
        last: datetime.datetime,
        where: str,
    ) -> None:
        """`count` records alike to `record` (one body), first and last seen as given."""
        self.records += count
        key = f"{record.source}:{record.level}"
        self.counts[key] = self.counts.get(key, 0) + count
        marked = self.plugin is not None and self.plugin.marks(record)
        if self.plugin is not None and marked:
            self.plugin_records += count
            own = f"{self.plugin.slug}:{record.level}"
            self.counts[own] = self.counts.get(own, 0) + count
        first_iso, last_iso = first.isoformat(), last.isoformat()
        self.first = min(self.first or first_iso, first_iso)
        self.last = max(self.last or last_iso, last_iso)
        if record.parts:
            # The entry is counted; each PHP message it carries is fingerprinted on its own.
            for part in record.parts:
                self._fingerprint(part, count, first_iso, last_iso, where, marked)
            return
        self._fingerprint(record, count, first_iso, last_iso, where, marked)

    def _fingerprint(
        self, record: Record, count: int, first_iso: str, last_iso: str, where: str, marked: bool
    ) -> None:
        if record.level == "info":
            return
        fp = record.fingerprint()
        entry = self.fingerprints.get(fp)
        if entry is None:
            if len(self.fingerprints) >= self.max_fingerprints:
                self.dropped_fingerprints += count
                return
            entry = self.fingerprints[fp] = {
                "fingerprint": fp,
                "level": record.level,
                "count": 0,
                "first_seen": first_iso,
                "last_seen": last_iso,
                "sample": record.message[:500],
                "where": where,
                "plugin": marked,
                **({"tag": record.tag} if record.tag else {}),
            }
        entry["count"] += count
        entry["first_seen"] = min(entry["first_seen"], first_iso)
        entry["last_seen"] = max(entry["last_seen"], last_iso)

    def merge(self, later: "Summary") -> None:
        """Add the summary of the lines after this one's (a split scan's second half), as if
        one scan had read both. Past max_fingerprints the two halves may drop different ones."""
        self.records += later.records
        for key, count in later.counts.items():
            self.counts[key] = self.counts.get(key, 0) + count
        self.plugin_records += later.plugin_records
        self.unparsed += later.unparsed
        self.unparsed_samples.extend(later.unparsed_samples[: 5 - len(self.unparsed_samples)])
        self.overlong += later.overlong
        self.first = min(filter(None, (self.first, later.first)), default=None)
        self.last = max(filter(None, (self.last, later.last)), default=None)
        self.dropped_fingerprints += later.dropped_fingerprints
        for fp, entry in later.fingerprints.items():
            mine = self.fingerprints.get(fp)
            if mine is None:
                if len(self.fingerprints) >= self.max_fingerprints:
                    self.dropped_fingerprints += entry["count"]
                    continue
                self.fingerprints[fp] = entry
                continue
            mine["count"] += entry["count"]
            mine["first_seen"] = min(mine["first_seen"], entry["first_seen"])
            mine["last_seen"] = max(mine["last_seen"], entry["last_seen"])

    def result(self) -> Dict[str, Any]:
        top = sorted(self.fingerprints.values(), key=lambda e: (-e["count"], e["fingerprint"]))
        return {
            "records": self.records,
            "counts": dict(sorted(self.counts.items())),
            "plugin_records": self.plugin_records,
            "unparsed_lines": self.unparsed,
            "unparsed_samples": self.unparsed_samples,
            "overlong_lines": self.overlong,
            "first": self.first,
            "last": self.last,
            "top": top[: self.top],
            "distinct_fingerprints": len(self.fingerprints),
            "fingerprints_dropped": self.dropped_fingerprints,
        }


# The fast path's patterns: record heads and continuation lines, matched over whole chunks.
# A record head's stamp inside its brackets; the regex path and the line path (STAMP) both
# use it, so they accept the same heads.
_STAMP_TEXT = rb"\d{2}-[A-Z][a-z]{2}-\d{4} \d{2}:\d{2}:\d{2}(?: [A-Za-z0-9_/+:\-]+)?"
FAST_HEAD = re.compile(rb"^\x00*\[(" + _STAMP_TEXT + rb")\] ([^\n]*)", re.MULTILINE)
# What no log line holds: control characters other than tab and CR (binary, a torn write).
MALFORMED = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
PHP_HEAD_START = re.compile(rb"\x00*\[\d{2}-[A-Z][a-z]{2}-\d{4} ")


def _valid_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def malformed(line: bytes) -> bool:
    """A line no program writes as text: control characters, or bytes that are not UTF-8."""
    return bool(MALFORMED.search(line)) or not _valid_utf8(line)


def _may_hold_longer(part: bytes, length: int) -> bool:
    """Whether `part` may hold a line longer than `length`: a line that long covers a whole
    aligned window of half that length, so a window without a newline is the only suspect
    (a few str.find calls per chunk instead of measuring every line)."""
    if len(part) <= length:
        return False
    window = length // 2
    return any(
        part.find(b"\n", start, start + window) == -1
        for start in range(0, len(part) - window + 1, window)
    )


def _unparsed_in(part: bytes, seen_head: bool, samples: List[bytes]) -> Tuple[int, int, bool]:
    """Unparsed lines of `part` (whole lines): every non-blank line before the file's first
    record, and after it the malformed ones only; the rest continue the record above them
    (stack traces, multi-line SQL, print_r output, a driver's second line)."""
    if _may_hold_longer(part, MAX_LINE):
        lines = part.split(b"\n")[:-1]
        if any(len(line) > MAX_LINE for line in lines):
            return _unparsed_lines(lines, seen_head, samples)
    unparsed = 0
    rest = part
    if not seen_head:
        first = FAST_HEAD.search(part)
        prefix = part if first is None else part[: first.start()]
        lost = [line.rstrip(b"\r") for line in prefix.split(b"\n")[:-1] if line.strip()]
        unparsed += len(lost)
        samples.extend(lost[:5])
        rest = b"" if first is None else part[first.start() :]
        seen_head = first is not None
    # Printable ASCII, tab, CR and LF deleted leave nothing in a clean chunk: that test runs
    # at ~2 GB/s, the control-character regex and the UTF-8 decode only when something is left.
    if rest.translate(None, PLAIN_TEXT) and (MALFORMED.search(rest) or not _valid_utf8(rest)):
        bad = [ln for ln in rest.split(b"\n") if malformed(ln) and not PHP_HEAD_START.match(ln)]
        unparsed += len(bad)
        samples.extend(line.rstrip(b"\r") for line in bad[:5])
    return unparsed, 0, seen_head


def _unparsed_lines(
    lines: List[bytes], seen_head: bool, samples: List[bytes]
) -> Tuple[int, int, bool]:
    """_unparsed_in line by line, for a chunk with lines too long to be a record (rare): those
    are unparsed wherever they stand, and the samples keep the file's order."""
    unparsed = overlong = 0
    for line in lines:
        if len(line) > MAX_LINE:
            overlong += 1
            sample = OVERLONG
        elif not seen_head:
            seen_head = FAST_HEAD.match(line) is not None
            if seen_head or not line.strip():
                continue
            sample = line.rstrip(b"\r")
        elif malformed(line) and not PHP_HEAD_START.match(line):
            sample = line.rstrip(b"\r")
        else:
            continue
        unparsed += 1
        if len(samples) < 5:
            samples.append(sample)
    return unparsed, overlong, seen_head


PLAIN_TEXT = bytes(range(0x20, 0x7F)) + b"\t\r\n"
CHUNK = 1 << 20
MAX_BODIES = 100_000
#: A window at least this long is split across two processes where the node has two CPUs.
PARALLEL_BYTES = 32 << 20
# A record head's stamp, brackets and the space after them included.
STAMP = re.compile(rb"\[" + _STAMP_TEXT + rb"\] ")


# What texts alike but for their quoted values differ in (the fold merges them).
QUOTED = re.compile(rb"'[^']*'|\"[^\"]*\"")
#: Up to this many texts are looked up in a chunk one by one (str.find); more, in one pass.
FEW = 32
_FIRST, _SECOND = operator.itemgetter(0), operator.itemgetter(1)
OPEN_BRACKET = ord("[")


class _Tally:
    """Record texts tallied over whole-line chunks of one file, at C speed: counts with
    Counter.update, and a first stamp looked up only for a text nothing alike to it (the same
    text but inside quotes, which the fold merges) came before. Last stamps are looked up at
    the fold, walking the chunks back from the newest until every fingerprint has one (real
    logs repeat: a chunk or two), so no per-record stamp is ever kept."""

    def __init__(self, handle: BinaryIO, local_tz: datetime.tzinfo) -> None:
        self.handle = handle
        self.local_tz = local_tz
        self.counts: Counter[bytes] = Counter()
        #: Each text's first stamp, in first-seen order (which text samples a fingerprint);
        #: None where a text alike to it came first and stands for both.
        self.first: Dict[bytes, Optional[bytes]] = {}
        #: Each text's alike key (QUOTED replaced), and the keys whose first stamp is known.
        self.alike: Dict[bytes, bytes] = {}
        self.dated: Set[bytes] = set()
        #: (offset, length) of each chunk with records; the last one's bytes while in hand.
        self.chunks: List[Tuple[int, int]] = []
        self.current: bytes = b""

    def add(self, part: bytes, offset: int) -> None:
        bodies, stamps_of = _records(part)
        if not bodies:
            return
        self.chunks.append((offset, len(part)))
        self.current = part
        known = len(self.counts)
        self.counts.update(bodies)
        if len(self.counts) == known:
            return
        fresh = set()
        for body in set(bodies).difference(self.first):
            key = self.alike[body] = QUOTED.sub(b"''", body)
            if key in self.dated:
                self.first[body] = None
            else:
                fresh.add(body)
        if len(fresh) > FEW:  # a scan's first chunks: one pass over the chunk's stamps
            firsts = _stamp_map(bodies, stamps_of(), last=False)
            found = [(body, firsts[body]) for body in dict.fromkeys(bodies) if body in fresh]
        else:  # in the order they appear in the chunk
            found = [(b, s) for _at, b, s in sorted(_stamp_of(part, b) for b in fresh)]
        for body, stamp in found:
            self.first[body] = stamp
            if _stamp_time(stamp, self.local_tz) is not None:
                self.dated.add(self.alike[body])

    def chunk(self, number: int) -> bytes:
        """A chunk's bytes again: in hand if it is the newest, else read back (logs only grow
        at the end, so the bytes are the ones tallied)."""
        if number == len(self.chunks) - 1:
            return self.current
        offset, length = self.chunks[number]
        here = self.handle.tell()
        try:
            self.handle.seek(offset)
            return self.handle.read(length)
        finally:
            self.handle.seek(here)

    def lasts(self, prints: Dict[bytes, Set[str]]) -> Dict[bytes, datetime.datetime]:
        """The last time of alike keys (`prints`: each key's fingerprints), walking the chunks
        back from the newest: every key found in the newest chunk (the newest record among
        them), then, chunk by chunk, the keys with a fingerprint no newer key gave a time to
        yet (a fingerprint's last time is its newest key's; logs are written in time order)."""
        last: Dict[bytes, datetime.datetime] = {}
        open_prints = set().union(*prints.values())
        for number in range(len(self.chunks) - 1, -1, -1):
            newest = number == len(self.chunks) - 1
            if not newest and not open_prints:
                break
            bodies, stamps_of = _records(self.chunk(number))
            found: Dict[bytes, datetime.datetime] = {}
            for body, stamp in _stamp_map(bodies, stamps_of(), last=True).items():
                key = self.alike.get(body)  # None: the file changed under us (copy-truncate)
                if key is None or key in last or key not in prints:
                    continue
                if not newest and prints[key].isdisjoint(open_prints):
                    continue
                when = _stamp_time(stamp, self.local_tz)
                if when is not None and (key not in found or when > found[key]):
                    found[key] = when
            last.update(found)
            for key in found:
                open_prints.difference_update(prints[key])
        return last

    def __len__(self) -> int:
        return len(self.counts)

    def clear(self) -> None:
        self.counts.clear()
        self.first.clear()
        self.alike.clear()
        self.dated.clear()
        self.chunks.clear()
        self.current = b""


def _heads(part: bytes) -> Optional[Tuple[List[bytes], int]]:
    """The record heads of `part` (whole lines) and their stamps' length, found without a
    regex: the lines are split in C and the heads picked by their first byte. Only when every
    head's stamp has the same length and each distinct stamp (one a second, not one a record)
    is a real one; None for anything else (NUL-padded heads, stamps of mixed lengths), which
    is left to the regex. A head over MAX_LINE is no record (the line scan has it unparsed)."""
    if b"\x00" in part:
        return None
    heads = [line for line in part.split(b"\n") if line and line[0] == OPEN_BRACKET]
    if not heads:
        return heads, 0
    cut = heads[0].find(b"] ") + 2
    if cut <= 2:
        return None
    if _may_hold_longer(part, MAX_LINE):
        heads = [line for line in heads if len(line) <= MAX_LINE]
    stamps = set(map(operator.itemgetter(slice(0, cut)), heads))
    if not all(STAMP.fullmatch(stamp) for stamp in stamps):
        return None
    return heads, cut


def _records(part: bytes) -> Tuple[List[bytes], Callable[[], List[bytes]]]:
    """The record texts of `part` (whole lines) in order, and a function giving their stamps
    in the same order (asked for only when needed: most chunks need none)."""
    found = _heads(part)
    if found is None:
        if _may_hold_longer(part, MAX_LINE):  # heads over MAX_LINE are no records
            matches = FAST_HEAD.finditer(part)
            pairs = [m.groups() for m in matches if m.end() - m.start() <= MAX_LINE]
        else:
            pairs = FAST_HEAD.findall(part)
        stamps = list(map(_FIRST, pairs))
        return list(map(_SECOND, pairs)), lambda: stamps
    heads, cut = found
    return list(map(operator.itemgetter(slice(cut, None)), heads)), lambda: [
        line[1 : cut - 2] for line in heads
    ]


def _stamp_map(bodies: List[bytes], stamps: List[bytes], last: bool) -> Dict[bytes, bytes]:
    """Each text's first (or last) stamp, from a chunk's texts and stamps in order (a dict
    keeps the last value given: the first is had by giving them backwards)."""
    if last:
        return dict(zip(bodies, stamps))  # noqa: B905 (same length; 3.9 has no strict)
    return dict(zip(reversed(bodies), reversed(stamps)))  # noqa: B905 (same length)


def _stamp_of(part: bytes, body: bytes) -> Tuple[int, bytes, bytes]:
    """(where, body, stamp) of the first record head in `part` whose text is `body`."""
    needle = b"] " + body
    at = part.find(needle)
    while at >= 0:
        line = part.rfind(b"\n", 0, at) + 1
        head = FAST_HEAD.match(part, line)
        if head is not None and head.start(2) == at + 2 and head.group(2) == body:
            return at, body, head.group(1)
        at = part.find(needle, at + 1)
    # Not found: the chunk changed under us (a copy-truncate mid-scan): no stamp, unparsed.
    return len(part), body, b""


def fast_scan(
    handle: BinaryIO,
    kind: str,
    summary: Summary,
    where: str,
    local_tz: datetime.tzinfo = UTC,
    stop: Optional[int] = None,
    final_line: bool = True,
) -> int:
    """A whole PHP or WordPress log from the handle's offset, without a regex per line.

    Record heads are found over 1 MB chunks (_heads; FAST_HEAD where that cannot); records
    are tallied by their exact text, and each distinct text is parsed and fingerprinted once
    (in batches of at most MAX_BODIES, so memory stays bounded). A window of PARALLEL_BYTES or
    more is split at a record head near its middle and the second half scanned by a forked
    process, on a node with two CPUs. Returns the offset after the last complete line. Same
    counts and fingerprints as `scan_records`; the window must start at the handle
    (seek_time) and run to the end of the file.
    """
    start = handle.tell()
    split = _split_point(handle, start, stop)
    if split is None:
        return _scan_range(handle, kind, summary, where, local_tz, stop, final_line)
    middle, other = split
    with other:
        reader, writer = os.pipe()
        pid = os.fork()
        if pid == 0:  # the second half, into a summary of its own sent back whole
            status = 1
            try:
                os.close(reader)
                half = Summary(summary.top, summary.max_fingerprints, summary.plugin)
                other.seek(middle)
                end = _scan_range(other, kind, half, where, local_tz, stop, final_line)
                state = {k: v for k, v in vars(half).items() if k != "plugin"}
                with os.fdopen(writer, "wb") as out:
                    pickle.dump((end, state), out, protocol=pickle.HIGHEST_PROTOCOL)
                status = 0
            finally:
                os._exit(status)  # never back into the caller's code (an Ansible module)
        os.close(writer)
        handle.seek(start)
        _scan_range(handle, kind, summary, where, local_tz, middle, True)
        with os.fdopen(reader, "rb") as answer:
            sent = answer.read()
        status = os.waitpid(pid, 0)[1]
        half = Summary(summary.top, summary.max_fingerprints, summary.plugin)
        if status == 0 and sent:
            # Our own child's bytes, over our own pipe: nothing from outside.
            end, state = pickle.loads(sent)  # noqa: S301
            vars(half).update(state)
        else:  # the child failed (killed, out of memory): the second half read here instead
            other.seek(middle)
            end = _scan_range(other, kind, half, where, local_tz, stop, final_line)
    summary.merge(half)
    handle.seek(end)
    return end


def _split_point(
    handle: BinaryIO, start: int, stop: Optional[int]
) -> Optional[Tuple[int, BinaryIO]]:
    """A record head near the middle of the window, and a second handle on the same file;
    None when the window is small, the node has one CPU or the handle is not a file."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    if cpus < 2:
        return None
    try:
        end = stop if stop is not None else os.fstat(handle.fileno()).st_size
    except (OSError, ValueError, AttributeError, io.UnsupportedOperation):
        return None
    if end - start < PARALLEL_BYTES:
        return None
    here = handle.tell()
    try:
        handle.seek(start + (end - start) // 2)
        probe = handle.read(CHUNK)
    finally:
        handle.seek(here)
    for head in FAST_HEAD.finditer(probe):
        if head.start() > 0 and probe[head.start() - 1 : head.start()] == b"\n":
            if XDEBUG_FRAME.match(head.group(2)):
                continue
            try:  # its own offset, not a dup sharing this one's
                other = open(f"/proc/self/fd/{handle.fileno()}", "rb")  # noqa: SIM115
            except OSError:
                return None
            return start + (end - start) // 2 + head.start(), other
    return None


def _scan_range(
    handle: BinaryIO,
    kind: str,
    summary: Summary,
    where: str,
    local_tz: datetime.tzinfo,
    stop: Optional[int],
    final_line: bool,
) -> int:
    """fast_scan's work on one process: from the handle's offset to `stop` (or the end)."""
    tally = _Tally(handle, local_tz)
    flags = [0, 0, 0]  # unparsed lines; whether the file's first record was seen; overlong
    samples: List[bytes] = []
    carry = b""
    offset = handle.tell()
    while stop is None or offset < stop:
        block = handle.read(CHUNK if stop is None else min(CHUNK, stop - offset))
        if not block:
            break
        data = carry + block if carry else block
        begins = offset - len(carry)
        offset += len(block)
        cut = data.rfind(b"\n")
        if cut < 0:
            carry = data if len(data) <= MAX_LINE else b"\0"  # an overlong line: unparsed
            continue
        if carry or cut == len(data) - 1:
            part, carry = data[: cut + 1], data[cut + 1 :]
        else:
            # The chunk's unfinished last line is read again with the next chunk: one copy of
            # the chunk less than carrying it over and joining it to the next.
            part = data[: cut + 1]
            handle.seek(cut + 1 - len(data), io.SEEK_CUR)
            offset -= len(data) - cut - 1
        _fast_part(part, begins, tally, flags, samples)
        if len(tally) >= MAX_BODIES:
            _fold(tally, kind, summary, where, local_tz)
    if final_line and carry and carry != b"\0":
        # A last line without its newline (still being written) is counted in a window's scan,
        # as the line scan counts it. An incremental scan (final_line=False) leaves it for the
        # next one, which reads it whole: the offset stays before it either way.
        _fast_part(carry + b"\n", offset - len(carry), tally, flags, samples)
    _fold(tally, kind, summary, where, local_tz)
    for line in samples[:5]:
        summary.not_parsed(line, 0)
    summary.not_parsed(None, flags[0])
    summary.overlong += flags[2]
    return offset - len(carry)


def _fast_part(
    part: bytes, offset: int, tally: _Tally, flags: List[int], tally_samples: List[bytes]
) -> None:
    """Tally whole lines (`part`, at `offset` in the file, ends with a newline): records by
    their text, and the unparsed lines (as the line scan judges them)."""
    samples: List[bytes] = []
    unparsed, overlong, seen = _unparsed_in(part, bool(flags[1]), samples)
    tally_samples.extend(samples[: max(0, 5 - len(tally_samples))])
    flags[0] += unparsed
    flags[2] += overlong
    flags[1] = int(seen)
    tally.add(part, offset)


def _fold(
    tally: _Tally,
    kind: str,
    summary: Summary,
    where: str,
    local_tz: datetime.tzinfo,
) -> None:
    """Parse and fingerprint each distinct text once, texts that differ only inside quotes
    (which the fingerprint normalises anyway) once between them."""
    alike: Dict[bytes, List[Any]] = {}
    for body, first in tally.first.items():
        if XDEBUG_FRAME.match(body):  # a frame of the record above: not a record
            continue
        count = tally.counts[body]
        key = tally.alike[body]
        group = alike.get(key)
        if first is None and group is not None:  # counted with the alike text before it
            group[1] += count
            continue
        first_time = _stamp_time(first or b"", local_tz)
        if first_time is None:  # a stamp no calendar has
            summary.unparsed += count
        elif group is None:
            alike[key] = [body, count, first_time]
        else:
            group[1] += count
            group[2] = min(group[2], first_time)
    heads: List[Tuple[Record, int, datetime.datetime, bytes]] = []
    prints: Dict[bytes, Set[str]] = {}
    for key, (body, count, first_time) in alike.items():
        head = parse_php_head(b"[01-Jan-2000 00:00:00 UTC] " + body, local_tz)
        if head is None:  # FAST_HEAD matched it: cannot happen, but never a crash
            summary.unparsed += count
            continue
        if kind == "wordpress":
            head.source = "wordpress"
        heads.append((head, count, first_time, key))
        # What Summary fingerprints: each PHP message an entry carries, info never.
        prints[key] = {r.fingerprint() for r in (head.parts or [head]) if r.level != "info"}
    lasts = tally.lasts(prints)
    for head, count, first_time, key in heads:
        last_time = max(first_time, lasts.get(key, first_time))
        summary.add_many(head, count, first_time, last_time, where)
    tally.clear()


#: Stamps already read (per process; a stamp without a zone depends on the node's zone).
_STAMP_TIMES: Dict[Tuple[bytes, datetime.tzinfo], Optional[datetime.datetime]] = {}


def _stamp_time(stamp: bytes, local_tz: datetime.tzinfo) -> Optional[datetime.datetime]:
    """The UTC time of a PHP log stamp (`27-Nov-2026 14:05:01 UTC`), or None."""
    key = (stamp, local_tz)
    when = _STAMP_TIMES.get(key)
    if when is None and key not in _STAMP_TIMES:
        record = parse_php_head(b"[" + stamp + b"] -", local_tz)
        when = record.time if record is not None else None
        if len(_STAMP_TIMES) > 100_000:
            _STAMP_TIMES.clear()
        _STAMP_TIMES[key] = when
    return when


def scan_records(
    handle: BinaryIO,
    kind: str,
    summary: Summary,
    where: str,
    since: Optional[datetime.datetime] = None,
    until: Optional[datetime.datetime] = None,
    local_tz: datetime.tzinfo = UTC,
    stop: Optional[int] = None,
) -> int:
    """Fold the records between the handle's offset and `stop` into `summary`.

    Returns the offset after the last complete line (what an incremental scan remembers).
    """
    current = None
    last_complete = handle.tell()
    for _unused, end, raw in read_lines(handle, stop):
        last_complete = end
        if raw is None:
            summary.not_parsed(OVERLONG)
            summary.overlong += 1
            continue
        record = (
            parse_php_head(raw, local_tz)
            if kind in ("php", "wordpress")
            else parse_fpm(raw, local_tz)
            if kind == "php_fpm"
            else parse_apache_error(raw, local_tz)
            if kind == "apache_error"
            else parse_nginx_error(raw, local_tz)
        )
        if record is None:
            if current is None or malformed(raw):
                if raw.strip():
                    summary.not_parsed(raw)  # before any record, or malformed
            elif kind in ("php", "wordpress", "php_fpm"):
                # A stack trace, multi-line SQL, print_r output, a slow log's frames: the
                # record above's.
                current.lines += 1
            elif kind == "nginx_error":
                # nginx writes what FastCGI sent, newlines and all: the lines up to the next
                # entry are this entry's (its later PHP messages among them).
                current.lines += 1
                if len(current.message) < MAX_MESSAGE:
                    current.message += "\n" + raw.decode("utf-8", "replace").rstrip()
            elif raw.strip():
                summary.not_parsed(raw)
            continue
        if kind in ("php", "wordpress") and XDEBUG_FRAME.match(record.message.encode()[:40]):
            # xdebug writes each frame with a timestamp of its own: the record above's lines.
            if current is not None:
                current.lines += 1
            else:
                summary.unparsed += 1
            continue
        if kind == "wordpress":
            record.source = "wordpress"  # debug.log; "php" is the PHP error log
        if current is not None and _in_window(current, since, until):
            _emit(summary, current, where)
        current = record
        if until is not None and record.time > until and kind != "php":
            break
    if current is not None and _in_window(current, since, until):
        _emit(summary, current, where)
    return last_complete


def _emit(summary: Summary, record: Record, where: str) -> None:
    """Count a whole record; an nginx entry first splits into the PHP messages it carries."""
    if record.source == "nginx":
        close_nginx_entry(record)
    summary.add(record, where)


def _continues(raw: bytes) -> bool:
    """A PHP record's continuation: its stack trace, indented lines, `thrown in ...`."""
    return raw.startswith((b"Stack trace:", b"#", b" ", b"\t", b"PHP ", b"  thrown"))


def _in_window(
    record: Record, since: Optional[datetime.datetime], until: Optional[datetime.datetime]
) -> bool:
    return (since is None or record.time >= since) and (until is None or record.time <= until)


def access_stats(
    handle: BinaryIO,
    since: Optional[datetime.datetime] = None,
    until: Optional[datetime.datetime] = None,
    api_prefix: str = "/wp-json/",
    stop: Optional[int] = None,
    time_unit: str = "s",
    json_fields: Optional[Dict[str, str]] = None,
) -> Dict[str, Any]:
    """Requests, 5xx, the plugin API's error rate and response-time percentiles (seconds).

    `time_unit` is the unit of the line's last field: `s` (nginx's $request_time, Apache's
    %T) or `us` (Apache's %D). `json_fields`: the lines are JSON (nginx's JSON log_format),
    these keys naming time, request, status and request_time.
    """
    scale = 1e-6 if time_unit == "us" else 1.0
    requests = errors = api = api_errors = unparsed = 0
    times: List[float] = []
    for _start, _end, raw in read_lines(handle, stop):
        if raw is None:
            unparsed += 1
            continue
        parsed = parse_access_json(raw, json_fields) if json_fields else parse_access(raw)
        if parsed is None:
            if raw.strip():
                unparsed += 1
            continue
        when, _method, path, status, rt = parsed
        if rt is not None and not json_fields:
            rt *= scale
        if (since and when < since) or (until and when > until):
            continue
        requests += 1
        if status >= 500:
            errors += 1
        if path.startswith(api_prefix):
            api += 1
            if status >= 500:
                api_errors += 1
        if rt is not None and len(times) < 1_000_000:
            times.append(rt)
    times.sort()

    def pct(p: float) -> Optional[float]:
        if not times:
            return None
        return times[min(len(times) - 1, round(p / 100 * (len(times) - 1)))]

    return {
        "requests": requests,
        "errors_5xx": errors,
        "api_requests": api,
        "api_errors": api_errors,
        "error_rate": errors / requests if requests else None,
        "api_error_rate": api_errors / api if api else None,
        "response_time_p50": pct(50),
        "response_time_p95": pct(95),
        "response_time_p99": pct(99),
        "timed_requests": len(times),
        "unparsed_lines": unparsed,
    }


def parse_since(text: str, now: Optional[datetime.datetime] = None) -> datetime.datetime:
    """`5m`, `1h`, `2d`, or an ISO 8601 time: the start of a window, in UTC."""
    now = now or datetime.datetime.now(UTC)
    match = re.fullmatch(r"(\d+)([smhd])", text.strip())
    if match:
        unit = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}[match.group(2)]
        try:
            return now - datetime.timedelta(**{unit: int(match.group(1))})
        except OverflowError:
            raise ValueError(f"{text!r} reaches back further than any calendar") from None
    try:
        when = datetime.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{text!r} is not a duration (5m, 1h, 2d) or an ISO 8601 time") from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def scan_incremental(
    path: str,
    kind: str,
    state: Optional[Dict[str, Any]],
    summary: Summary,
    local_tz: datetime.tzinfo = UTC,
    access: Optional[List[Dict[str, Any]]] = None,
    first: Optional[int] = None,
) -> Tuple[Dict[str, Any], str]:
    """Read only what is new since `state` (as returned last time), across rotation; a file
    with no state from `first` (the window's start), else from its beginning.

    Rotation by rename (`path` is a new file, the old one is `path.1`) and copy-truncate
    (`path` shrank, its old content is in `path.1`): the rest of the old file is read from the
    remembered offset first, so nothing is counted twice or missed; scans resume at line
    starts, so no first line is corrupt. Returns (new state, how it resumed). For access logs,
    pass an `access` list: each chunk's stats are appended to it.
    """
    offset, reason = resume_offset(path, state)
    if not state and first:
        offset, reason = first, "first scan, from the window's start"
    if state and offset == 0 and reason != "first scan":
        rotated = path + ".1"
        if os.path.exists(rotated) and _same_file(rotated, state):
            with open(rotated, "rb") as old:
                old.seek(state["offset"])
                _scan_to_end(old, kind, summary, rotated, local_tz, access)
            reason += "; the rest of the rotated file read first"
    with open(path, "rb") as handle:
        handle.seek(offset)
        end = _scan_to_end(handle, kind, summary, path, local_tz, access)
        handle.seek(0)
        head = handle.read(HEAD_BYTES)
    new_state = {
        "inode": os.stat(path).st_ino,
        "head": hashlib.sha256(head).hexdigest(),
        "head_len": len(head),
        "offset": end,
    }
    return new_state, reason


def _same_file(path: str, state: Dict[str, Any]) -> bool:
    """Whether `path` is the file `state` describes (same inode, or the same first bytes)."""
    st = os.stat(path)
    if st.st_ino == state.get("inode"):
        return True
    with open(path, "rb") as handle:
        head = handle.read(state.get("head_len", HEAD_BYTES))
    return hashlib.sha256(head).hexdigest() == state.get("head")


def _scan_to_end(
    handle: BinaryIO,
    kind: str,
    summary: Summary,
    where: str,
    local_tz: datetime.tzinfo,
    access: Optional[List[Dict[str, Any]]],
) -> int:
    if kind in ACCESS_KINDS:
        start = handle.tell()
        stats = access_stats(handle, **access_options(kind, {}))
        if access is not None:
            access.append(stats)
        # access_stats reads to the end; resume after its last complete line next time.
        handle.seek(0, os.SEEK_END)
        size = handle.tell()
        handle.seek(max(start, size - MAX_LINE - 1))
        tail = handle.read()
        return size - (len(tail) - tail.rfind(b"\n") - 1) if b"\n" in tail else start
    if kind in ("php", "wordpress"):
        return fast_scan(handle, kind, summary, where, local_tz, final_line=False)
    return scan_records(handle, kind, summary, where, local_tz=local_tz)


KINDS = (
    "wordpress",
    "php",
    "nginx_error",
    "nginx_access",
    "php_fpm",
    "apache_error",
    "apache_access",
    "nginx_access_json",
)


class ScanError(ValueError):
    """A parameter the scan cannot use (a bad window or source): the module fails with it."""


def scan_node(
    sources: List[Dict[str, Any]],
    *,
    since: str,
    until: Optional[str] = None,
    critical_window: str = "5m",
    top: int = 10,
    api_prefix: str,
    plugin: str,
    plugin_prefix: str,
    local_tz: datetime.tzinfo = UTC,
    incremental: bool = False,
    state: Optional[Dict[str, Any]] = None,
    now: Optional[datetime.datetime] = None,
) -> Dict[str, Any]:
    """One node's logs, as `log_scan_info` returns them (and `runbook simulate` reads them).

    Incremental: each log from where the previous scan stopped (`state`); a log seen for the
    first time from the window's start (binary search, never byte 0 of a big file). The
    critical count is then what is new since the previous scan.
    """
    now = now or datetime.datetime.now(datetime.timezone.utc)
    state = state or {}
    try:
        since_at = parse_since(since, now)
        until_at = parse_since(until, now) if until else None
        critical_since = parse_since(critical_window, now)
    except ValueError as exc:
        raise ScanError(str(exc)) from None
    markers = PluginMarkers(plugin, plugin_prefix)
    summary = Summary(top=top, plugin=markers)
    new_state: Dict[str, Any] = {}
    critical = Summary(top=0, plugin=markers)
    reports: List[Dict[str, Any]] = []
    access: Optional[Dict[str, Any]] = None
    for source in sources:
        path, kind = source.get("path"), source.get("kind")
        if kind not in KINDS or not path:
            raise ScanError(
                f"source {source!r} needs a path and a kind (one of {', '.join(KINDS)})"
            )
        report: Dict[str, Any] = {"path": path, "kind": kind, "exists": os.path.exists(path)}
        reports.append(report)
        if not report["exists"]:
            continue
        before = (summary.records, summary.unparsed)
        try:
            size = os.path.getsize(path)
            with open(path, "rb") as tail:
                newest = newest_time(tail, size, kind, local_tz)
            # A file whose newest record is older than the window shows nothing in it: said.
            report["newest"] = newest.isoformat() if newest else None
            if incremental:
                first = None
                if not state.get(path):
                    with open(path, "rb") as handle:
                        first = seek_time(handle, size, since_at, kind, local_tz)
                stats: List[Dict[str, Any]] = []
                new_state[path], report["resumed"] = scan_incremental(
                    path, kind, state.get(path), summary, local_tz, stats, first
                )
                for part in stats:
                    access = part if access is None else merge_access(access, part)
                    report["access"] = (
                        part if "access" not in report else merge_access(report["access"], part)
                    )
                _account(report, summary, before)
                continue
            with open(path, "rb") as handle:
                start = seek_time(handle, size, since_at, kind, local_tz)
                report.update(size=size, start_offset=start)
                if kind in ACCESS_KINDS:
                    window = access_stats(
                        handle, since_at, until_at, api_prefix, **access_options(kind, source)
                    )
                    report["access"] = window
                    access = window if access is None else merge_access(access, window)
                else:
                    # PHP and WordPress logs to their end go the fast way; the rest by line.
                    fast = kind in ("php", "wordpress") and until_at is None
                    if fast:
                        fast_scan(handle, kind, summary, path, local_tz)
                    else:
                        scan_records(handle, kind, summary, path, since_at, until_at, local_tz)
                    handle.seek(seek_time(handle, size, critical_since, kind, local_tz))
                    if fast:
                        fast_scan(handle, kind, critical, path, local_tz)
                    else:
                        scan_records(
                            handle, kind, critical, path, critical_since, until_at, local_tz
                        )
                report["scanned_bytes"] = handle.tell() - start
        except OSError as exc:
            report["error"] = f"{path}: {exc.strerror or exc}"
        _account(report, summary, before)
    result = summary.result()
    unrecognised = [r["path"] for r in reports if r.get("format_unrecognised")]
    # Incremental: what is new since the last scan is the recent window.
    crit = result["counts"] if incremental else critical.result()["counts"]
    critical_count = sum(
        n
        for key, n in crit.items()
        if key.split(":")[1] in ("fatal", "parse") and not key.startswith(f"{plugin}:")
    )
    fatal = {
        fp: e["count"] for fp, e in summary.fingerprints.items() if e["level"] in ("fatal", "parse")
    }
    out: Dict[str, Any] = dict(
        sources=reports,
        counts=result["counts"],
        records=result["records"],
        plugin_records=result["plugin_records"],
        unparsed_lines=result["unparsed_lines"],
        overlong_lines=result["overlong_lines"],
        top=result["top"],
        distinct_fingerprints=result["distinct_fingerprints"],
        fatal_fingerprints=fatal,
        critical_recent=critical_count,
        critical_window=critical_window,
        window={"since": since_at.isoformat(), "until": (until_at or now).isoformat()},
        format_unrecognised=unrecognised,
        unparsed_samples=result["unparsed_samples"],
    )
    if access is not None:
        out["access"] = access
    out["node_time"] = datetime.datetime.now(datetime.timezone.utc).isoformat()
    if incremental:
        out["state"] = new_state
    return out


def _account(report: Dict[str, Any], summary: Summary, before: Tuple[int, int]) -> None:
    """What one source gave: records and unparsed lines; most of it unparsed (at least 5
    lines, more than the records) is a format this scanner does not know, said out loud."""
    if report["kind"] in ACCESS_KINDS:
        stats = report.get("access") or {}
        records, unparsed = stats.get("requests") or 0, stats.get("unparsed_lines") or 0
    else:
        records, unparsed = summary.records - before[0], summary.unparsed - before[1]
    report["records"], report["unparsed"] = records, unparsed
    report["format_unrecognised"] = unparsed >= 5 and unparsed > records


def merge_access(a: Dict[str, Any], b: Dict[str, Any]) -> Dict[str, Any]:
    """Two access-log summaries as one (percentiles: the worse of the two)."""
    merged: Dict[str, Any] = {
        k: (a.get(k) or 0) + (b.get(k) or 0)
        for k in (
            "requests",
            "errors_5xx",
            "api_requests",
            "api_errors",
            "timed_requests",
            "unparsed_lines",
        )
    }
    merged["error_rate"] = merged["errors_5xx"] / merged["requests"] if merged["requests"] else None
    merged["api_error_rate"] = (
        merged["api_errors"] / merged["api_requests"] if merged["api_requests"] else None
    )
    for key in ("response_time_p50", "response_time_p95", "response_time_p99"):
        worst = max(x for x in (a.get(key), b.get(key), -1) if x is not None)
        merged[key] = None if worst < 0 else worst
    return merged
