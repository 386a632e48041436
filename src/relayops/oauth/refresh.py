"""Valid access tokens for the send adapters, refreshed single-flight across processes, and
never a rotated refresh token lost.

A refresh runs in a thread of its own holding a Redis lock per credential (renewed while it
works: `relayops.oauth.lease`), then re-reads the store: if another worker refreshed meanwhile
its token is reused, so the provider sees one refresh per expiry. This matters for Microsoft,
whose refresh tokens rotate. The moment the endpoint answers, the refreshed credential goes to
the recovery slot (`relayops.oauth.recovery`) before the store write, which is retried; a
holder that dies after the answer, or a store that is down, leaves the new refresh token in the
slot, and the next refresh of the credential writes it to the store instead of spending the old
one. A caller waits at most `wait_seconds`; a slower refresh goes on in its thread and its
result serves the next call. The Redis cache and the slot hold only ciphertext.

What no client can recover: a holder killed while its request is at the endpoint, or an
endpoint that answers after its deadline (`relayops.oauth.providers.ANSWER_SECONDS`, 60 s). Google
keeps the refresh token and Microsoft's documentation says it does not revoke a used one, so
the next refresh uses the old token; an endpoint that revokes used refresh tokens (as the fake
does by default, the stricter case) then asks for a reconnect.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Literal

import redis

from relayops.oauth.cipher import DecryptError
from relayops.oauth.lease import renewed
from relayops.oauth.providers import InvalidGrant, TokenEndpoint, TokenEndpointError
from relayops.oauth.recovery import RecoverySlot, stored_form
from relayops.oauth.store import Credential, StoreUnavailable, TokenStore
from relayops.oauth.token_error import TokenError

RefreshResult = Literal["success", "failure"]
LOCK_KEY = "relayops:oauth:lock:{credential_id}"
CACHE_KEY = "relayops:oauth:token:{credential_id}"

log = logging.getLogger(__name__)


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


STORE_WRITE_SECONDS = 15.0
LOCK_SECONDS = 15.0


@dataclass
class _Flight:
    """One refresh of one credential in this process, which callers join."""

    done: threading.Event = field(default_factory=threading.Event)
    result: Credential | None = None
    error: BaseException | None = None


class TokenManager:
    def __init__(
        self,
        store: TokenStore,
        endpoints: Mapping[str, TokenEndpoint],
        redis_client: redis.Redis,
        *,
        skew_seconds: float = 300,
        wait_seconds: float = 10.0,
        lock_timeout: float = LOCK_SECONDS,
        lock_wait: float | None = None,
        store_write_seconds: float = STORE_WRITE_SECONDS,
        clock: Callable[[], datetime] = _utcnow,
        on_refresh: Callable[[RefreshResult], None] | None = None,
    ) -> None:
        """`wait_seconds` is how long a caller waits for a refresh (it goes on afterwards).
        `lock_timeout` bounds how long a dead holder blocks the others; a live holder renews
        the lock for as long as it works, however slow the endpoint or the store. `lock_wait`
        is how long a refresh waits for another worker's (by default past a dead holder's
        lock). `store_write_seconds` is how long a refreshed credential's store write is
        retried before it is left in the recovery slot."""
        self.lock_timeout = lock_timeout
        self.store = store
        self.endpoints = endpoints
        self.redis = redis_client
        self.skew = timedelta(seconds=skew_seconds)
        self.wait_seconds = wait_seconds
        self.lock_wait = lock_timeout + 5.0 if lock_wait is None else lock_wait
        self.store_write_seconds = store_write_seconds
        self.clock = clock
        self.on_refresh = on_refresh or (lambda result: None)
        self.recovery = RecoverySlot(redis_client, store.cipher)
        self._flights: dict[str, _Flight] = {}
        self._flights_lock = threading.Lock()
        self._unsaved: set[str] = set()  # credentials whose refresh waits in the slot

    def access_token(self, credential_id: str) -> str:
        """A token valid for at least `skew_seconds`, refreshed if needed."""
        cached = self._cached(credential_id)
        if cached is not None:
            if credential_id in self._unsaved:
                self._save_from_slot(credential_id)
            return cached
        try:
            credential = self._get(credential_id)
        except RefreshFailed:  # store unreachable: the recovery slot may still hold the newest
            return self._refresh(credential_id, self._stale).access_token
        if self._fresh(credential):
            self._cache(credential)
            return credential.access_token
        return self._refresh(credential_id, self._stale).access_token

    def force_refresh(self, credential_id: str, stale_token: str) -> str:
        """After a provider 401 on `stale_token`: refresh once, unless the stored token has
        already changed (another caller refreshed), then return that one."""
        return self._refresh(
            credential_id,
            lambda stored: stored.access_token == stale_token or not self._fresh(stored),
        ).access_token

    def _fresh(self, credential: Credential) -> bool:
        return credential.expires_at - self.clock() > self.skew

    def _stale(self, credential: Credential) -> bool:
        return not self._fresh(credential)

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
        """Join this process's refresh of the credential, or start one; wait `wait_seconds`.
        A joined refresh whose result this caller still finds stale is followed by one more."""
        for _ in range(2):
            with self._flights_lock:
                flight = self._flights.get(credential_id)
                if flight is None:
                    flight = self._flights[credential_id] = _Flight()
                    threading.Thread(
                        target=self._fly,
                        args=(flight, credential_id, needed),
                        daemon=True,
                        name=f"oauth-refresh-{credential_id}",
                    ).start()
            if not flight.done.wait(self.wait_seconds):
                raise RefreshFailed(
                    f"the refresh of {credential_id!r} is taking longer than "
                    f"{self.wait_seconds:g} s; it goes on and its token serves the next call"
                )
            if flight.error is not None:
                raise flight.error
            assert flight.result is not None
            if not needed(flight.result):
                return flight.result
        return flight.result

    def _fly(self, flight: _Flight, credential_id: str, needed: Callable) -> None:
        try:
            flight.result = self._refresh_locked(credential_id, needed)
        except BaseException as exc:  # handed to every caller waiting on the flight
            flight.error = exc
        finally:
            with self._flights_lock:
                self._flights.pop(credential_id, None)
            flight.done.set()

    def _refresh_locked(self, credential_id: str, needed: Callable) -> Credential:
        lock = self.redis.lock(
            LOCK_KEY.format(credential_id=credential_id),
            timeout=self.lock_timeout,
            blocking_timeout=self.lock_wait,
            thread_local=False,  # the renewal thread extends it with the holder's token
        )
        try:
            acquired = lock.acquire()
        except redis.RedisError as exc:
            raise RefreshFailed(f"refresh lock for {credential_id!r} unavailable: {exc}") from None
        if not acquired:
            raise RefreshFailed(
                f"waited {self.lock_wait:g} s for another worker's refresh of {credential_id!r}"
            )
        with renewed(lock, self.lock_timeout):
            credential = self._current(credential_id)  # someone may have refreshed
            if not needed(credential):
                self._cache(credential)
                return credential
            refreshed = self._call_endpoint(credential)
            kept = self._keep(refreshed)
            self._cache(refreshed)
            return stored_form(refreshed) if kept else refreshed

    def _current(self, credential_id: str) -> Credential:
        """The newest credential: the recovery slot's when it replaces the stored version
        (written to the store on the way, if the store takes it), else the stored one. With
        the store unreachable, the slot alone, when there is one."""
        try:
            found = self.recovery.load(credential_id)
        except redis.RedisError as exc:
            raise RefreshFailed(f"recovery slot of {credential_id!r} unreadable: {exc}") from None
        try:
            stored = self._get(credential_id)
        except RefreshFailed:
            if found is None:
                raise
            return found[0]
        if found is None:
            return stored
        waiting, sealed = found
        if waiting.version != stored.version:  # written already, or superseded by a setup
            self.recovery.clear(credential_id, sealed)
            return stored
        return stored_form(waiting) if self._store(waiting, sealed) else waiting

    def _keep(self, refreshed: Credential) -> bool:
        """Make the refreshed credential durable: the recovery slot first, then the store;
        whether the store took it."""
        sealed = self.recovery.save(refreshed)
        if sealed is None:
            log.error(
                "credential %s: refreshed but the recovery slot could not be written; the "
                "store write is all that keeps the new refresh token",
                refreshed.credential_id,
            )
        return self._store(refreshed, sealed)

    def _store(
        self, refreshed: Credential, sealed: str | None, retry_for: float | None = None
    ) -> bool:
        """Write the refreshed credential over the version it replaces, retrying for
        `retry_for` seconds (`store_write_seconds` by default; 0: one attempt); False, the
        credential left in the slot (and retried by the next call), when the store stays
        unreachable."""
        credential_id = refreshed.credential_id
        budget = self.store_write_seconds if retry_for is None else retry_for
        deadline = time.monotonic() + budget
        pause = 0.1
        while True:
            try:
                written = self.store.replace_if_version(refreshed, refreshed.version)
                break
            except StoreUnavailable as exc:
                if time.monotonic() + pause > deadline:
                    self._unsaved.add(credential_id)
                    log.error(
                        "credential %s was refreshed but the store is unreachable (%s); the new "
                        "refresh token waits in the recovery slot",
                        credential_id,
                        exc,
                    )
                    return False
                time.sleep(pause)
                pause *= 2
        self._unsaved.discard(credential_id)
        if sealed is not None:
            self.recovery.clear(credential_id, sealed)
        if not written:
            raise RefreshFailed(
                f"credential {credential_id!r} changed during its refresh (set up again?)"
            )
        return True

    def _save_from_slot(self, credential_id: str) -> None:
        """A refresh of this process waits in the slot: one more try at the store. One, not
        the retry loop: this runs on the caller's path, which a cached token keeps quick."""
        try:
            found = self.recovery.load(credential_id)
            if found is None:
                self._unsaved.discard(credential_id)
                return
            self._store(*found, retry_for=0)
        except (redis.RedisError, RefreshFailed) as exc:
            log.warning("credential %s: refreshed token not yet stored: %s", credential_id, exc)

    def _call_endpoint(self, credential: Credential) -> Credential:
        endpoint = self.endpoints.get(credential.provider)
        if endpoint is None:
            raise RefreshFailed(f"no token endpoint configured for {credential.provider}")
        try:
            answer = endpoint.refresh(credential.refresh_token, credential.scope)
        except InvalidGrant:
            self.on_refresh("failure")
            newer = self._refreshed_by_another(credential)
            if newer is not None:
                return newer
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

    def _refreshed_by_another(self, spent: Credential) -> Credential | None:
        """After invalid_grant: a newer refresh token stored or waiting in the slot means
        another worker refreshed meanwhile (say a lock lost to a stalled holder), not that the
        grant was revoked."""
        try:
            current = self._current(spent.credential_id)
        except TokenError:
            return None
        return None if current.refresh_token == spent.refresh_token else current

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
    """relayops.adapters.transport.TokenSource for one credential: `refresh()` after a 401
    replaces the token last handed out."""

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
