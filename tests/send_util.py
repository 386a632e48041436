"""A send adapter pointed at a fake provider server, as the send-path tests use it."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from relayops.adapters.adapter import AsyncSendAdapter, SendAdapter
from relayops.adapters.idempotency import LookupPolicy
from relayops.adapters.retry import Backoff
from relayops.adapters.smoke import AlwaysOpen, StaticToken
from relayops.fakes import FakeGmail, FakeGraph
from relayops.fakes.gmail import DEFAULT_TOKEN as GMAIL_TOKEN
from relayops.fakes.graph import DEFAULT_TOKEN as GRAPH_TOKEN
from relayops.spec import SpecSet

NO_LOOK_UP_WAITS = LookupPolicy(waits=(), max_resends=0)


def fake_token(provider: str) -> str:
    """The access token the provider's fake accepts."""
    return GMAIL_TOKEN if provider == "gmail" else GRAPH_TOKEN


def fake_adapter(
    specs: SpecSet,
    provider: str,
    server: FakeGmail | FakeGraph,
    *,
    front: type[SendAdapter] | type[AsyncSendAdapter] = SendAdapter,
    gate: object | None = None,
    tokens: object | None = None,
    timeout: float = 10.0,
    deadline: float = 5.0,
    lookup: LookupPolicy = NO_LOOK_UP_WAITS,
    sleep: Callable | None = None,
):
    """By default the gate always open, the fake's token, quick backoff, and no look-up waits
    or resends after an ambiguous outcome; `front` AsyncSendAdapter for the async one."""
    client_type = httpx.AsyncClient if front is AsyncSendAdapter else httpx.Client
    return front(
        specs,
        provider,
        gate or AlwaysOpen(),
        tokens or StaticToken(fake_token(provider)),
        base_url=server.url,
        client=client_type(timeout=timeout),
        backoff=Backoff(base_seconds=0.01, max_seconds=0.05, deadline_seconds=deadline),
        lookup=lookup,
        sleep=sleep,
    )
