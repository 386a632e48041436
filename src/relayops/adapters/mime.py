"""Build the RFC 5322 message that Gmail's users.messages.send takes as `raw`.

The tree is mixed > related > alternative, each layer present only when needed: a text-only
message is a single text/plain part, text + HTML without inline images is alternative only.
Non-ASCII headers (RFC 2047) and file names (RFC 2231) are left to the email package's policy.
"""

from __future__ import annotations

import functools
import re
import secrets
from dataclasses import replace
from datetime import UTC, datetime
from email.headerregistry import BaseHeader, HeaderRegistry
from email.message import EmailMessage, MIMEPart
from email.policy import EmailPolicy, Policy
from email.utils import format_datetime, parseaddr

import pybase64

from relayops.adapters.built_check import check_mime
from relayops.adapters.header_grammar import written_as_given
from relayops.adapters.message import Attachment, Message
from relayops.adapters.message_id import MessageId
from relayops.adapters.splice import splice, stand_in


class _FoldedOnce(BaseHeader):
    """A header that keeps its folded form: a header shared by many messages is folded once.

    The generator clones its policy for every subpart, so the folded form is kept per set of
    policy settings that folding reads, not per policy object.
    """

    def fold(self, *, policy: Policy) -> str:
        settings = (type(policy), policy.linesep, policy.max_line_length, policy.utf8)
        folded = self.__dict__.get("_folded")
        if folded is None or folded[0] != settings:
            folded = self._folded = (settings, super().fold(policy=policy))
        return folded[1]


# Headers whose values recur from message to message: content types (bare or with a charset),
# bare dispositions, transfer encodings. Boundaries, file names and addresses never recur.
_RECURRING_HEADERS = frozenset(
    {"content-type", "content-disposition", "content-transfer-encoding", "mime-version"}
)
# Parameters that make such a header per message: a boundary, a file name (plain or RFC 2231).
_PER_MESSAGE = ("boundary=", "name=", "name*=")


class _HeaderRegistry(HeaderRegistry):
    """A HeaderRegistry that makes the class for each header name once, not once per header,
    and parses a recurring header value once: the email package parses and folds every header
    in Python, about a tenth of a millisecond each."""

    @functools.cache  # noqa: B019 - one registry, alive as long as the module
    def __getitem__(self, name: str) -> type[BaseHeader]:
        return super().__getitem__(name)

    def __call__(self, name: str, value: str) -> BaseHeader:
        if name.lower() in _RECURRING_HEADERS and not any(p in value for p in _PER_MESSAGE):
            return self._shared(name, value)
        return super().__call__(name, value)

    @functools.lru_cache(maxsize=128)  # noqa: B019 - header objects are immutable
    def _shared(self, name: str, value: str) -> BaseHeader:
        return super().__call__(name, value)


class _SourcePolicy(EmailPolicy):
    """Stores a header the email package would write back unchanged as the plain string.

    The package parses every header into a tree when it is set, and walks that tree again to
    fold it: a few hundred microseconds for an address list. A plain string is how it keeps
    parsed messages' headers: written as is when it fits the line length, refolded through the
    header classes when it does not, and parsed into a header object whenever it is read. So
    only a value the header classes would write unchanged (relayops.adapters.header_grammar) is kept
    this way.
    """

    def header_store_parse(self, name: str, value: object) -> tuple[str, object]:
        if type(value) is str and written_as_given(name, value):
            return name, value
        return super().header_store_parse(name, value)


# CRLF line endings throughout; 7bit so that non-ASCII bodies go out as quoted-printable or
# base64 and the bytes survive any hop, 8BITMIME or not.
POLICY = _SourcePolicy(
    linesep="\r\n", cte_type="7bit", header_factory=_HeaderRegistry(base_class=_FoldedOnce)
)

# Set by build_mime itself: an extra header of the same name would duplicate or contradict it.
RESERVED_HEADERS = frozenset(
    {"from", "to", "cc", "bcc", "subject", "date", "message-id", "mime-version"}
)

