# -*- coding: utf-8 -*-
"""Secrets out of evidence: what a log line, an option or a page shows of a password, a token,
a key or a cookie is replaced before it leaves the host (and again on the controller).
Plain Python: no Ansible import."""

from __future__ import annotations

import re
from typing import Any, Iterable, List, Optional

MASK = "[scrubbed]"
#: A name that says its value is secret: passwords, tokens, keys, salts, cookies, nonces.
SECRET_NAME = re.compile(
    r"(pass(word|wd|phrase)?|pwd|secret|token|api[_-]?key|private[_-]?key|auth|salt|nonce|"
    r"cookie|sessid|credential|signature|bearer)",
    re.IGNORECASE,
)
_NAME = r"[A-Za-z0-9_.\-]*"
_PATTERNS = (
    # Authorization: Bearer value / Basic value
    re.compile(r"(?P<head>\b(Bearer|Basic)\s+)(?P<value>[A-Za-z0-9._~+/=\-]{8,})"),
    # "api_token": "value" (JSON, PHP's json_encode / print_r / var_export)
    re.compile(
        r"""(?P<head>["']""" + _NAME + SECRET_NAME.pattern + _NAME + r"""["']\s*(?:=>|:)\s*)"""
        r"""(?P<q>["'])(?P<value>(?:\\.|(?!(?P=q)).){1,4096})(?P=q)""",
        re.IGNORECASE,
    ),
    # [api_token] => value (print_r)
    re.compile(
        r"(?P<head>\[" + _NAME + SECRET_NAME.pattern + _NAME + r"\]\s*=>\s*)(?P<value>[^\s,)]+)",
        re.IGNORECASE,
    ),
    # password=value, token: value, ?key=value&
    re.compile(
        r"(?P<head>(?<![A-Za-z0-9])" + _NAME + SECRET_NAME.pattern + _NAME + r"\s*[=:]\s*)"
        r"(?P<value>[^\s&\"',;)]{1,4096})",
        re.IGNORECASE,
    ),
    # define('DB_PASSWORD', 'value') (wp-config.php's shape, should it ever be echoed)
    re.compile(
        r"(?P<head>define\(\s*['\"][A-Z_]*(PASSWORD|KEY|SALT|SECRET)['\"]\s*,\s*)"
        r"(?P<value>['\"][^'\"]*['\"])"
    ),
)


def scrub(text: str, known: Iterable[str] = ()) -> str:
    """`text` with every secret value it shows masked: values after a secret-sounding name,
    bearer credentials, and the `known` secret values wherever they appear."""
    for pattern in _PATTERNS:
        text = pattern.sub(lambda m: m.group("head") + MASK, text)
    for value in sorted({k for k in known if k and len(k) >= 6}, key=len, reverse=True):
        text = text.replace(value, MASK)
    return text


def scrub_value(value: Any, known: Optional[List[str]] = None, name: str = "") -> Any:
    """A decoded value (an option) with secret-named keys masked and strings scrubbed; the
    masked values are added to `known`, so that the same secret elsewhere is masked too."""
    if name and SECRET_NAME.search(name) and isinstance(value, (str, int, float)):
        if known is not None and isinstance(value, str):
            known.append(value)
        return MASK if value not in ("", 0) else value
    if isinstance(value, dict):
        return {scrub(str(k), known or ()): scrub_value(v, known, str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [scrub_value(v, known) for v in value]
    if isinstance(value, str):
        return scrub(value, known or ())
    return value
