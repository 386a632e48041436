"""Idempotency keys: one per send, written into the message, looked for after an ambiguous
outcome before anything is sent again.

The key becomes the left side of the Message-ID (`<key@domain>`, which Gmail's `rfc822msgid:`
search and Graph's `internetMessageId` filter find) and the X-Relay-Idempotency-Key header
(which Graph keeps on the draft and the Sent Items copy). A caller who retries a send gives the
same key each time; without one, the key is derived from the message's digest plus 64 random
bits. The random part matters: a Message-ID must be unique, and mail systems drop or merge
messages whose Message-ID they have seen, so two deliberate sends of the same content must not
share one.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, replace

from relayops.adapters.message import Message
from relayops.adapters.message_id import MessageId

HEADER = "X-Relay-Idempotency-Key"
KEY_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._~-]{0,99}")
KEY_RULE = "1 to 100 characters of A-Z a-z 0-9 . _ ~ -, starting with a letter or digit"


@dataclass(frozen=True)
class LookupPolicy:
    """How long to keep looking for a message whose send may have been accepted.

    Providers index a sent message with a delay (Gmail's search by seconds), so an empty answer
    right after an ambiguous outcome proves nothing: look again after each wait, and resend
    only when every look came back empty.
    """

    waits: tuple[float, ...] = (1.0, 2.0, 4.0, 8.0)  # seconds before each further look
    max_resends: int = 1  # sends after the first that a lookup found nothing for
    # A look-up is a GET: one that got no answer (a timeout, a 5xx) is safe to ask again, this
    # many times, before the outcome is left ambiguous.
    retries: int = 1


class LookupFailed(Exception):
    """A look-up could not tell whether the message exists (the provider did not answer it).

    Never read as "not found": resending on a failed look-up is how duplicates happen."""


def derived_key(content_digest: str) -> str:
    """A fresh key tied to the message's content: digest prefix and 64 random bits."""
    return f"{content_digest[:24]}-{secrets.token_hex(8)}"


def with_key(message: Message, key: str) -> Message:
    """The message carrying `key` in its idempotency header and as its Message-ID,
    `<key@sender's domain>`."""
    headers = {**message.headers, HEADER: key}
    return replace(message, headers=headers, message_id=MessageId.keyed(key, message.sender))


def key_of(message: Message) -> str | None:
    return message.headers.get(HEADER)
