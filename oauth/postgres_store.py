"""TokenStore on PostgreSQL (psycopg 3): same table and behaviour as the SQLite store.

A connection per operation keeps the store thread-safe without a pool; each operation is a
single short transaction.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace

import psycopg

from oauth.cipher import TokenCipher
from oauth.store import Credential, SealedRow, seal, unseal

_SCHEMA = """
CREATE TABLE IF NOT EXISTS oauth_credentials (
    credential_id TEXT PRIMARY KEY,
    provider TEXT NOT NULL CHECK (provider IN ('google', 'microsoft')),
    access_token_enc TEXT NOT NULL,
    refresh_token_enc TEXT NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    scope TEXT NOT NULL,
    version INTEGER NOT NULL
)
"""
_COLUMNS = (
    "credential_id, provider, access_token_enc, refresh_token_enc, expires_at, scope, version"
)
_CONNECT_SECONDS = 10
# Two first-time openers racing on CREATE TABLE IF NOT EXISTS can still collide in the catalog;
# an advisory lock makes schema creation one at a time.
_SCHEMA_LOCK = 0x72656C6179  # "relay"


class PostgresTokenStore:
    def __init__(self, url: str, cipher: TokenCipher) -> None:
        self.url = url
        self.cipher = cipher
        with self._transaction() as conn:
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
            conn.execute(_SCHEMA)

    @contextmanager
    def _transaction(self) -> Iterator[psycopg.Connection]:
        """One transaction: committed when the block ends, rolled back if it raises."""
        with psycopg.connect(self.url, connect_timeout=_CONNECT_SECONDS) as conn:
            yield conn

    def get(self, credential_id: str) -> Credential | None:
        with self._transaction() as conn:
            found = conn.execute(
                f"SELECT {_COLUMNS} FROM oauth_credentials WHERE credential_id = %s",
                (credential_id,),
            ).fetchone()
        return None if found is None else unseal(self.cipher, SealedRow(*found))

    def put(self, credential: Credential) -> Credential:
        row = seal(self.cipher, credential, 1)
        with self._transaction() as conn:
            stored = conn.execute(
                f"INSERT INTO oauth_credentials ({_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s) "
                "ON CONFLICT (credential_id) DO UPDATE SET provider = EXCLUDED.provider, "
                "access_token_enc = EXCLUDED.access_token_enc, "
                "refresh_token_enc = EXCLUDED.refresh_token_enc, "
                "expires_at = EXCLUDED.expires_at, scope = EXCLUDED.scope, "
                "version = oauth_credentials.version + 1 "
                "RETURNING version",
                tuple(row),
            ).fetchone()
        assert stored is not None  # RETURNING always yields the written row
        return replace(credential, version=stored[0])

    def replace_if_version(self, credential: Credential, expected_version: int) -> bool:
        row = seal(self.cipher, credential, expected_version + 1)
        with self._transaction() as conn:
            cursor = conn.execute(
                "UPDATE oauth_credentials SET provider = %s, access_token_enc = %s, "
                "refresh_token_enc = %s, expires_at = %s, scope = %s, version = %s "
                "WHERE credential_id = %s AND version = %s",
                (*row[1:], row.credential_id, expected_version),
            )
            return cursor.rowcount == 1

    def delete(self, credential_id: str) -> bool:
        with self._transaction() as conn:
            cursor = conn.execute(
                "DELETE FROM oauth_credentials WHERE credential_id = %s", (credential_id,)
            )
            return cursor.rowcount == 1

    def ids(self) -> list[str]:
        with self._transaction() as conn:
            rows = conn.execute(
                "SELECT credential_id FROM oauth_credentials ORDER BY credential_id"
            ).fetchall()
        return [row[0] for row in rows]

    def rotate_key(self) -> int:
        with self._transaction() as conn:
            rows = conn.execute(
                "SELECT credential_id, access_token_enc, refresh_token_enc "
                "FROM oauth_credentials FOR UPDATE"
            ).fetchall()
            for credential_id, access, refresh in rows:
                conn.execute(
                    "UPDATE oauth_credentials SET access_token_enc = %s, refresh_token_enc = %s "
                    "WHERE credential_id = %s",
                    (self.cipher.rotate(access), self.cipher.rotate(refresh), credential_id),
                )
        return len(rows)
