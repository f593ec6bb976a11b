"""User text shown safely: control characters, escape sequences and bidi overrides made
visible, so a title or a reason can never clear a screen, retitle a window, plant an OSC 8
link or reorder what an operator reads."""

from __future__ import annotations

import unicodedata

#: Format characters that reorder or hide text (bidi embeddings, overrides, isolates, marks).
BIDI = frozenset("\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u061c")


def _shown(char: str, keep_newlines: bool) -> str:
    if char == "\n" and keep_newlines:
        return char
    if char == "\t":
        return char
    code = ord(char)
    if code < 0x20 or code == 0x7F or 0x80 <= code <= 0x9F:
        return f"\\x{code:02x}"
    if char in BIDI or (unicodedata.category(char) == "Cf" and char not in "\u200b\u200d"):
        return f"<U+{code:04X}>"
    return char


def visible(value: object, keep_newlines: bool = True) -> str:
    """`value` as text with every control character shown as an escape (`\\x1b`, `<U+202E>`)."""
    text = str(value)
    if text.isprintable() and not any(c in BIDI for c in text):
        return text
    return "".join(_shown(c, keep_newlines) for c in text)
