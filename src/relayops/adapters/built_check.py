"""The post-condition of every build: the bytes we send say what was validated, and no more.

Validation judges the caller's values; the email package and json then write them. If any
value were decoded, split or folded into something else on the way (an encoded CR LF in a
subject becoming a `Bcc:` line), the written message would carry headers or recipients that
were never checked. So the built payload is parsed back with an independent parser (the email
package's `policy.default`, or `json`) and compared with the validated Message: the header set,
each recipient list, the subject, the custom headers, and every attachment's name and content
id. A difference refuses the send.

The MIME check reads the message as serialised before the bodies and attachments are spliced in
(relayops.adapters.mime): what is spliced in is base64 or 7bit text between boundaries of 128 random
bits, which cannot add or change a header. The feed parser splits the message into headers and
parts as it does under any policy; each header it checks is then read by policy.default's
header classes, which is what a message parsed with policy.default hands out. (Parsing with
policy.default itself re-reads every header each time the parser looks at it: several
milliseconds for one message.)
"""

from __future__ import annotations

import functools
import json
from collections import Counter
from email.message import Message as Parsed
from email.parser import BytesParser
from email.policy import compat32, default
from typing import Any

from relayops.adapters.header_grammar import written_as_given
from relayops.adapters.message import Message

# Headers a leaf part may carry; anything else inside the body tree was not written by us.
_PART_HEADERS = frozenset(
    {"content-type", "content-transfer-encoding", "content-disposition", "content-id"}
)
_SPLITTER = BytesParser(policy=compat32)


class BuiltMismatch(ValueError):
    """The built payload differs from the validated message; `field` names what differs."""

    def __init__(self, field: str, found: object, expected: object) -> None:
        super().__init__(
            f"the built message's {field} would be {found!r}, not the validated {expected!r}; "
            "nothing was sent"
        )
        self.field = field


def _same(field: str, found: object, expected: object) -> None:
    if found != expected:
        raise BuiltMismatch(field, found, expected)


def expected_mime_headers(message: Message, *, single_part: bool) -> Counter[str]:
    """The top-level header names (lower case) a built message of `message` carries."""
    names = ["to", "subject", "date", "message-id", "mime-version", "content-type"]
    names += [name.lower() for name in message.headers]
    if message.sender:
        names.append("from")
    names += [name for name, addresses in (("cc", message.cc), ("bcc", message.bcc)) if addresses]
    if single_part:
        names.append("content-transfer-encoding")
    return Counter(names)


def _unfolded(part: Parsed, name: str) -> str | None:
    raw = part.get(name)
    return None if raw is None else "".join(str(raw).splitlines())


def _written_as(part: Parsed, name: str, text: str) -> bool:
    """The header is exactly `text`, in a grammar the email package reads back as itself: no
    parse needed to know what it says."""
    return written_as_given(name, text) and _unfolded(part, name) == text


def _read(part: Parsed, name: str) -> Any:
    """Header `name` of `part` as policy.default reads it, or None."""
    raw = part.get(name)
    return None if raw is None else _parsed(name, str(raw))


@functools.lru_cache(maxsize=256)
def _parsed(name: str, raw: str) -> Any:
    """Header objects are immutable; a part header of one template recurs in every message."""
    return default.header_fetch_parse(name, raw)


def check_mime(skeleton: bytes, message: Message) -> None:
    """Raise BuiltMismatch unless the serialised MIME `skeleton` carries exactly `message`."""
    parsed = _SPLITTER.parsebytes(skeleton)
    single = not parsed.is_multipart()
    found_names = Counter(name.lower() for name in parsed)
    _same("header set", found_names, expected_mime_headers(message, single_part=single))
    for name, addresses in (
        ("From", (message.sender,) if message.sender else ()),
        ("To", message.to),
        ("Cc", message.cc),
        ("Bcc", message.bcc),
    ):
        if addresses and _written_as(parsed, name, ", ".join(addresses)):
            continue
        header = _read(parsed, name)
        found = tuple(a.addr_spec for a in header.addresses) if header is not None else ()
        _same(f"{name} addresses", found, tuple(addresses))
    for name, value in (("Subject", message.subject), *message.headers.items()):
        if not _written_as(parsed, name, value):
            _same(f"{name} header", str(_read(parsed, name)), value)
    _check_parts(parsed, message)


def _check_parts(parsed: Parsed, message: Message) -> None:
    files: list[tuple[str | None, str | None, str | None]] = []
    texts = 0
    for part in parsed.walk():
        if part is not parsed:
            extra = {name.lower() for name in part} - _PART_HEADERS
            _same("body part headers", sorted(extra), [])
        if part.is_multipart():
            continue
        disposition = _read(part, "Content-Disposition")
        if disposition is None:
            texts += 1
            continue
        cid = _read(part, "Content-ID")
        name = disposition.params.get("filename")
        files.append((disposition.content_disposition, name, str(cid).strip("<>") if cid else None))
    expected = [
        ("inline" if a.inline else "attachment", a.filename, a.content_id)
        for a in message.attachments
    ]
    _same("attachments (disposition, file name, content id)", sorted(files), sorted(expected))
    _same("number of text bodies", texts, 1 if message.html is None else 2)


def check_graph(body: bytes, message: Message) -> None:
    """Raise BuiltMismatch unless the Graph JSON `body` (a sendMail body, or a bare message
    resource) carries exactly `message`."""
    payload: dict[str, Any] = json.loads(body)
    resource = payload.get("message", payload)
    for key, addresses in (
        ("toRecipients", message.to),
        ("ccRecipients", message.cc),
        ("bccRecipients", message.bcc),
    ):
        found = tuple(r["emailAddress"]["address"] for r in resource.get(key, ()))
        _same(key, found, tuple(addresses))
    _same("subject", resource.get("subject"), message.subject)
    _same("from", resource.get("from"), None)
    headers = {h["name"]: h["value"] for h in resource.get("internetMessageHeaders", ())}
    _same("internetMessageHeaders", headers, message.headers)
    files = sorted(
        (bool(a.get("isInline")), a.get("name"), a.get("contentId"))
        for a in resource.get("attachments", ())
    )
    expected = sorted((a.inline, a.filename, a.content_id) for a in message.attachments)
    _same("attachments (inline, name, content id)", files, expected)