_FIELD_NAME = re.compile(r"[!-9;-~]+")  # RFC 5322 field name: printable ASCII except ':'
_ID = re.compile(r"[!-;=?-~]+")  # printable ASCII except '<' and '>', for a Content-ID
_MEDIA_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*")  # RFC 6838 restricted-name
# Bytes base64-encoded at a time: 256 lines of 76 characters, 57 bytes each.
_BLOCK_BYTES = 57 * 256


def check_header(name: str, value: str) -> None:
    """Refuse a header that could inject others: a bad field name, or CR/LF in the value."""
    if not _FIELD_NAME.fullmatch(name):
        raise ValueError(f"invalid header name {name!r}")
    if "\r" in value or "\n" in value:
        raise ValueError(f"header {name!r}: CR and LF are not allowed in the value")


def build_mime(
    message: Message, *, now: datetime | None = None, domain: str | None = None
) -> EmailMessage:
    """The message as an EmailMessage, headers and body tree.

    Bcc is written into the message on purpose: Gmail's API reads the Bcc recipients from the raw
    message and strips the header before delivery. Sending these bytes over plain SMTP would need
    the Bcc header removed first.

    `now` (timezone-aware, default the current UTC time) gives the Date header. `domain` is the
    right-hand side of the Message-ID, by default the sender's domain.
    """
    msg = EmailMessage(policy=POLICY)
    if message.sender:  # none: Gmail writes the authenticated mailbox's address
        msg["From"] = message.sender
    for name, addresses in (("To", message.to), ("Cc", message.cc), ("Bcc", message.bcc)):
        if addresses:
            msg[name] = ", ".join(addresses)
    msg["Subject"] = message.subject
    msg["Date"] = _date(now)
    msg["Message-ID"] = message_id_header(message, domain)
    msg["MIME-Version"] = "1.0"
    for name, value in message.headers.items():
        check_header(name, value)
        if name.lower() in RESERVED_HEADERS or name.lower().startswith("content-"):
            raise ValueError(f"header {name!r} is set by the builder, not by extra headers")
        msg[name] = value
    _set_body(msg, message)
    return msg


def mime_bytes(
    message: Message, *, now: datetime | None = None, domain: str | None = None
) -> bytes:
    """`build_mime(...).as_bytes()`, fast for large bodies and attachments.

    The email package encodes and writes bodies line by line in Python (base64 about 20 ms a
    megabyte here, quoted-printable slower still). So each text body and attachment is built
    with a short unique stand-in, the tree is serialised, and each stand-in's line is replaced by
    the content encoded in one go, with CRLF line ends as the generator would write them.

    A text body goes out 7bit when the email package would send it so (ASCII, short lines),
    else as base64, which is encoded in C, where the email package might pick quoted-printable.

    Raises BuiltMismatch (relayops.adapters.built_check) when the serialised headers say anything
    other than `message`: checked on every message, before the contents are spliced in.
    """
    splices: dict[bytes, list[bytes]] = {}
    light = []
    for attachment in message.attachments:
        token = stand_in().encode()
        splices[pybase64.b64encode(token) + b"\r\n"] = _wrapped_base64(attachment.data)
        light.append(replace(attachment, data=token))
    encodings: dict[str, str] = {}
    texts: dict[str, str] = {}
    for name, content in (("text", message.text), ("html", message.html)):
        if content is not None:
            texts[name] = token = stand_in()
            encodings[token], splices[token.encode() + b"\r\n"] = _encoded_text(content)
    light_message = replace(message, attachments=tuple(light), **texts)
    built = build_mime(light_message, now=now, domain=domain)
    for part in built.walk():
        payload = part.get_payload()
        if isinstance(payload, str) and payload.rstrip() in encodings:
            part.replace_header("Content-Transfer-Encoding", encodings[payload.rstrip()])
    skeleton = built.as_bytes()
    check_mime(skeleton, message)
    return splice(skeleton, splices)


