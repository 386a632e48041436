"""The TokenStore operations both SQL backends share; each backend says how to connect, how a
write transaction starts, and how it stores a timestamp.

Statements are written with `?` placeholders and `{lock}` where a read inside a write
transaction must lock the rows it read (PostgreSQL's FOR UPDATE; SQLite's BEGIN IMMEDIATE
already holds the write lock).
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import replace
from typing import Any, Protocol

from relayops.oauth.cipher import TokenCipher
from relayops.oauth.store import Credential, SealedRow, seal, unseal

COLUMNS = "credential_id, provider, access_token_enc, refresh_token_enc, expires_at, scope, version"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS oauth_credentials (
    credential_id TEXT PRIMARY KEY,
    provider TEXT NOT NULL CHECK (provider IN ('google', 'microsoft')),
    access_token_enc TEXT NOT NULL,
    refresh_token_enc TEXT NOT NULL,
    expires_at {timestamp} NOT NULL,
    scope TEXT NOT NULL,
    version INTEGER NOT NULL
)
"""


class Cursor(Protocol):
    rowcount: int

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...


class Connection(Protocol):
    def execute(self, sql: Any, params: Any = ...) -> Cursor: ...


class SqlTokenStore:
    """Subclasses set `placeholder`, `row_lock` and `timestamp_type` and implement the four
    hooks below."""

    placeholder = "?"
    row_lock = ""
    timestamp_type = "TEXT"
    cipher: TokenCipher

    @property
    def schema(self) -> str:
        """CREATE TABLE for the credentials table, the same columns on every backend."""
        return _SCHEMA.format(timestamp=self.timestamp_type)

    def _read(self) -> AbstractContextManager[Connection]:
        raise NotImplementedError

    def _write(self) -> AbstractContextManager[Connection]:
        """A transaction: committed when the block ends, rolled back if it raises."""
        raise NotImplementedError

    def _to_db(self, row: SealedRow) -> tuple:
        return tuple(row)

    def _from_db(self, values: tuple) -> SealedRow:
        return SealedRow(*values)

    def _sql(self, statement: str) -> str:
        return statement.replace("?", self.placeholder).format(lock=self.row_lock)

    def get(self, credential_id: str) -> Credential | None:
        with self._read() as conn:
            found = conn.execute(
                self._sql(f"SELECT {COLUMNS} FROM oauth_credentials WHERE credential_id = ?"),
                (credential_id,),
            ).fetchone()
        return None if found is None else unseal(self.cipher, self._from_db(tuple(found)))

    def put(self, credential: Credential) -> Credential:
        with self._write() as conn:
            found = conn.execute(
                self._sql("SELECT version FROM oauth_credentials WHERE credential_id = ?{lock}"),
                (credential.credential_id,),
            ).fetchone()
            version = 1 if found is None else found[0] + 1
            row = self._to_db(seal(self.cipher, credential, version))
            if found is None:
                conn.execute(
                    self._sql(
                        f"INSERT INTO oauth_credentials ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)"
                    ),
                    row,
                )
            else:
                conn.execute(self._sql(_UPDATE + " WHERE credential_id = ?"), (*row[1:], row[0]))
        return replace(credential, version=version)

    def replace_if_version(self, credential: Credential, expected_version: int) -> bool:
        row = self._to_db(seal(self.cipher, credential, expected_version + 1))
        with self._write() as conn:
            cursor = conn.execute(
                self._sql(_UPDATE + " WHERE credential_id = ? AND version = ?"),
                (*row[1:], row[0], expected_version),
            )
            return cursor.rowcount == 1

    def delete(self, credential_id: str) -> bool:
        with self._write() as conn:
            cursor = conn.execute(
                self._sql("DELETE FROM oauth_credentials WHERE credential_id = ?"),
                (credential_id,),
            )
            return cursor.rowcount == 1

    def ids(self) -> list[str]:
        with self._read() as conn:
            rows = conn.execute(
                "SELECT credential_id FROM oauth_credentials ORDER BY credential_id"
            ).fetchall()
        return [row[0] for row in rows]

    def rotate_key(self) -> int:
        with self._write() as conn:
            rows = conn.execute(
                self._sql(
                    "SELECT credential_id, access_token_enc, refresh_token_enc "
                    "FROM oauth_credentials{lock}"
                )
            ).fetchall()
            for credential_id, access, refresh in rows:
                conn.execute(
                    self._sql(
                        "UPDATE oauth_credentials SET access_token_enc = ?, "
                        "refresh_token_enc = ? WHERE credential_id = ?"
                    ),
                    (self.cipher.rotate(access), self.cipher.rotate(refresh), credential_id),
                )
        return len(rows)


_UPDATE = (
    "UPDATE oauth_credentials SET provider = ?, access_token_enc = ?, refresh_token_enc = ?, "
    "expires_at = ?, scope = ?, version = ?"
)
