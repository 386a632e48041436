"""The refresh lock, renewed while its holder works.

A lock that expires while the holder still waits for the token endpoint lets a second worker
refresh with the refresh token the first has just spent: with a rotating provider that ends in
invalid_grant and a spurious "reconnect". So the holder extends the lock every third of its
time to live; if the holder dies, the renewals stop and the lock expires within that time.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress

import redis
from redis.exceptions import LockError

log = logging.getLogger(__name__)


@contextmanager
def renewed(lock: redis.lock.Lock, seconds: float) -> Iterator[None]:
    """Hold an acquired `lock` for the block, extending it to `seconds` every `seconds / 3`;
    released at the end (unless it was lost meanwhile)."""
    done = threading.Event()

    def renew() -> None:
        while not done.wait(seconds / 3):
            try:
                lock.extend(seconds, replace_ttl=True)
            except LockError as exc:
                log.error("refresh lock %s lost while held: %s", lock.name, exc)
                return
            except redis.RedisError as exc:
                log.warning("refresh lock %s not renewed: %s", lock.name, exc)

    renewer = threading.Thread(target=renew, daemon=True, name="oauth-lock-renewal")
    renewer.start()
    try:
        yield
    finally:
        done.set()
        renewer.join()
        with suppress(LockError, redis.RedisError):  # lost or unreachable: it expires
            lock.release()
