"""Mail over SMTP: STARTTLS by default, optional login (the password by reference)."""

from __future__ import annotations

import html
import os
import smtplib
import ssl
from email.message import EmailMessage
from typing import Any, ClassVar

from runbook.errors import RunbookError
from runbook.incidents.channels.base import Channel, Message, Retryable, Sending


def send_smtp(channel: Channel, message: Message, timeout: float) -> str:
    s = channel.settings
    mail = EmailMessage()
    mail["Subject"] = message.subject or message.incident["title"]
    mail["From"] = s["from"]
    mail["To"] = ", ".join(s["to"])
    mail.set_content(message.body)
    mail.add_alternative(
        '<html><body><pre style="font-family:sans-serif">'
        + html.escape(message.body)
        + "</pre></body></html>",
        subtype="html",
    )
    try:
        with smtplib.SMTP(s["host"], int(s.get("port", 587)), timeout=timeout) as smtp:
            if s.get("starttls", True):
                context = ssl.create_default_context()
                if s.get("insecure_tls"):  # a test server's self-signed certificate
                    context.check_hostname = False
                    context.verify_mode = ssl.CERT_NONE
                smtp.starttls(context=context)
            if s.get("username"):
                user = s["username"]
                if isinstance(user, str) and user.startswith("env:"):
                    user = os.environ.get(user[4:], "")
                smtp.login(user, channel.secret("password"))
            smtp.send_message(mail)
    except (TimeoutError, smtplib.SMTPServerDisconnected, ConnectionError) as exc:
        raise Retryable(f"SMTP {exc.__class__.__name__}") from None
    except smtplib.SMTPResponseException as exc:
        if exc.smtp_code >= 500:
            raise RunbookError(f"SMTP {exc.smtp_code}") from None
        raise Retryable(f"SMTP {exc.smtp_code}") from None
    except (smtplib.SMTPException, OSError) as exc:
        raise RunbookError(f"SMTP {exc.__class__.__name__}") from None
    return f"sent to {len(s['to'])} recipient(s)"


class Smtp(Channel):
    kind: ClassVar[str] = "smtp"
    required: ClassVar[tuple[str, ...]] = ("host", "from", "to")
    secrets: ClassVar[tuple[str, ...]] = ("password",)

    @classmethod
    def check(cls, raw: dict[str, Any], where: str) -> None:
        to = raw.get("to")
        if not isinstance(to, list) or not all(isinstance(a, str) and "@" in a for a in to):
            raise RunbookError(f"{where}: to must be a list of mail addresses")
        if not isinstance(raw.get("from"), str) or "@" not in raw["from"]:
            raise RunbookError(f"{where}: from must be a mail address")
        if "port" in raw and not str(raw["port"]).isdigit():
            raise RunbookError(f"{where}: port must be a number")
        if raw.get("username") and not raw.get("password"):
            raise RunbookError(f"{where}: username needs a password (env:NAME)")

    def deliver(self, message: Message, sending: Sending) -> str:
        return send_smtp(self, message, sending.timeout)
