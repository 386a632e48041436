"""The TokenStore contract, run on SQLite and on a real PostgreSQL server."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import psycopg
import pytest
from cryptography.fernet import Fernet

from relayops.oauth.cipher import DecryptError, TokenCipher
from relayops.oauth.keys import KeyConfigError
from relayops.oauth.open_store import StoreConfigError, open_store
from relayops.oauth.postgres_store import PostgresTokenStore
from relayops.oauth.sqlite_store import SqliteTokenStore
from relayops.oauth.store import TokenStore
from tests.oauth_fixtures import credential, new_key

RAW = "SELECT credential_id, access_token_enc, refresh_token_enc FROM oauth_credentials"
OpenStore = Callable[[TokenCipher], TokenStore]


class Backend:
    """Opens stores on one database and reads its raw rows."""

    def __init__(self, name: str, opener: OpenStore, raw: Callable[[], list[tuple]]) -> None:
        self.name, self.open, self.raw = name, opener, raw


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    if request.param == "sqlite":
        path = tmp_path / "tokens.sqlite3"

        def sqlite_raw() -> list[tuple]:
            with sqlite3.connect(path) as conn:
                return conn.execute(RAW).fetchall()

        return Backend("sqlite", lambda keys: SqliteTokenStore(path, keys), sqlite_raw)
    url = request.getfixturevalue("postgres_url")
    with psycopg.connect(url) as conn:
        conn.execute("DROP TABLE IF EXISTS oauth_credentials")

    def postgres_raw() -> list[tuple]:
        with psycopg.connect(url) as conn:
            return conn.execute(RAW).fetchall()

    return Backend("postgresql", lambda keys: PostgresTokenStore(url, keys), postgres_raw)


@pytest.fixture
def store(backend: Backend, cipher: TokenCipher) -> TokenStore:
    return backend.open(cipher)


def test_put_then_get_round_trips_with_version_one(store: TokenStore) -> None:
    assert store.get("mailbox-1") is None
    original = credential(expires_in=1234.5)
    stored = store.put(original)
    assert stored == replace(original, version=1)
    found = store.get("mailbox-1")
    assert found == stored
    assert found is not None and found.expires_at.tzinfo is not None
    assert found.expires_at.utcoffset() == timedelta(0)


def test_put_replaces_and_bumps_the_version(store: TokenStore) -> None:
    store.put(credential(access_token="first"))
    second = store.put(credential(access_token="second", provider="google"))
    assert second.version == 2
    found = store.get("mailbox-1")
    assert found is not None
    assert (found.access_token, found.provider, found.version) == ("second", "google", 2)


def test_replace_if_version_is_compare_and_set(store: TokenStore) -> None:
    stored = store.put(credential(refresh_token="old"))
    rotated = replace(stored, refresh_token="new", access_token="fresh")
    assert store.replace_if_version(rotated, expected_version=1) is True
    found = store.get("mailbox-1")
    assert found is not None
    assert (found.refresh_token, found.access_token, found.version) == ("new", "fresh", 2)
    assert store.replace_if_version(replace(stored, refresh_token="late"), 1) is False
    unchanged = store.get("mailbox-1")
    assert unchanged is not None and unchanged.refresh_token == "new"
    assert store.replace_if_version(credential("absent"), 1) is False
    assert store.get("absent") is None


def test_concurrent_compare_and_set_has_one_winner(store: TokenStore) -> None:
    stored = store.put(credential())
    results: list[bool] = []
    lock = threading.Lock()

    def attempt(n: int) -> None:
        won = store.replace_if_version(replace(stored, refresh_token=f"r{n}"), stored.version)
        with lock:
            results.append(won)

    threads = [threading.Thread(target=attempt, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False] * 7 + [True]
    found = store.get("mailbox-1")
    assert found is not None and found.version == 2


def test_delete_and_ids(store: TokenStore) -> None:
    for name in ("b", "a", "c"):
        store.put(credential(name))
    assert store.ids() == ["a", "b", "c"]
    assert store.delete("b") is True
    assert store.delete("b") is False
    assert store.ids() == ["a", "c"]
    assert store.get("b") is None


def test_tokens_are_stored_only_as_ciphertext(
    backend: Backend,
    store: TokenStore,
    cipher: TokenCipher,
) -> None:
    store.put(credential(access_token="plain-access", refresh_token="plain-refresh"))
    [(credential_id, access, refresh)] = backend.raw()
    assert credential_id == "mailbox-1"
    assert "plain" not in access and "plain" not in refresh
    assert cipher.decrypt(access) == "plain-access"
    assert cipher.decrypt(refresh) == "plain-refresh"


def test_schema_creation_is_idempotent(backend: Backend, cipher: TokenCipher) -> None:
    backend.open(cipher).put(credential())
    again = backend.open(cipher)
    assert again.ids() == ["mailbox-1"]


def test_rotate_key_rewrites_every_row_under_the_newest_key(backend: Backend) -> None:
    old, new = new_key(), new_key()
    before = backend.open(TokenCipher([old]))
    for n in range(3):
        before.put(credential(f"m{n}", access_token=f"a{n}", refresh_token=f"r{n}"))

    rotating = backend.open(TokenCipher([new, old]))
    still = rotating.get("m1")  # the old key still decrypts old rows
    assert still is not None and still.refresh_token == "r1"
    assert rotating.rotate_key() == 3

    new_only = backend.open(TokenCipher([new]))
    for n in range(3):
        found = new_only.get(f"m{n}")
        assert found is not None
        assert (found.access_token, found.refresh_token, found.version) == (f"a{n}", f"r{n}", 1)
    for _, access, refresh in backend.raw():
        for token in (access, refresh):
            Fernet(new).decrypt(token.encode())  # raises if another key had encrypted it
    with pytest.raises(DecryptError, match="does not decrypt"):
        backend.open(TokenCipher([old])).get("m0")


def test_rotate_key_on_an_empty_store(store: TokenStore) -> None:
    assert store.rotate_key() == 0


# --- open_store --------------------------------------------------------------------------------


def test_open_store_uses_sqlite_without_database_url(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "tokens.sqlite3"
    env = {"RELAYOPS_TOKEN_KEYS": new_key().decode()}
    store = open_store(path, env)
    assert isinstance(store, SqliteTokenStore)
    store.put(credential())
    assert path.is_file()
    assert sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone() == ("wal",)


@pytest.mark.parametrize("scheme", ["postgresql", "postgres"])
def test_open_store_uses_postgresql_for_its_urls(
    scheme: str,
    postgres_url: str,
    tmp_path: Path,
) -> None:
    url = postgres_url.replace("postgresql://", f"{scheme}://", 1)
    env = {"RELAYOPS_TOKEN_KEYS": new_key().decode(), "DATABASE_URL": url}
    store = open_store(tmp_path / "unused.sqlite3", env)
    assert isinstance(store, PostgresTokenStore)
    store.put(credential("open-store-check"))
    assert store.get("open-store-check") is not None
    assert not (tmp_path / "unused.sqlite3").exists()


def test_open_store_refuses_other_databases(tmp_path: Path) -> None:
    env = {"RELAYOPS_TOKEN_KEYS": new_key().decode(), "DATABASE_URL": "mysql://u:pw@db/x"}
    with pytest.raises(StoreConfigError, match="DATABASE_URL has scheme 'mysql'") as caught:
        open_store(tmp_path / "t.sqlite3", env)
    assert "pw" not in str(caught.value)


def test_open_store_without_a_key_names_the_variable(tmp_path: Path) -> None:
    with pytest.raises(KeyConfigError, match="RELAYOPS_TOKEN_KEYS"):
        open_store(tmp_path / "t.sqlite3", {})


def test_expiry_is_normalised_to_utc(store: TokenStore) -> None:
    elsewhere = datetime(2030, 1, 1, 17, tzinfo=timezone(timedelta(hours=5)))
    store.put(replace(credential(), expires_at=elsewhere))
    found = store.get("mailbox-1")
    assert found is not None
    assert found.expires_at == datetime(2030, 1, 1, 12, tzinfo=UTC)
    assert found.expires_at.utcoffset() == timedelta(0)
