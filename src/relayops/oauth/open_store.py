"""Choose the token store: PostgreSQL when DATABASE_URL names one, else a SQLite file."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

from relayops.oauth.cipher import TokenCipher
from relayops.oauth.postgres_store import PostgresTokenStore
from relayops.oauth.sqlite_store import SqliteTokenStore
from relayops.oauth.store import TokenStore
from relayops.spec import env as env_names

DATABASE_URL_ENV = env_names.DATABASE_URL
DEFAULT_SQLITE_PATH = Path(".relayops/tokens.sqlite3")
_POSTGRES_SCHEMES = ("postgresql", "postgres")


class StoreConfigError(ValueError):
    """DATABASE_URL names a database the token store does not support."""


def open_store(
    sqlite_path: Path | None,
    env: Mapping[str, str],
    cipher: TokenCipher | None = None,
) -> TokenStore:
    """The configured store, schema created; the cipher comes from the env unless given."""
    url = env.get(DATABASE_URL_ENV, "").strip()
    scheme = urlsplit(url).scheme.lower() if url else ""
    if url and scheme not in _POSTGRES_SCHEMES:
        # Only the scheme is echoed: the URL may carry a password.
        raise StoreConfigError(
            f"{DATABASE_URL_ENV} has scheme {scheme or '(none)'!r}; the token store supports "
            "postgresql:// (or postgres://) URLs, or leave it unset for the SQLite file"
        )
    keys = cipher if cipher is not None else TokenCipher.from_env(env)
    if url:
        return PostgresTokenStore(url, keys)
    return SqliteTokenStore(sqlite_path or DEFAULT_SQLITE_PATH, keys)
