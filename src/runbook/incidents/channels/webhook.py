"""A generic webhook: the incident as JSON, signed with HMAC-SHA256 over timestamp and body."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import ClassVar

from runbook.incidents.channels.base import Channel, Message, Sending, post


def webhook_body(message: Message) -> bytes:
    return json.dumps(
        {
            "incident": {
                k: message.incident.get(k)
                for k in ("id", "title", "priority", "status", "impact", "eta", "level")
            },
            "template": message.template,
            "subject": message.subject,
            "body": message.body,
        },
        sort_keys=True,
    ).encode()


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """HMAC-SHA256 over `timestamp.body`, hex: the X-Runbook-Signature header's value."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


class Webhook(Channel):
    kind: ClassVar[str] = "webhook"
    required: ClassVar[tuple[str, ...]] = ("url", "secret")
    secrets: ClassVar[tuple[str, ...]] = ("url", "secret")

    def deliver(self, message: Message, sending: Sending) -> str:
        body = webhook_body(message)
        stamp = str(int(time.time()))
        headers = {
            "X-Runbook-Timestamp": stamp,
            "X-Runbook-Signature": sign(self.secret("secret"), stamp, body),
        }
        return post(self.secret("url"), body, sending.timeout, headers)
