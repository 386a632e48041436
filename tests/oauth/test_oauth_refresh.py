"""TokenManager against a real redis-server and the fake token endpoint on loopback."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import redis

from relayops.adapters.effects import Call
from relayops.adapters.outlook.answers import classify_graph
from relayops.adapters.retry import Backoff, Outcome
from relayops.adapters.transport import send
from relayops.fakes.token_endpoint import FakeTokenEndpoint
from relayops.oauth.cipher import TokenCipher
from relayops.oauth.recovery import RecoverySlot
from relayops.oauth.refresh import (
    CACHE_KEY,
    CredentialNotFound,
    CredentialTokens,
    CredentialUnreadable,
    ReconnectRequired,
    RefreshFailed,
    TokenManager,
)
from relayops.oauth.sqlite_store import SqliteTokenStore
from tests.oauth_fixtures import credential, endpoints, new_key, seed

MS_TOKEN_PATH = "/common/oauth2/v2.0/token"


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


class Results:
    """on_refresh callback that records each result."""

    def __init__(self) -> None:
        self.seen: list[str] = []
        self._lock = threading.Lock()

    def __call__(self, result: str) -> None:
        with self._lock:
            self.seen.append(result)


def manager(
    store: SqliteTokenStore,
    fake: FakeTokenEndpoint,
    client: redis.Redis,
    **options: object,
) -> TokenManager:
    return TokenManager(store, endpoints(fake), client, **options)  # type: ignore[arg-type]


def run_together(count: int, work: Callable[[int], str]) -> list[str]:
    """Run `work(i)` on `count` threads released at the same moment."""
    barrier = threading.Barrier(count)

    def started(i: int) -> str:
        barrier.wait()
        return work(i)

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(started, range(count)))


def test_twenty_workers_one_refresh(
    tmp_path: Path,
    cipher: TokenCipher,
    redis_url: str,
) -> None:
    path = tmp_path / "tokens.sqlite3"
    results = Results()
    with FakeTokenEndpoint(delay=0.3) as fake:  # a slow endpoint widens the race
        old_refresh = seed(SqliteTokenStore(path, cipher), fake)

        def worker(i: int) -> str:
            client = redis.Redis.from_url(redis_url)
            try:
                own = manager(SqliteTokenStore(path, cipher), fake, client, on_refresh=results)
                return own.access_token("mailbox-1")
            finally:
                client.close()

        tokens = run_together(20, worker)
        assert fake.token_calls == 1
    assert results.seen == ["success"]
    assert len(set(tokens)) == 1
    assert tokens[0] == fake.issued_access_tokens[0]
    stored = SqliteTokenStore(path, cipher).get("mailbox-1")
    assert stored is not None
    assert stored.access_token == tokens[0]
    assert stored.refresh_token not in (old_refresh, "")  # Microsoft rotated it
    assert stored.version == 2
    assert stored.expires_at > datetime.now(UTC) + timedelta(minutes=55)


def test_fresh_token_is_served_without_a_refresh(
    sqlite_store: SqliteTokenStore,
    fake_endpoint: FakeTokenEndpoint,
    redis_client: redis.Redis,
) -> None:
    seed(sqlite_store, fake_endpoint, expires_in=3600)
    tokens = manager(sqlite_store, fake_endpoint, redis_client)
    assert tokens.access_token("mailbox-1") == "access-0"
    sqlite_store.delete("mailbox-1")
    assert tokens.access_token("mailbox-1") == "access-0"  # from the Redis cache
    assert fake_endpoint.token_calls == 0


def test_proactive_refresh_within_the_skew(
    sqlite_store: SqliteTokenStore,
    fake_endpoint: FakeTokenEndpoint,
    redis_client: redis.Redis,
) -> None:
    clock = Clock()
    seed(sqlite_store, fake_endpoint, expires_in=1000, now=clock.now)
    tokens = manager(sqlite_store, fake_endpoint, redis_client, skew_seconds=300, clock=clock)
    assert tokens.access_token("mailbox-1") == "access-0"
    clock.now += timedelta(seconds=650)  # still valid for 350 s: outside the skew
    assert tokens.access_token("mailbox-1") == "access-0"
    assert fake_endpoint.token_calls == 0
    clock.now += timedelta(seconds=100)  # 250 s left: inside the skew, not yet expired
    fresh = tokens.access_token("mailbox-1")
    assert fresh == fake_endpoint.issued_access_tokens[0]
    assert fake_endpoint.token_calls == 1


def test_invalid_grant_requires_a_reconnect(
    sqlite_store: SqliteTokenStore,
    fake_endpoint: FakeTokenEndpoint,
    redis_client: redis.Redis,
) -> None:
    fake_endpoint.revoke(seed(sqlite_store, fake_endpoint))
    results = Results()
    tokens = manager(sqlite_store, fake_endpoint, redis_client, on_refresh=results)
    with pytest.raises(ReconnectRequired) as caught:
        tokens.access_token("mailbox-1")
    assert (caught.value.credential_id, caught.value.provider) == ("mailbox-1", "microsoft")
    assert "relayops oauth setup microsoft" in str(caught.value)
    assert results.seen == ["failure"]


def test_replayed_microsoft_refresh_token_is_invalid_grant(
    sqlite_store: SqliteTokenStore,
    fake_endpoint: FakeTokenEndpoint,
    redis_client: redis.Redis,
) -> None:
    """Why single-flight matters: a second refresh with the pre-rotation token fails."""
    old_refresh = seed(sqlite_store, fake_endpoint)
    tokens = manager(sqlite_store, fake_endpoint, redis_client)
    tokens.access_token("mailbox-1")
    sqlite_store.put(credential(refresh_token=old_refresh, expires_in=-60))  # a lost rotation
    redis_client.flushdb()
    with pytest.raises(ReconnectRequired):
        tokens.access_token("mailbox-1")


def test_google_keeps_its_refresh_token(
    sqlite_store: SqliteTokenStore,
    fake_endpoint: FakeTokenEndpoint,
    redis_client: redis.Redis,
) -> None:
    refresh = seed(sqlite_store, fake_endpoint, provider="google")
    tokens = manager(sqlite_store, fake_endpoint, redis_client)
    assert tokens.access_token("mailbox-1").startswith("ya29.")
    stored = sqlite_store.get("mailbox-1")
    assert stored is not None and stored.refresh_token == refresh


def test_force_refresh_after_a_401_refreshes_once_for_all_callers(
    tmp_path: Path,
    cipher: TokenCipher,
    redis_url: str,
) -> None:
    path = tmp_path / "tokens.sqlite3"
    with FakeTokenEndpoint(delay=0.2) as fake:
        seed(SqliteTokenStore(path, cipher), fake, expires_in=3600, access_token="rejected")

        def caller(i: int) -> str:
            client = redis.Redis.from_url(redis_url)
            try:
                own = manager(SqliteTokenStore(path, cipher), fake, client)
                return own.force_refresh("mailbox-1", "rejected")
            finally:
                client.close()

        tokens = run_together(6, caller)
        assert fake.token_calls == 1
        assert set(tokens) == {fake.issued_access_tokens[0]}
        with redis.Redis.from_url(redis_url) as client:
            again = manager(SqliteTokenStore(path, cipher), fake, client)
            assert again.force_refresh("mailbox-1", tokens[0]) != tokens[0]
        assert fake.token_calls == 2


def test_endpoint_failure_is_transient_and_counted(
    sqlite_store: SqliteTokenStore,
    fake_endpoint: FakeTokenEndpoint,
    redis_client: redis.Redis,
) -> None:
    seed(sqlite_store, fake_endpoint)
    fake_endpoint.faults.status(503, path=MS_TOKEN_PATH)
    results = Results()
    tokens = manager(sqlite_store, fake_endpoint, redis_client, on_refresh=results)
    with pytest.raises(RefreshFailed, match="503"):
        tokens.access_token("mailbox-1")
    unchanged = sqlite_store.get("mailbox-1")
    assert unchanged is not None and unchanged.version == 1
    assert tokens.access_token("mailbox-1") == fake_endpoint.issued_access_tokens[0]
    assert results.seen == ["failure", "success"]


def test_unknown_credential(
    sqlite_store: SqliteTokenStore,
    fake_endpoint: FakeTokenEndpoint,
    redis_client: redis.Redis,
) -> None:
    with pytest.raises(CredentialNotFound, match="relayops oauth setup"):
        manager(sqlite_store, fake_endpoint, redis_client).access_token("nobody")


def test_redis_holds_no_plaintext_token(
    sqlite_store: SqliteTokenStore,
    fake_endpoint: FakeTokenEndpoint,
    redis_client: redis.Redis,
    cipher: TokenCipher,
) -> None:
    refreshes = [seed(sqlite_store, fake_endpoint)]
    tokens = manager(sqlite_store, fake_endpoint, redis_client)
    CredentialTokens(tokens, "mailbox-1").token()
    sqlite_store.put(credential("mailbox-2", "google", access_token="plain-google-access"))
    tokens.access_token("mailbox-2")
    stored = sqlite_store.get("mailbox-1")
    assert stored is not None
    refreshes.append(stored.refresh_token)
    secrets = [*fake_endpoint.issued_access_tokens, *refreshes, "plain-google-access"]

    keys = list(redis_client.scan_iter("*"))
    assert sorted(keys) == sorted(
        CACHE_KEY.format(credential_id=name).encode() for name in ("mailbox-1", "mailbox-2")
    )
    for key in keys:
        value = redis_client.get(key)
        assert value is not None
        assert all(secret.encode() not in value for secret in secrets)
        ttl = redis_client.pttl(key)
        assert 0 < ttl <= (3600 - 300) * 1000  # ends before the token expires
    entry = json.loads(cipher.decrypt(redis_client.get(keys[0]) or b""))
    assert entry["access_token"] in (fake_endpoint.issued_access_tokens[0], "plain-google-access")


def test_credential_tokens_as_the_adapters_token_source(
    sqlite_store: SqliteTokenStore,
    fake_endpoint: FakeTokenEndpoint,
    redis_client: redis.Redis,
) -> None:
    """A provider 401 on a revoked access token: one refresh, one retry, sent."""
    seed(sqlite_store, fake_endpoint, expires_in=3600, access_token="revoked-at-provider")
    seen: list[str] = []

    def provider(request: httpx.Request) -> httpx.Response:
        token = request.headers["authorization"].removeprefix("Bearer ")
        seen.append(token)
        if token in fake_endpoint.issued_access_tokens:
            return httpx.Response(202)
        return httpx.Response(401, json={"error": {"code": "InvalidAuthenticationToken"}})

    source = CredentialTokens(manager(sqlite_store, fake_endpoint, redis_client), "mailbox-1")
    with httpx.Client(transport=httpx.MockTransport(provider)) as client:
        attempted = send(
            client,
            lambda token: Call(
                "POST",
                "https://graph.test/v1.0/me/sendMail",
                headers={"Authorization": f"Bearer {token}"},
            ),
            source,
            Backoff(),
            answers=classify_graph,
            sleep=lambda seconds: None,
        )
    assert attempted.outcome is Outcome.SENT
    assert seen == ["revoked-at-provider", fake_endpoint.issued_access_tokens[0]]
    assert fake_endpoint.token_calls == 1


def test_a_credential_sealed_with_a_removed_key_asks_for_a_reconnect(
    tmp_path: Path,
    cipher: TokenCipher,
    fake_endpoint: FakeTokenEndpoint,
    redis_client: redis.Redis,
) -> None:
    """The store raises DecryptError (the key was dropped from the list): callers get a
    TokenError that says what to do, never the store's exception."""
    path = tmp_path / "tokens.sqlite3"
    seed(SqliteTokenStore(path, cipher), fake_endpoint, expires_in=3600)
    other_key = SqliteTokenStore(path, TokenCipher([new_key()]))
    with pytest.raises(CredentialUnreadable) as caught:
        manager(other_key, fake_endpoint, redis_client).access_token("mailbox-1")
    assert caught.value.reconnect and "key" in str(caught.value)
    assert fake_endpoint.token_calls == 0


