"""Find sent Gmail messages by their Message-ID header, to learn whether an ambiguous send
went through before sending again.

Gmail's search index lags a send by seconds: an empty answer soon after a send does not prove
the message absent. A caller deciding whether to resend asks again after that lag.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx

from relayops.adapters.effects import Call, Steps, run_sync
from relayops.adapters.idempotency import LookupFailed
from relayops.adapters.message_id import MessageId
from relayops.adapters.retry import Backoff, Outcome
from relayops.adapters.transport import TokenSource, send_steps

LIST_PATH = "/gmail/v1/users/me/messages"


def find_by_message_id_steps(
    base_url: str, backoff: Backoff, message_id: MessageId
) -> Steps[list[str]]:
    """Gmail ids of the messages whose Message-ID is `message_id`, newest first.

    Raises LookupFailed when the search got no answer (a timeout or 504 included: transport
    does not repeat those): that is not "not found".
    """
    bare = str(message_id)

    def build(token: str) -> Call:
        return Call(
            "GET",
            base_url.rstrip("/") + LIST_PATH,
            params={"q": f"rfc822msgid:{bare}"},
            headers={"Authorization": f"Bearer {token}"},
        )

    attempted = yield from send_steps(build, backoff)
    if attempted.outcome is not Outcome.SENT:
        raise LookupFailed(
            f"searching Gmail for rfc822msgid:{bare} failed: {attempted.outcome} "
            f"(HTTP {attempted.status}) {attempted.detail}".rstrip()
        )
    messages = (attempted.body or {}).get("messages") or []
    return [m["id"] for m in messages if isinstance(m, dict) and isinstance(m.get("id"), str)]


def find_by_message_id(
    client: httpx.Client,
    base_url: str,
    tokens: TokenSource,
    backoff: Backoff,
    message_id: MessageId,
    *,
    sleep: Callable[[float], None] = time.sleep,
) -> list[str]:
    """`find_by_message_id_steps` with blocking I/O."""
    return run_sync(find_by_message_id_steps(base_url, backoff, message_id), client, tokens, sleep)
