"""A validated outgoing message, the one shape every builder and sender works from.

The params model (relayops.adapters.params) turns a caller's payload into this after validation and
normalisation; the MIME builder, the Graph translator and the preview read only this.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Attachment:
    filename: str  # safe file name (no path, no control characters)
    content_type: str  # e.g. application/pdf, image/png
    data: bytes
    inline: bool = False  # an inline image referenced from the HTML as cid:<content_id>
    content_id: str | None = None  # without angle brackets; required when inline


@dataclass(frozen=True)
class Message:
    sender: str  # the mailbox sending (From), an address
    to: tuple[str, ...]
    subject: str
    text: str
    cc: tuple[str, ...] = ()
    bcc: tuple[str, ...] = ()
    html: str | None = None  # already sanitized when it reaches a builder
    attachments: tuple[Attachment, ...] = ()
    headers: dict[str, str] = field(
        default_factory=dict
    )  # extra headers, e.g. X-Relay-Idempotency-Key
    message_id: str | None = None  # without angle brackets; generated when None

    @property
    def recipients(self) -> tuple[str, ...]:
        return (*self.to, *self.cc, *self.bcc)

    @property
    def inline(self) -> tuple[Attachment, ...]:
        return tuple(a for a in self.attachments if a.inline)

    @property
    def files(self) -> tuple[Attachment, ...]:
        return tuple(a for a in self.attachments if not a.inline)
