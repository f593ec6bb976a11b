"""Where each node's web pages are reached from the controller: its address (ansible_host)
and its site's host name (wp_url), read from the inventory. The deploy's visual check and the
investigation's browser load a site's pages from one chosen node this way."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import SandboxedEnvironment

from runbook import inventory as inv
from runbook.errors import RunbookError


def web_targets(inventory: Any, limit: str | None, hosts: list[str], what: str) -> dict[str, Any]:
    """host -> {address, host}; `what` names the check in the error (it needs the URL)."""
    found = inv.host_vars(inventory, limit, ("ansible_host", "wp_url", "site"))
    targets = {}
    for host in hosts:
        values = found.get(host, {})
        try:
            url = (
                SandboxedEnvironment(undefined=StrictUndefined)
                .from_string(str(values.get("wp_url") or "http://{{ site }}"))
                .render(**values, inventory_hostname=host)
            )
        except TemplateError as exc:
            raise RunbookError(
                f"inventory: {host}: wp_url cannot be worked out here ({exc}): {what} needs it "
                "to name the site"
            ) from None
        targets[host] = {
            "address": str(values.get("ansible_host") or host),
            "host": urlsplit(url).netloc or str(values.get("site")),
        }
    return targets
