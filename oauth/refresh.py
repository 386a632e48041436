"""Valid access tokens for the send adapters, refreshed single-flight across processes.

A refresh takes a Redis lock per credential, then re-reads the store: if another worker
refreshed meanwhile its token is reused, so the provider sees one refresh per expiry. This
matters for Microsoft, whose refresh tokens rotate: two concurrent refreshes with the same
refresh token end in invalid_grant. The Redis cache holds only ciphertext.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Literal

import redis

from adapters.transport import TokenError
from oauth.cipher import DecryptError
from oauth.providers import InvalidGrant, TokenEndpoint, TokenEndpointError
from oauth.store import Credential, StoreUnavailable, TokenStore

RefreshResult = Literal["success", "failure"]
LOCK_KEY = "relayops:oauth:lock:{credential_id}"
CACHE_KEY = "relayops:oauth:token:{credential_id}"


class CredentialNotFound(TokenError):
    reconnect = True

    def __init__(self, credential_id: str) -> None:
        super().__init__(
            f"no OAuth credential {credential_id!r}; run `relayops oauth setup <provider> "
            f"--credential {credential_id}`"
        )
        self.credential_id = credential_id


class ReconnectRequired(TokenError):
    """The provider answered invalid_grant: only a new consent helps."""

    reconnect = True

    def __init__(self, credential_id: str, provider: str) -> None:
        super().__init__(
            f"OAuth credential {credential_id!r} ({provider}) was revoked or has expired "
            f"(invalid_grant); reconnect it: relayops oauth setup {provider} "
            f"--credential {credential_id}"
        )
        self.credential_id = credential_id
        self.provider = provider


class CredentialUnreadable(TokenError):
    """The stored credential does not decrypt with any configured key: the key it was sealed
    with was removed. Restoring that key, or a new consent, helps; retrying does not."""

    reconnect = True

    def __init__(self, credential_id: str) -> None:
        super().__init__(
            f"OAuth credential {credential_id!r} does not decrypt with any configured key; put "
            "the key it was sealed with back in the key list, or reconnect the mailbox"
        )
        self.credential_id = credential_id


class RefreshFailed(TokenError):
    """A transient refresh failure (endpoint error, timeout, lock not obtained): retry later."""

    reconnect = False


def _utcnow() -> datetime:
    return datetime.now(UTC)


class TokenManager:
    def __init__(
        self,
        store: TokenStore,
        endpoints: Mapping[str, TokenEndpoint],
        redis_client: redis.Redis,
        *,
        skew_seconds: float = 300,
        lock_timeout: float = 30.0,
        lock_wait: float = 40.0,
        clock: Callable[[], datetime] = _utcnow,
        on_refresh: Callable[[RefreshResult], None] | None = None,
    ) -> None:
        """`lock_timeout` bounds how long a crashed holder blocks others (the lock expires);
        `lock_wait` is how long a caller waits for another worker's refresh."""
        self.store = store
        self.endpoints = endpoints
        self.redis = redis_client
        self.skew = timedelta(seconds=skew_seconds)
        self.lock_timeout = lock_timeout
        self.lock_wait = lock_wait
        self.clock = clock
        self.on_refresh = on_refresh or (lambda result: None)

    def access_token(self, credential_id: str) -> str:
        """A token valid for at least `skew_seconds`, refreshed if needed."""
        cached = self._cached(credential_id)
        if cached is not None:
            return cached
        credential = self._get(credential_id)
        if self._fresh(credential):
            self._cache(credential)
            return credential.access_token
        return self._refresh(credential_id, lambda stored: not self._fresh(stored)).access_token

    def force_refresh(self, credential_id: str, stale_token: str) -> str:
        """After a provider 401 on `stale_token`: refresh once, unless the stored token has
        already changed (another caller refreshed), then return that one."""
        return self._refresh(
            credential_id,
            lambda stored: stored.access_token == stale_token or not self._fresh(stored),
        ).access_token

    def _fresh(self, credential: Credential) -> bool:
        return credential.expires_at - self.clock() > self.skew

    def _get(self, credential_id: str) -> Credential:
        try:
            credential = self.store.get(credential_id)
        except DecryptError:
            raise CredentialUnreadable(credential_id) from None
        except StoreUnavailable as exc:
            raise RefreshFailed(f"credential {credential_id!r}: {exc}") from None
        if credential is None:
            raise CredentialNotFound(credential_id)
        return credential

    def _refresh(self, credential_id: str, needed: Callable[[Credential], bool]) -> Credential:
        lock = self.redis.lock(
            LOCK_KEY.format(credential_id=credential_id),
            timeout=self.lock_timeout,
            blocking_timeout=self.lock_wait,
        )
        try:
            acquired = lock.acquire()
        except redis.RedisError as exc:
            raise RefreshFailed(f"refresh lock for {credential_id!r} unavailable: {exc}") from None
        if not acquired:
            raise RefreshFailed(
                f"waited {self.lock_wait:g} s for another worker's refresh of {credential_id!r}"
            )
        try:
            credential = self._get(credential_id)  # re-read: someone may have refreshed
            if not needed(credential):
                self._cache(credential)
                return credential
            refreshed = self._call_endpoint(credential)
            try:
                stored = self.store.replace_if_version(refreshed, credential.version)
            except StoreUnavailable as exc:
                raise RefreshFailed(
                    f"credential {credential_id!r} was refreshed but could not be stored: {exc}"
                ) from None
            if not stored:
                raise RefreshFailed(
                    f"credential {credential_id!r} changed during its refresh (set up again?)"
                )
            refreshed = replace(refreshed, version=credential.version + 1)
            self._cache(refreshed)
            return refreshed
        finally:
            # The lock may have expired under a very slow refresh; nothing to release then.
            with contextlib.suppress(redis.exceptions.LockError):
                lock.release()

    def _call_endpoint(self, credential: Credential) -> Credential:
        endpoint = self.endpoints.get(credential.provider)
        if endpoint is None:
            raise RefreshFailed(f"no token endpoint configured for {credential.provider}")
        try:
            answer = endpoint.refresh(credential.refresh_token, credential.scope)
        except InvalidGrant:
            self.on_refresh("failure")
            raise ReconnectRequired(credential.credential_id, credential.provider) from None
        except TokenEndpointError as exc:
            self.on_refresh("failure")
            raise RefreshFailed(str(exc)) from None
        self.on_refresh("success")
        return replace(
            credential,
            access_token=answer.access_token,
            refresh_token=answer.refresh_token or credential.refresh_token,
            expires_at=self.clock() + timedelta(seconds=answer.expires_in),
            scope=answer.scope or credential.scope,
        )

    def _cached(self, credential_id: str) -> str | None:
        """The cached access token if still fresh; a cache miss on any Redis trouble."""
        try:
            sealed = self.redis.get(CACHE_KEY.format(credential_id=credential_id))
        except redis.RedisError:
            return None
        if sealed is None:
            return None
        try:
            entry = json.loads(self.store.cipher.decrypt(sealed))
            token, expires_at = entry["access_token"], datetime.fromisoformat(entry["expires_at"])
        except (DecryptError, ValueError, KeyError, TypeError):
            return None
        return token if expires_at - self.clock() > self.skew else None

    def _cache(self, credential: Credential) -> None:
        """Cache the encrypted token until `skew` before it expires (not at all if sooner)."""
        ttl = credential.expires_at - self.clock() - self.skew
        if ttl.total_seconds() < 1:
            return
        entry = {
            "access_token": credential.access_token,
            "expires_at": credential.expires_at.isoformat(),
        }
        with contextlib.suppress(redis.RedisError):
            self.redis.set(
                CACHE_KEY.format(credential_id=credential.credential_id),
                self.store.cipher.encrypt(json.dumps(entry)),
                px=int(ttl.total_seconds() * 1000),
            )


class CredentialTokens:
    """adapters.transport.TokenSource for one credential: `refresh()` after a 401 replaces the
    token last handed out."""

    def __init__(self, manager: TokenManager, credential_id: str) -> None:
        self.manager = manager
        self.credential_id = credential_id
        self._last = ""

    def token(self) -> str:
        self._last = self.manager.access_token(self.credential_id)
        return self._last

    def refresh(self) -> str:
        self._last = self.manager.force_refresh(self.credential_id, self._last)
        return self._last
