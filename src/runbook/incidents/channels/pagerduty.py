"""PagerDuty Events API v2: trigger, acknowledge and resolve, deduplicated per incident."""

from __future__ import annotations

import json
from typing import Any, ClassVar

from runbook.incidents.channels.base import Channel, Message, Sending, post

SEVERITY = {"P0": "critical", "P1": "error", "P2": "warning", "P3": "info"}
PAGERDUTY_URL = "https://events.pagerduty.com/v2/enqueue"


def pagerduty_payload(message: Message, routing_key: str) -> dict[str, Any]:
    incident = message.incident
    payload: dict[str, Any] = {
        "routing_key": routing_key,
        "event_action": message.event_action,
        "dedup_key": f"runbook-incident-{incident['id']}",
    }
    if message.event_action == "trigger":
        payload["payload"] = {
            "summary": (message.subject or incident["title"])[:1024],
            "source": "runbook",
            "severity": SEVERITY.get(incident["priority"], "error"),
            "component": message.component,
            "custom_details": {
                "incident": incident["id"],
                "status": incident["status"],
                "priority": incident["priority"],
                "body": message.body[:4000],
            },
        }
    return payload


class PagerDuty(Channel):
    kind: ClassVar[str] = "pagerduty"
    required: ClassVar[tuple[str, ...]] = ("routing_key",)
    secrets: ClassVar[tuple[str, ...]] = ("routing_key",)

    def deliver(self, message: Message, sending: Sending) -> str:
        body = json.dumps(pagerduty_payload(message, self.secret("routing_key"))).encode()
        return post(self.settings.get("url") or PAGERDUTY_URL, body, sending.timeout)
