"""TokenStore on a SQLite file (stdlib sqlite3, WAL): one connection per operation, so one
store can be shared by threads and several processes can use the same file."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from datetime import datetime
from pathlib import Path

from relayops.oauth.cipher import TokenCipher
from relayops.oauth.sql_store import SqlTokenStore
from relayops.oauth.store import SealedRow, StoreUnavailable

_BUSY_SECONDS = 30.0


@contextmanager
def _unavailable() -> Iterator[None]:
    try:
        yield
    except sqlite3.Error as exc:
        raise StoreUnavailable(f"SQLite token store: {type(exc).__name__}: {exc}") from exc


class SqliteTokenStore(SqlTokenStore):
    def __init__(self, path: Path, cipher: TokenCipher) -> None:
        self.path = Path(path)
        self.cipher = cipher
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if not self.path.exists():
            self.path.touch(mode=0o600)  # ciphertext only, but no reason to share it
        with closing(self._connect()) as conn:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(self.schema)

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=_BUSY_SECONDS, isolation_level=None)

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """A transaction that holds the write lock from its start (no upgrade deadlocks)."""
        with _unavailable(), closing(self._connect()) as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        with _unavailable(), closing(self._connect()) as conn:
            yield conn

    def _to_db(self, row: SealedRow) -> tuple:
        return (*row[:4], row.expires_at.isoformat(), *row[5:])

    def _from_db(self, values: tuple) -> SealedRow:
        return SealedRow(*values[:4], datetime.fromisoformat(values[4]), *values[5:])
