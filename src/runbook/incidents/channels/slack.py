"""Slack: an incoming webhook (its URL is the secret)."""

from __future__ import annotations

import json
from typing import Any, ClassVar

from runbook.incidents.channels.base import Channel, Message, Sending, post, slack_escape


def slack_payload(message: Message) -> dict[str, Any]:
    return {"text": f"*{slack_escape(message.subject)}*\n{slack_escape(message.body)}"}


class Slack(Channel):
    kind: ClassVar[str] = "slack"
    required: ClassVar[tuple[str, ...]] = ("url",)
    secrets: ClassVar[tuple[str, ...]] = ("url",)

    def deliver(self, message: Message, sending: Sending) -> str:
        return post(
            self.secret("url"), json.dumps(slack_payload(message)).encode(), sending.timeout
        )