def _encoded_text(content: str) -> tuple[str, list[bytes]]:
    """The transfer encoding and encoded body of a text part, lines normalised to CRLF.

    The lines are split as the email package splits them (at CR, LF and CRLF).
    """
    lines = content.encode().splitlines()
    body = b"\r\n".join(lines) + b"\r\n"
    if body.isascii() and max(map(len, lines), default=0) <= POLICY.max_line_length:
        return "7bit", [body]
    return "base64", _wrapped_base64(body)


def _wrapped_base64(data: bytes) -> list[bytes]:
    """Base64 in lines of 76 characters ending in CRLF, in pieces to splice in.

    pybase64 encodes with SIMD and wraps at 76 characters with LF, which become CRLF here. Done a
    block at a time and never joined but into the finished message, the pieces stay small
    enough to reuse memory instead of faulting in fresh pages for each large buffer.
    """
    view = memoryview(data)
    return [
        pybase64.encodebytes(view[start : start + _BLOCK_BYTES]).replace(b"\n", b"\r\n")
        for start in range(0, len(data), _BLOCK_BYTES)
    ]


def raw_for_gmail(message_bytes: bytes) -> str:
    """The `raw` field of users.messages.send: URL-safe base64 of the message's bytes."""
    return pybase64.urlsafe_b64encode(message_bytes).decode("ascii")


def _date(now: datetime | None) -> str:
    when = datetime.now(UTC) if now is None else now
    if when.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return format_datetime(when)


def message_id_header(message: Message, domain: str | None) -> str:
    """The Message-ID header value: the message's own, else a fresh one on `domain` (by
    default the sender's domain)."""
    if message.message_id is not None:
        return message.message_id.header
    _, at, sender_domain = parseaddr(message.sender)[1].rpartition("@")
    right = domain or (sender_domain if at else "")
    if not right:
        raise ValueError("no Message-ID domain: pass domain or a sender address")
    return MessageId.fresh(right).header


def _set_body(root: MIMEPart, message: Message) -> None:
    """Fill `root` from the outermost layer in: mixed (files), related (inline images), text."""
    if message.inline and message.html is None:
        raise ValueError("inline attachments need an HTML body to reference them")
    node = root
    for subtype, attachments in (("mixed", message.files), ("related", message.inline)):
        if attachments:
            _make_multipart(node, subtype)
            inner = MIMEPart(policy=POLICY)
            node.attach(inner)
            for attachment in attachments:
                node.attach(_attachment_part(attachment))
            node = inner
    if message.html is None:
        node.set_content(message.text)
        return
    _make_multipart(node, "alternative")
    for content, subtype in ((message.text, "plain"), (message.html, "html")):
        part = MIMEPart(policy=POLICY)
        part.set_content(content, subtype=subtype)
        node.attach(part)


def _make_multipart(node: MIMEPart, subtype: str) -> None:
    """Make `node` an empty multipart with a random boundary.

    128 random bits will not occur in the content, and "=_" cannot occur in base64 or
    quoted-printable at all; a preset boundary spares the generator a regex scan of the whole
    serialised layer for a boundary of its own.
    """
    node["Content-Type"] = f'multipart/{subtype}; boundary="=_{secrets.token_hex(16)}"'


def _attachment_part(attachment: Attachment) -> MIMEPart:
    maintype, _, subtype = attachment.content_type.partition("/")
    if not (_MEDIA_TOKEN.fullmatch(maintype) and _MEDIA_TOKEN.fullmatch(subtype)):
        raise ValueError(f"invalid content type {attachment.content_type!r}")
    cid = None
    if attachment.inline:
        if not attachment.content_id or not _ID.fullmatch(attachment.content_id):
            raise ValueError(f"inline {attachment.filename!r} needs a valid content_id")
        cid = f"<{attachment.content_id}>"
    part = MIMEPart(policy=POLICY)
    part.set_content(
        attachment.data,
        maintype,
        subtype,
        disposition="inline" if attachment.inline else "attachment",
        filename=attachment.filename,
        cid=cid,
    )
    return part