class StoreGoesDown:
    """A PostgreSQL token store whose server stops answering (connection refused, as after
    a crash) when `down` is set: every later operation meets the real psycopg error."""

    def __init__(self, url: str, cipher: TokenCipher) -> None:
        from relayops.oauth.postgres_store import PostgresTokenStore

        self.store = PostgresTokenStore(url, cipher)

    def down(self) -> None:
        self.store.url = "postgresql://relayops@127.0.0.1:1/postgres"


def test_postgresql_down_while_reading_is_a_token_error(
    postgres_url: str,
    cipher: TokenCipher,
    fake_endpoint: FakeTokenEndpoint,
    redis_client: redis.Redis,
) -> None:
    """Not a raw psycopg.OperationalError: a RefreshFailed (retry later) the adapter turns
    into a structured error. (Down while writing a refreshed token: tests/faults.)"""
    backend = StoreGoesDown(postgres_url, cipher)
    backend.store.delete("mailbox-1")
    seed(backend.store, fake_endpoint)  # type: ignore[arg-type]
    tokens = manager(backend.store, fake_endpoint, redis_client)  # type: ignore[arg-type]
    backend.down()
    with pytest.raises(RefreshFailed, match="PostgreSQL token store: OperationalError") as caught:
        tokens.access_token("mailbox-1")
    assert not caught.value.reconnect
    assert fake_endpoint.token_calls == 0


def test_a_recovery_slot_that_does_not_decrypt_is_reported_and_ignored(
    sqlite_store: SqliteTokenStore,
    fake_endpoint: FakeTokenEndpoint,
    redis_client: redis.Redis,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Sealed with a key that is gone: it cannot be used, so the refresh goes on from the
    store and says why the slot was passed over; the slot is left for a person to look at."""
    seed(sqlite_store, fake_endpoint)
    redis_client.set(RecoverySlot.key("mailbox-1"), TokenCipher([new_key()]).encrypt("{}"))
    with caplog.at_level(logging.ERROR, logger="relayops.oauth.recovery"):
        token = manager(sqlite_store, fake_endpoint, redis_client).access_token("mailbox-1")
    assert token == fake_endpoint.issued_access_tokens[0] and fake_endpoint.token_calls == 1
    assert "recovery slot of mailbox-1 cannot be read" in caplog.text
    stored = sqlite_store.get("mailbox-1")
    assert stored is not None and stored.version == 2
