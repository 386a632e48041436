"""A Message-ID (RFC 5322 §3.6.4): `left@right`, written `<left@right>` in a header, in Gmail's
`rfc822msgid:` search and in Graph's internetMessageId. Every id the send path makes is made
here, and only `header` wraps one in angle brackets.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from email.utils import parseaddr

# One side of a Message-ID: printable ASCII without '<', '>' or '@' (and so without spaces,
# CR or LF, which could end the header and start another).
_SIDE = re.compile(r"[!-;=?A-~]+")
FALLBACK_DOMAIN = "relay.invalid"  # when no sender address gives one (RFC 2606 name)


@dataclass(frozen=True)
class MessageId:
    left: str
    right: str

    def __post_init__(self) -> None:
        if not _SIDE.fullmatch(self.right):
            raise ValueError(
                f"invalid Message-ID domain {self.right!r}: printable ASCII without <, > or @"
            )
        if not _SIDE.fullmatch(self.left):
            raise ValueError(
                f"invalid Message-ID left side {self.left!r}: printable ASCII without <, > or @"
            )

    @classmethod
    def parse(cls, text: str) -> MessageId:
        """`left@right` or `<left@right>`; ValueError for anything else."""
        bare = text.strip()
        if bare.startswith("<") and bare.endswith(">"):
            bare = bare[1:-1]
        left, at, right = bare.partition("@")
        if not at:
            raise ValueError(f"not a Message-ID {text!r}: expected left@right")
        return cls(left, right)

    @classmethod
    def keyed(cls, key: str, sender: str) -> MessageId:
        """The id carrying an idempotency key, on the sender's domain."""
        return cls(key, domain_of(sender))

    @classmethod
    def fresh(cls, domain: str) -> MessageId:
        """A new id on `domain`, unique by 128 random bits."""
        return cls(secrets.token_hex(16), domain)

    def __str__(self) -> str:
        return f"{self.left}@{self.right}"

    @property
    def header(self) -> str:
        return f"<{self}>"


def domain_of(sender: str) -> str:
    """The right side of ids made for mail from `sender`: its domain, else FALLBACK_DOMAIN."""
    _, at, domain = parseaddr(sender)[1].rpartition("@")
    return domain if at and domain else FALLBACK_DOMAIN
