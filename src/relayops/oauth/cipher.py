"""Token encryption: MultiFernet over the configured keys (the first encrypts)."""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from typing import TextIO

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from relayops.oauth.keys import load_keys


class DecryptError(RuntimeError):
    """Ciphertext that none of the configured keys opens (wrong or retired key)."""


class TokenCipher:
    def __init__(self, keys: Sequence[bytes | str]) -> None:
        if not keys:
            raise ValueError("at least one key is needed")
        self._fernet = MultiFernet([Fernet(key) for key in keys])

    @classmethod
    def from_env(cls, env: Mapping[str, str], warn: TextIO = sys.stderr) -> TokenCipher:
        return cls(load_keys(env, warn))

    def __repr__(self) -> str:
        return "TokenCipher(<keys hidden>)"

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode("ascii")

    def decrypt(self, ciphertext: str | bytes) -> str:
        try:
            return self._fernet.decrypt(ciphertext).decode()
        except InvalidToken:
            raise DecryptError(
                "a stored token does not decrypt with any configured key "
                "(was a retired key removed before `relayops oauth rotate-key`?)"
            ) from None

    def rotate(self, ciphertext: str) -> str:
        """The same plaintext encrypted under the newest key."""
        try:
            return self._fernet.rotate(ciphertext.encode("ascii")).decode("ascii")
        except InvalidToken:
            raise DecryptError("a stored token does not decrypt with any configured key") from None
