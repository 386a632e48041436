"""TokenStore on PostgreSQL (psycopg 3): same table and behaviour as the SQLite store.

A connection per operation keeps the store thread-safe without a pool; each operation is a
single short transaction.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg

from relayops.oauth.cipher import TokenCipher
from relayops.oauth.sql_store import SqlTokenStore
from relayops.oauth.store import StoreUnavailable

_CONNECT_SECONDS = 10
# Two first-time openers racing on CREATE TABLE IF NOT EXISTS can still collide in the catalog;
# an advisory lock makes schema creation one at a time.
_SCHEMA_LOCK = 0x72656C6179  # "relay"


class PostgresTokenStore(SqlTokenStore):
    placeholder = "%s"
    row_lock = " FOR UPDATE"
    timestamp_type = "TIMESTAMPTZ"

    def __init__(self, url: str, cipher: TokenCipher) -> None:
        self.url = url
        self.cipher = cipher
        with self._write() as conn:
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
            conn.execute(self.schema)

    @contextmanager
    def _write(self) -> Iterator[psycopg.Connection]:
        try:
            with psycopg.connect(self.url, connect_timeout=_CONNECT_SECONDS) as conn:
                yield conn
        except psycopg.Error as exc:
            raise StoreUnavailable(f"PostgreSQL token store: {type(exc).__name__}: {exc}") from exc

    _read = _write
