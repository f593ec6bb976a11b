"""The metrics logs cannot give, per site: a JSON file, an HTTP endpoint, or Prometheus.

The shape is one object per site (see the README): metric -> {"value", "samples"}, plus
`complaints_last_hour` and per-feature error rates under `features`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import httpx

from runbook import yamlfile
from runbook.errors import RunbookError


def load(source: str | None, timeout: float = 10) -> dict[str, Any]:
    """From a file (JSON or YAML) or an http(s) URL returning the same JSON."""
    if not source:
        return {}
    if source.startswith(("http://", "https://")):
        try:
            response = httpx.get(source, timeout=timeout, follow_redirects=False)
            response.raise_for_status()
            data = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise RunbookError(f"--metrics {source}: {exc}") from None
    else:
        data = yamlfile.load(Path(source), "--metrics")
    return check(data, source)


def check(data: Any, source: str) -> dict[str, Any]:
    if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
        raise RunbookError(f"--metrics {source}: must map each site to its metrics")
    return data


def prometheus(
    url: str, queries: Mapping[str, str], sites: Iterable[str], timeout: float = 10
) -> dict[str, Any]:
    """An instant query per metric and site (`{site}` in a query is the site's name)."""
    out: dict[str, Any] = {}
    endpoint = url.rstrip("/") + "/api/v1/query"
    with httpx.Client(timeout=timeout) as client:
        for site in sites:
            for metric, template in queries.items():
                query = template.replace("{site}", site)
                try:
                    response = client.get(endpoint, params={"query": query})
                    response.raise_for_status()
                    body = response.json()
                except (httpx.HTTPError, ValueError) as exc:
                    raise RunbookError(f"prometheus {url}: {metric} for {site}: {exc}") from None
                if body.get("status") != "success":
                    raise RunbookError(
                        f"prometheus {url}: {metric} for {site}: {json.dumps(body)[:300]}"
                    )
                result = (body.get("data") or {}).get("result") or []
                if not result:
                    continue  # no series: the metric stays inconclusive
                value = float(result[0]["value"][1])
                if metric == "complaints_last_hour":
                    out.setdefault(site, {})[metric] = int(value)
                else:
                    out.setdefault(site, {})[metric] = {"value": value}
    return out


def merge(*sources: Mapping[str, Any]) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for source in sources:
        for site, metrics in source.items():
            merged.setdefault(site, {}).update(metrics)
    return merged
