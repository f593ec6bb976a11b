"""The metrics input from a file, an HTTP endpoint and Prometheus: real local servers."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar
from urllib.parse import parse_qs, urlparse

import pytest

from runbook.errors import RunbookError
from runbook.health import metrics

SITE_METRICS = {
    "shop": {"javascript_errors": {"value": 0.7, "samples": 900}, "complaints_last_hour": 2}
}


class Handler(BaseHTTPRequestHandler):
    queries: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        url = urlparse(self.path)
        if url.path == "/metrics.json":
            self._send(200, SITE_METRICS)
        elif url.path == "/api/v1/query":
            query = parse_qs(url.query)["query"][0]
            Handler.queries.append(query)
            if "missing" in query:
                self._send(
                    200, {"status": "success", "data": {"resultType": "vector", "result": []}}
                )
            elif "broken" in query:
                self._send(400, {"status": "error", "error": "parse error"})
            else:
                self._send(
                    200,
                    {
                        "status": "success",
                        "data": {
                            "resultType": "vector",
                            "result": [
                                {"metric": {"site": "shop"}, "value": [1764252000.0, "42.5"]}
                            ],
                        },
                    },
                )
        else:
            self._send(404, {"error": "no such path"})

    def _send(self, status: int, body: object) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def test_file_and_endpoint_give_the_same(server: str, tmp_path: Path) -> None:
    path = tmp_path / "m.json"
    path.write_text(json.dumps(SITE_METRICS))
    assert metrics.load(str(path)) == SITE_METRICS
    assert metrics.load(f"{server}/metrics.json") == SITE_METRICS


def test_errors_name_the_source(server: str, tmp_path: Path) -> None:
    with pytest.raises(RunbookError, match=r"/nope\.json"):
        metrics.load(f"{server}/nope.json")
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2]")
    with pytest.raises(RunbookError, match="must map each site"):
        metrics.load(str(bad))


def test_prometheus_instant_queries(server: str) -> None:
    Handler.queries = []
    out = metrics.prometheus(
        server,
        {
            "initial_load": 'histogram_quantile(0.95, load{site="{site}"})',
            "memory_usage": 'missing{site="{site}"}',
        },
        ["shop"],
    )
    assert out == {"shop": {"initial_load": {"value": 42.5}}}  # no series: left out
    assert Handler.queries[0] == 'histogram_quantile(0.95, load{site="shop"})'
    with pytest.raises(RunbookError, match=r"prometheus .*: state_errors for shop"):
        metrics.prometheus(server, {"state_errors": "broken"}, ["shop"])
