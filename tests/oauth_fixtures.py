"""Fixtures for the OAuth tests: a real redis-server, the fake token endpoint, token stores."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import redis
from cryptography.fernet import Fernet

from relayops.fakes.token_endpoint import FakeTokenEndpoint
from relayops.oauth.cipher import TokenCipher
from relayops.oauth.providers import ClientCredentials, TokenEndpoint, google, microsoft
from relayops.oauth.sqlite_store import SqliteTokenStore
from relayops.oauth.store import Credential, Provider
from tests.daemons import run_redis


class IssuedTokens:
    """The fake Graph's set of valid tokens: exactly those the fake endpoint issued."""

    def __init__(self, endpoint: FakeTokenEndpoint):
        self.endpoint = endpoint

    def __contains__(self, token: object) -> bool:
        return token in self.endpoint.issued_access_tokens


def new_key() -> bytes:
    return Fernet.generate_key()


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """redis-server on a free loopback port for the module; yields its URL."""
    with run_redis(tmp_path_factory.mktemp("redis")) as (url, _):
        yield url


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    yield client
    client.close()


@pytest.fixture
def fake_endpoint() -> Iterator[FakeTokenEndpoint]:
    with FakeTokenEndpoint() as fake:
        yield fake


@pytest.fixture
def cipher() -> TokenCipher:
    return TokenCipher([new_key()])


@pytest.fixture
def sqlite_store(tmp_path: Path, cipher: TokenCipher) -> SqliteTokenStore:
    return SqliteTokenStore(tmp_path / "tokens.sqlite3", cipher)


def endpoints(fake: FakeTokenEndpoint) -> dict[str, TokenEndpoint]:
    """Token endpoints of both providers pointed at the fake."""
    client = ClientCredentials(fake.client_id, fake.client_secret)
    return {
        "google": TokenEndpoint(google(fake.url, f"{fake.url}/token"), client),
        "microsoft": TokenEndpoint(microsoft("common", fake.url), client),
    }


def credential(
    credential_id: str = "mailbox-1",
    provider: Provider = "microsoft",
    *,
    refresh_token: str = "refresh-0",
    access_token: str = "access-0",
    expires_in: float = 3600,
    now: datetime | None = None,
) -> Credential:
    moment = now or datetime.now(UTC)
    return Credential(
        credential_id=credential_id,
        provider=provider,
        access_token=access_token,
        refresh_token=refresh_token,
        expires_at=moment + timedelta(seconds=expires_in),
        scope="https://graph.microsoft.com/Mail.Send",
    )


def seed(
    store: SqliteTokenStore,
    fake: FakeTokenEndpoint,
    *,
    provider: Provider = "microsoft",
    expires_in: float = -60,
    access_token: str = "access-0",
    now: datetime | None = None,
) -> str:
    """Store a credential whose refresh token the fake accepts; returns that refresh token."""
    refresh = fake.issue_refresh_token(provider, "scope")
    store.put(
        credential(
            provider=provider,
            refresh_token=refresh,
            access_token=access_token,
            expires_in=expires_in,
            now=now,
        )
    )
    return refresh
