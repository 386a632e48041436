"""TokenStore on a SQLite file (stdlib sqlite3, WAL): one connection per operation, so one
store can be shared by threads and several processes can use the same file."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import replace
from datetime import datetime
from pathlib import Path

from oauth.cipher import TokenCipher
from oauth.store import Credential, SealedRow, seal, unseal

_SCHEMA = """
CREATE TABLE IF NOT EXISTS oauth_credentials (
    credential_id TEXT PRIMARY KEY,
    provider TEXT NOT NULL CHECK (provider IN ('google', 'microsoft')),
    access_token_enc TEXT NOT NULL,
    refresh_token_enc TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    scope TEXT NOT NULL,
    version INTEGER NOT NULL
)
"""
_COLUMNS = (
    "credential_id, provider, access_token_enc, refresh_token_enc, expires_at, scope, version"
)
_BUSY_SECONDS = 30.0


def _row(values: tuple) -> SealedRow:
    return SealedRow(*values[:4], datetime.fromisoformat(values[4]), *values[5:])


def _params(row: SealedRow) -> tuple:
    return (*row[:4], row.expires_at.isoformat(), *row[5:])


class SqliteTokenStore:
    def __init__(self, path: Path, cipher: TokenCipher) -> None:
        self.path = Path(path)
        self.cipher = cipher
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if not self.path.exists():
            self.path.touch(mode=0o600)  # ciphertext only, but no reason to share it
        with closing(self._connect()) as conn:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(_SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=_BUSY_SECONDS, isolation_level=None)

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """A transaction that holds the write lock from its start (no upgrade deadlocks)."""
        with closing(self._connect()) as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def get(self, credential_id: str) -> Credential | None:
        with closing(self._connect()) as conn:
            found = conn.execute(
                f"SELECT {_COLUMNS} FROM oauth_credentials WHERE credential_id = ?",
                (credential_id,),
            ).fetchone()
        return None if found is None else unseal(self.cipher, _row(found))

    def put(self, credential: Credential) -> Credential:
        with self._write() as conn:
            found = conn.execute(
                "SELECT version FROM oauth_credentials WHERE credential_id = ?",
                (credential.credential_id,),
            ).fetchone()
            version = 1 if found is None else found[0] + 1
            conn.execute(
                f"INSERT OR REPLACE INTO oauth_credentials ({_COLUMNS}) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                _params(seal(self.cipher, credential, version)),
            )
        return replace(credential, version=version)

    def replace_if_version(self, credential: Credential, expected_version: int) -> bool:
        row = seal(self.cipher, credential, expected_version + 1)
        with self._write() as conn:
            cursor = conn.execute(
                "UPDATE oauth_credentials SET provider = ?, access_token_enc = ?, "
                "refresh_token_enc = ?, expires_at = ?, scope = ?, version = ? "
                "WHERE credential_id = ? AND version = ?",
                (*_params(row)[1:], row.credential_id, expected_version),
            )
            return cursor.rowcount == 1

    def delete(self, credential_id: str) -> bool:
        with self._write() as conn:
            cursor = conn.execute(
                "DELETE FROM oauth_credentials WHERE credential_id = ?", (credential_id,)
            )
            return cursor.rowcount == 1

    def ids(self) -> list[str]:
        with closing(self._connect()) as conn:
            rows = conn.execute(
                "SELECT credential_id FROM oauth_credentials ORDER BY credential_id"
            ).fetchall()
        return [row[0] for row in rows]

    def rotate_key(self) -> int:
        with self._write() as conn:
            rows = conn.execute(
                "SELECT credential_id, access_token_enc, refresh_token_enc FROM oauth_credentials"
            ).fetchall()
            for credential_id, access, refresh in rows:
                conn.execute(
                    "UPDATE oauth_credentials SET access_token_enc = ?, refresh_token_enc = ? "
                    "WHERE credential_id = ?",
                    (self.cipher.rotate(access), self.cipher.rotate(refresh), credential_id),
                )
        return len(rows)
