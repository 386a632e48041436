"""The send adapter with stored OAuth credentials: a real redis-server, the SQLite token store,
the fake token endpoint and the fake Graph, all on loopback. Expired tokens are refreshed
before the send, a revoked grant is a structured reconnect error, refreshes are counted."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import httpx
import pytest
import redis

from relayops.adapters.adapter import SendAdapter
from relayops.adapters.errors import ErrorCode
from relayops.adapters.retry import Backoff
from relayops.adapters.smoke import AlwaysOpen
from relayops.fakes import FakeGmail, FakeGraph
from relayops.fakes.token_endpoint import FakeTokenEndpoint
from relayops.oauth.refresh import CredentialTokens, TokenManager
from relayops.oauth.sqlite_store import SqliteTokenStore
from relayops.spec import SpecSet
from tests.oauth_fixtures import IssuedTokens, endpoints, seed

PARAMS = {"to": ["ana@customer.example"], "subject": "Report", "text": "Attached."}


@pytest.fixture
def graph(fake_endpoint: FakeTokenEndpoint) -> Iterator[FakeGraph]:
    with FakeGraph() as server:
        server.tokens = IssuedTokens(fake_endpoint)  # type: ignore[assignment]
        yield server


@pytest.fixture
def send(
    specs: SpecSet,
    graph: FakeGraph,
    sqlite_store: SqliteTokenStore,
    fake_endpoint: FakeTokenEndpoint,
    redis_client: redis.Redis,
) -> SendAdapter:
    """The Outlook adapter sending with stored credential mailbox-1, refreshes counted."""
    manager = TokenManager(sqlite_store, endpoints(fake_endpoint), redis_client)
    return stored_credential_adapter(specs, "outlook", graph.url, manager)


def stored_credential_adapter(
    specs: SpecSet, provider: str, url: str, manager: TokenManager
) -> SendAdapter:
    """The provider's adapter on stored credential mailbox-1, its refreshes counted."""
    adapter = SendAdapter(
        specs,
        provider,
        AlwaysOpen(),
        CredentialTokens(manager, "mailbox-1"),
        base_url=url,
        client=httpx.Client(timeout=5),
        backoff=Backoff(base_seconds=0.01, max_seconds=0.05, deadline_seconds=5),
    )
    manager.on_refresh = adapter.count_refresh
    return adapter


def refreshes(adapter: SendAdapter, result: str) -> float:
    labels = {"provider": "microsoft", "action": "outlook.send", "result": result}
    return adapter.metrics.registry.get_sample_value("oauth_refresh_total", labels) or 0.0


def test_an_expired_token_is_refreshed_before_the_send_and_counted(
    send, graph, sqlite_store, fake_endpoint
):
    refresh = seed(sqlite_store, fake_endpoint)
    result = send.execute("outlook.send", PARAMS, "ws", "actor")
    assert result.ok, result.error
    assert fake_endpoint.token_calls == 1 and graph.delivery_count == 1
    sent_with = graph.requests[-1].headers["authorization"]
    assert sent_with == f"Bearer {fake_endpoint.issued_access_tokens[0]}"
    assert refreshes(send, "success") == 1 and refreshes(send, "failure") == 0
    stored = sqlite_store.get("mailbox-1")
    assert stored.refresh_token != refresh  # Microsoft rotated it; the new one is kept


def test_a_revoked_grant_is_a_reconnect_error_and_nothing_is_sent(
    send, graph, sqlite_store, fake_endpoint
):
    fake_endpoint.revoke(seed(sqlite_store, fake_endpoint))
    result = send.execute("outlook.send", PARAMS, "ws", "actor")
    assert not result.ok
    assert result.error.error_code is ErrorCode.AUTH_RECONNECT_REQUIRED
    assert "relayops oauth setup microsoft" in result.error.message
    assert not result.error.retriable
    assert graph.requests == [] and refreshes(send, "failure") == 1


def test_a_provider_401_refreshes_once_then_sends(send, graph, sqlite_store, fake_endpoint):
    """The stored token looks fresh but the provider refuses it (revoked early)."""
    seed(sqlite_store, fake_endpoint, access_token="revoked", expires_in=3600)
    attachment = base64.b64encode(b"%PDF-1.4 report").decode()
    params = {
        **PARAMS,
        "attachments": [
            {"data": attachment, "filename": "r.pdf", "content_type": "application/pdf"}
        ],
    }
    result = send.execute("outlook.send", params, "ws", "actor")
    assert result.ok, result.error
    assert [r.status for r in graph.requests] == [401, 202]
    assert fake_endpoint.token_calls == 1 and graph.delivery_count == 1


def test_a_missing_credential_is_a_reconnect_error(send, graph, sqlite_store, fake_endpoint):
    result = send.execute("outlook.send", PARAMS, "ws", "actor")
    assert result.error.error_code is ErrorCode.AUTH_RECONNECT_REQUIRED
    assert "mailbox-1" in result.error.message and graph.requests == []


@pytest.fixture
def gmail_send(
    specs: SpecSet,
    sqlite_store: SqliteTokenStore,
    fake_endpoint: FakeTokenEndpoint,
    redis_client: redis.Redis,
) -> Iterator[tuple[SendAdapter, FakeGmail]]:
    """The Gmail adapter on a stored Google credential, refreshes counted as Outlook's are."""
    with FakeGmail() as gmail:
        gmail.tokens = IssuedTokens(fake_endpoint)  # type: ignore[assignment]
        manager = TokenManager(sqlite_store, endpoints(fake_endpoint), redis_client)
        yield stored_credential_adapter(specs, "gmail", gmail.url, manager), gmail


def test_gmail_counts_its_refreshes_as_outlook_does(
    gmail_send, sqlite_store, fake_endpoint, redis_client
):
    """Gmail's refreshes were never counted, so its refresh failures were invisible and the
    controller read the absent series as no failures."""
    send, gmail = gmail_send
    labels = {"provider": "google", "action": "gmail.send"}
    registry = send.metrics.registry
    assert registry.get_sample_value("oauth_refresh_total", {**labels, "result": "failure"}) == 0
    seed(sqlite_store, fake_endpoint, provider="google")
    assert send.execute("gmail.send", PARAMS, "ws", "actor").ok
    assert registry.get_sample_value("oauth_refresh_total", {**labels, "result": "success"}) == 1
    sqlite_store.delete("mailbox-1")
    redis_client.flushdb()  # the cached access token from the first refresh
    fake_endpoint.revoke(seed(sqlite_store, fake_endpoint, provider="google"))
    failed = send.execute("gmail.send", PARAMS, "ws", "actor")
    assert failed.error.error_code is ErrorCode.AUTH_RECONNECT_REQUIRED
    assert registry.get_sample_value("oauth_refresh_total", {**labels, "result": "failure"}) == 1
    assert gmail.delivery_count == 1
