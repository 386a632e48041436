"""A send adapter pointed at a fake provider server, as the send-path tests use it."""

from __future__ import annotations

import httpx

from relayops.adapters.adapter import SendAdapter
from relayops.adapters.idempotency import LookupPolicy
from relayops.adapters.retry import Backoff
from relayops.adapters.smoke import AlwaysOpen, StaticToken
from relayops.adapters.transport import TokenSource
from relayops.fakes import FakeGmail, FakeGraph
from relayops.fakes.gmail import DEFAULT_TOKEN as GMAIL_TOKEN
from relayops.fakes.graph import DEFAULT_TOKEN as GRAPH_TOKEN
from relayops.spec import SpecSet


def fake_adapter(
    specs: SpecSet,
    provider: str,
    server: FakeGmail | FakeGraph,
    *,
    tokens: TokenSource | None = None,
    timeout: float = 10.0,
    deadline: float = 5.0,
) -> SendAdapter:
    """The gate always open, the fake's token, quick backoff, and no look-up waits or resends
    after an ambiguous outcome."""
    token = GMAIL_TOKEN if provider == "gmail" else GRAPH_TOKEN
    return SendAdapter(
        specs,
        provider,
        AlwaysOpen(),
        tokens or StaticToken(token),
        base_url=server.url,
        client=httpx.Client(timeout=timeout),
        backoff=Backoff(base_seconds=0.01, max_seconds=0.05, deadline_seconds=deadline),
        lookup=LookupPolicy(waits=(), max_resends=0),
    )
