"""What the send flow (relayops.adapters.adapter) asks of one email API, and nothing more.

The flow is the same for every provider: gate, params, internal-only, sanitize, idempotency
key, build, send, look up after an ambiguous outcome, count. What differs is behind
`Provider`: where the API lives, how a message becomes a request (and which route its size
calls for), how it is sent, how an already sent copy is found, and how the API's answers read.
A provider is a package under relayops.adapters (gmail/, outlook/) registered by its spec name
in relayops.adapters.providers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from relayops.adapters.effects import Call, Steps
from relayops.adapters.message import Message
from relayops.adapters.message_id import MessageId
from relayops.adapters.retry import Backoff, Classify, classify
from relayops.adapters.transport import Attempted, send_steps

UploadEvents = Callable[[str, int], None]  # ("bytes", n) or (session result, n): counted


@dataclass(frozen=True)
class Built:
    message: Message  # as sent: sanitized, carrying its idempotency key
    digest: str  # of the message as the caller gave it, before the key was added
    route: str  # the provider's name for how it goes out (its own StrEnum)
    body: bytes  # empty on a route that sends the message in parts
    content_type: str
    path: str  # under the API base
    warnings: tuple[str, ...]


class Provider(Protocol):
    """One email API behind the send flow."""

    api_base: str  # the real API's base URL, used when the adapter is given none
    build_role: str  # catalog key of the build-time histogram (counted if a signal names it)
    token_env: str  # environment variable holding an access token for `relayops send`

    def build(self, message: Message, digest: str, notes: tuple[str, ...]) -> Built:
        """The request for `message` on the route its size calls for; SendError TOO_LARGE
        when no route takes it, BuiltMismatch when the built payload is not the message."""
        ...

    def send(
        self, base_url: str, built: Built, backoff: Backoff, on_upload: UploadEvents
    ) -> Steps[Attempted]:
        """Send it once, with the transport's retries: SENT, final, or AMBIGUOUS."""
        ...

    def can_look_up(self) -> bool:
        """Whether a sent copy can be found (what makes a resend after AMBIGUOUS safe)."""
        ...

    def find(
        self, base_url: str, backoff: Backoff, message_id: MessageId, key: str | None
    ) -> Steps[str | None]:
        """The provider id of a sent message with this Message-ID and idempotency key, or
        None; LookupFailed when the API gave no answer."""
        ...

    def discard_unsent(self, base_url: str, backoff: Backoff, built: Built) -> Steps[None]:
        """Clean up what an ambiguous send left that was not sent (Graph's drafts), before a
        resend; best effort."""
        ...


def post_built(
    base_url: str, built: Built, backoff: Backoff, answers: Classify = classify
) -> Steps[Attempted]:
    """The built body POSTed to its path in one request, with the transport's retries."""

    def request(token: str) -> Call:
        return Call(
            "POST",
            base_url + built.path,
            content=built.body,
            headers={"Authorization": f"Bearer {token}", "Content-Type": built.content_type},
        )

    return (yield from send_steps(request, backoff, answers=answers))


def nothing_to_discard() -> Steps[None]:
    """`discard_unsent` of a provider whose failed sends leave nothing behind."""
    yield from ()
