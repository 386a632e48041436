"""A SHA-256 fingerprint of a whole Message, for telling one send request from another.

Every field is tagged and every value, list and attachment is length- or count-prefixed, so the
serialisation is injective: no two different messages share a byte stream, hence a digest, by
moving text from one field to the next or an address from To to Cc.
"""

from __future__ import annotations

import hashlib

from relayops.adapters.message import Message

_VERSION = "relay-message-digest/1"


class _Writer:
    """Feeds length-prefixed items to a SHA-256."""

    def __init__(self) -> None:
        self._hash = hashlib.sha256()

    def raw(self, data: bytes) -> None:
        self._hash.update(len(data).to_bytes(8, "big"))
        self._hash.update(data)

    def text(self, value: str) -> None:
        # surrogatepass: a lone surrogate must hash, not raise, and stay distinct
        self.raw(value.encode("utf-8", "surrogatepass"))

    def field(self, tag: str, value: str) -> None:
        self.text(tag)
        self.text(value)

    def optional(self, tag: str, value: str | None) -> None:
        """None and "" differ: a count of 0 or 1 values follows the tag."""
        self.text(tag)
        self.count(0 if value is None else 1)
        if value is not None:
            self.text(value)

    def items(self, tag: str, values: tuple[str, ...]) -> None:
        self.text(tag)
        self.count(len(values))
        for value in values:
            self.text(value)

    def count(self, n: int) -> None:
        self.raw(n.to_bytes(8, "big"))

    def hexdigest(self) -> str:
        return self._hash.hexdigest()


def message_digest(message: Message) -> str:
    """SHA-256 hex of the canonical serialisation of every field of the message.

    Recipient order is kept (it is visible in the headers); extra headers are sorted, since a
    dict's insertion order carries no meaning. Attachment data enters as its own SHA-256.
    """
    w = _Writer()
    w.text(_VERSION)
    w.field("sender", message.sender)
    w.items("to", message.to)
    w.items("cc", message.cc)
    w.items("bcc", message.bcc)
    w.field("subject", message.subject)
    w.field("text", message.text)
    w.optional("html", message.html)
    w.text("attachments")
    w.count(len(message.attachments))
    for attachment in message.attachments:
        w.field("filename", attachment.filename)
        w.field("content_type", attachment.content_type)
        w.field("inline", "1" if attachment.inline else "0")
        w.optional("content_id", attachment.content_id)
        w.text("sha256")
        w.raw(hashlib.sha256(attachment.data).digest())
    w.text("headers")
    w.count(len(message.headers))
    for name, value in sorted(message.headers.items()):
        w.field(name, value)
    w.optional("message_id", None if message.message_id is None else str(message.message_id))
    return w.hexdigest()
