"""The token store contract: a Credential and the TokenStore protocol both backends implement.

Tokens are stored only as Fernet ciphertext. `version` starts at 1 and goes up on every write,
so `replace_if_version` is a compare-and-set: a rotated refresh token is written only over the
row it was refreshed from.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal, NamedTuple, Protocol

from relayops.oauth.cipher import TokenCipher


class StoreUnavailable(RuntimeError):
    """The store's database could not be reached, read or written (e.g. PostgreSQL down)."""


Provider = Literal["google", "microsoft"]
PROVIDERS: tuple[Provider, ...] = ("google", "microsoft")


@dataclass(frozen=True)
class Credential:
    credential_id: str
    provider: Provider
    access_token: str = field(repr=False)
    refresh_token: str = field(repr=False)
    expires_at: datetime  # aware, UTC
    scope: str
    version: int = 1

    def __post_init__(self) -> None:
        if self.provider not in PROVIDERS:
            raise ValueError(f"unknown provider {self.provider!r}; expected one of {PROVIDERS}")
        if self.expires_at.tzinfo is None:
            raise ValueError("expires_at must be timezone-aware")


class TokenStore(Protocol):
    cipher: TokenCipher

    def get(self, credential_id: str) -> Credential | None: ...

    def put(self, credential: Credential) -> Credential:
        """Insert (version 1) or replace (version + 1); returns what was stored."""
        ...

    def replace_if_version(self, credential: Credential, expected_version: int) -> bool:
        """Write `credential` only if the stored version is `expected_version`; bumps it."""
        ...

    def delete(self, credential_id: str) -> bool: ...

    def ids(self) -> list[str]: ...

    def rotate_key(self) -> int:
        """Re-encrypt every row under the newest key in one transaction; rows rewritten."""
        ...


class SealedRow(NamedTuple):
    """A credential as stored: tokens encrypted, expiry as a UTC datetime."""

    credential_id: str
    provider: str
    access_token: str
    refresh_token: str
    expires_at: datetime
    scope: str
    version: int


def seal(cipher: TokenCipher, credential: Credential, version: int) -> SealedRow:
    return SealedRow(
        credential.credential_id,
        credential.provider,
        cipher.encrypt(credential.access_token),
        cipher.encrypt(credential.refresh_token),
        credential.expires_at.astimezone(UTC),
        credential.scope,
        version,
    )


def unseal(cipher: TokenCipher, row: SealedRow) -> Credential:
    return Credential(
        credential_id=row.credential_id,
        provider=row.provider,  # type: ignore[arg-type]  # checked in __post_init__
        access_token=cipher.decrypt(row.access_token),
        refresh_token=cipher.decrypt(row.refresh_token),
        expires_at=row.expires_at.astimezone(UTC),
        scope=row.scope,
        version=row.version,
    )
