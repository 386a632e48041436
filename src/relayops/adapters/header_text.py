"""Header text as the recipient's mail client will show it, and the characters it may not hold.

A header value can carry RFC 2047 encoded words (`=?utf-8?q?…?=`, `=?utf-8?b?…?=`). Mail clients
decode them, and so does the email package when it is handed such a value: an encoded CR LF
becomes a real line break in the written message, which is how a subject or a file name
smuggles in a `Bcc:` header, and an encoded `.exe` becomes the file name after the extension
check ran. So every header text is judged in its decoded form, and the decoded form is what is
sent: the recipient sees the same text whether the provider gets MIME (Gmail) or JSON (Graph).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from email.policy import default
from email.utils import quote

ENCODED_WORD_START = "=?"
# Bidirectional embeddings, overrides and isolates: they reorder what a reader sees (a file
# name `invoice‮fdp.exe` shows as `invoiceexe.pdf`). Other format characters (zero-width
# joiners in emoji sequences, soft hyphens) are ordinary text.
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_LINE_BREAKING = frozenset({"Cc", "Zl", "Zp"})


def decoded_text(value: str) -> str:
    """An unstructured header value (Subject, X- headers) as a client decodes it."""
    if ENCODED_WORD_START not in value:
        return value
    return str(default.header_factory("subject", value))


def decoded_parameter(value: str) -> str:
    """A MIME parameter value (a file name) as a client decodes it."""
    if ENCODED_WORD_START not in value:
        return value
    header = default.header_factory("content-disposition", f'attachment; filename="{quote(value)}"')
    return str(header.params.get("filename", ""))


def forbidden_characters(text: str, *, allow_tab: bool = True) -> list[str]:
    """Characters of `text` a header may not hold, as U+XXXX names, each once in order:
    controls (NUL, CR, LF, …; tab where allowed), line and paragraph separators, bidi controls."""
    found: dict[str, None] = {}
    for char in text:
        if char == "\t" and allow_tab:
            continue
        if unicodedata.category(char) in _LINE_BREAKING or char in _BIDI_CONTROLS:
            found[f"U+{ord(char):04X}"] = None
    return list(found)


def decode_checked(
    raw: str, decode: Callable[[str], str] = decoded_text, *, allow_tab: bool = True
) -> str:
    """`raw` decoded as a client shows it; ValueError saying why it cannot be a header.

    An encoded word that decodes to another encoded word is refused: a client that decodes
    twice would show something else again."""
    decoded = decode(raw)
    bad = forbidden_characters(decoded, allow_tab=allow_tab)
    if bad:
        encoded = " (inside an RFC 2047 encoded word)" if decoded != raw else ""
        raise ValueError(
            f"contains control or invisible characters ({', '.join(bad)}){encoded}; a header "
            "is one line of text: remove them"
        )
    if decoded != raw and decode(decoded) != decoded:
        raise ValueError(
            "contains an RFC 2047 encoded word inside an encoded word; send the plain text"
        )
    return decoded
