"""The recovery slot: a refreshed credential made durable in Redis the moment the token
endpoint answers, before the store write that can fail.

A provider that rotates refresh tokens has spent the old one once it answers; if the holder then
dies, or the store is down, the new one must not be lost with it. The slot holds the refreshed
credential, encrypted like the cache, with the store version it replaces; the next refresh of
the credential, or the holder itself once the store is back, writes it to the store with a
compare-and-set and clears the slot.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import replace
from datetime import datetime

import redis

from relayops.oauth.cipher import DecryptError, TokenCipher
from relayops.oauth.store import Credential

RECOVERY_KEY = "relayops:oauth:recovery:{credential_id}"
RECOVERY_SECONDS = 90 * 24 * 3600  # as long as a refresh token lives (Microsoft's default)
SAVE_ATTEMPTS = 3
_CLEAR_IF_SAME = (
    "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0"
)

log = logging.getLogger(__name__)


class RecoverySlot:
    def __init__(self, client: redis.Redis, cipher: TokenCipher) -> None:
        self.client = client
        self.cipher = cipher

    @staticmethod
    def key(credential_id: str) -> str:
        return RECOVERY_KEY.format(credential_id=credential_id)

    def save(self, credential: Credential) -> str | None:
        """Keep `credential` (whose `version` is the stored version it replaces); the sealed
        value, for `clear`, or None when Redis refused every attempt."""
        sealed = self.cipher.encrypt(
            json.dumps(
                {
                    "provider": credential.provider,
                    "access_token": credential.access_token,
                    "refresh_token": credential.refresh_token,
                    "expires_at": credential.expires_at.isoformat(),
                    "scope": credential.scope,
                    "version": credential.version,
                }
            )
        )
        for attempt in range(SAVE_ATTEMPTS):
            try:
                self.client.set(self.key(credential.credential_id), sealed, ex=RECOVERY_SECONDS)
                return sealed
            except redis.RedisError as exc:
                log.warning(
                    "recovery slot of %s not written (attempt %d): %s",
                    credential.credential_id,
                    attempt + 1,
                    exc,
                )
                if attempt + 1 < SAVE_ATTEMPTS:
                    time.sleep(0.1 * 2**attempt)
        return None

    def load(self, credential_id: str) -> tuple[Credential, str] | None:
        """The credential waiting in the slot and its sealed value, or None. A slot that does
        not decrypt or parse is reported and ignored (it cannot be used either way)."""
        sealed = self.client.get(self.key(credential_id))
        if sealed is None:
            return None
        text = sealed.decode("ascii", errors="replace")
        try:
            entry = json.loads(self.cipher.decrypt(text))
            credential = Credential(
                credential_id=credential_id,
                provider=entry["provider"],
                access_token=entry["access_token"],
                refresh_token=entry["refresh_token"],
                expires_at=datetime.fromisoformat(entry["expires_at"]),
                scope=entry["scope"],
                version=int(entry["version"]),
            )
        except (DecryptError, ValueError, KeyError, TypeError) as exc:
            log.error("recovery slot of %s cannot be read and is ignored: %s", credential_id, exc)
            return None
        return credential, text

    def clear(self, credential_id: str, sealed: str) -> None:
        """Remove the slot if it still holds `sealed` (a newer refresh may have replaced it)."""
        self.client.eval(_CLEAR_IF_SAME, 1, self.key(credential_id), sealed)


def stored_form(credential: Credential) -> Credential:
    """The credential as the store holds it after the slot is written: one version up."""
    return replace(credential, version=credential.version + 1)
