"""Microsoft Teams: a Power Automate workflow webhook taking an Adaptive Card."""

from __future__ import annotations

import json
from typing import Any, ClassVar

from runbook.incidents.channels.base import Channel, Message, Sending, post, teams_text


def teams_payload(message: Message) -> dict[str, Any]:
    # A Power Automate "workflow" webhook takes a message with an Adaptive Card attachment.
    return {
        "type": "message",
        "attachments": [
            {
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": None,
                "content": {
                    "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                    "type": "AdaptiveCard",
                    "version": "1.4",
                    # RichTextBlock, not TextBlock: a TextBlock renders Markdown, so a title
                    # such as "[click](https://...)" would arrive as a link.
                    "body": [
                        {
                            "type": "RichTextBlock",
                            "inlines": [
                                {
                                    "type": "TextRun",
                                    "text": teams_text(message.subject),
                                    "weight": "Bolder",
                                    "size": "Medium",
                                }
                            ],
                        },
                        {
                            "type": "RichTextBlock",
                            "inlines": [{"type": "TextRun", "text": teams_text(message.body)}],
                        },
                    ],
                },
            }
        ],
    }


class Teams(Channel):
    kind: ClassVar[str] = "teams"
    required: ClassVar[tuple[str, ...]] = ("url",)
    secrets: ClassVar[tuple[str, ...]] = ("url",)

    def deliver(self, message: Message, sending: Sending) -> str:
        return post(
            self.secret("url"), json.dumps(teams_payload(message)).encode(), sending.timeout
        )
