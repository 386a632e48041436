"""The send path's rollout gate: is this send on the new path for one provider?

The percentage lives in Redis (`RolloutKeys(provider).percent`), written by the controller. The
gate reads it at most once per `cache_seconds` and decides from a local cache in between, so a
send costs one SHA-256 and no network round trip. An unreadable percentage (Redis down, a
value that is not a number with at most two decimals in [0, 100]) fails closed: 0% until the
next read, one count on the gate-fail-closed counter per failed read, and a warning. A missing
key is 0% and not a failure: the controller has not started the rollout.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable
from typing import Protocol

import redis
from prometheus_client import CollectorRegistry, Counter

from controller.bucketing import Bucketer, basis_points
from controller.keys import RolloutKeys
from relayops.spec import SpecSet
from relayops.spec.metrics import Role
from relayops.spec.rollout import BASIS_POINTS

log = logging.getLogger(__name__)

_DECIMAL = re.compile(r"\d{1,3}(?:\.\d{1,2})?", re.ASCII)
_SHOWN = 64  # characters of a bad value quoted in the log


class KeyReader(Protocol):
    """What the gate needs of a Redis client (redis.Redis satisfies it)."""

    def get(self, name: str) -> object: ...


class UnreadablePercent(ValueError):
    """The stored percentage is not a number with at most two decimals in [0, 100]."""


def parse_percent(raw: object) -> int:
    """Basis points of a stored value (bytes or str, e.g. b"25", "2.5"); None is 0."""
    if raw is None:
        return 0
    text = raw.decode("ascii", errors="replace") if isinstance(raw, bytes) else raw
    shown = repr(raw)[:_SHOWN]
    if not isinstance(text, str) or not _DECIMAL.fullmatch(text):
        raise UnreadablePercent(f"{shown} is not a decimal with at most two decimals")
    try:
        return basis_points(float(text))
    except ValueError as exc:
        raise UnreadablePercent(f"{shown}: {exc}") from exc


class Gate:
    """Rollout decisions for one provider, from a cached percentage.

    Give the Redis client short socket timeouts: a read blocks the one send that triggers it.
    Safe to share between threads; only one thread reads Redis at a time, the others keep
    deciding from the previous value meanwhile.
    """

    def __init__(
        self,
        specs: SpecSet,
        provider: str,
        client: KeyReader | redis.Redis,
        *,
        clock: Callable[[], float] = time.monotonic,
        cache_seconds: float = 1.0,
        registry: CollectorRegistry | None = None,
    ) -> None:
        spec = specs.provider(provider)
        self.provider = provider
        self.key = RolloutKeys(spec.name).percent
        self._client = client
        self._clock = clock
        self._cache_seconds = cache_seconds
        self._bucket = Bucketer(spec.rollout.salt)
        self._by_actor = spec.rollout.bucketing_unit == "actor"
        metric = specs.metric(Role.GATE_FAIL_CLOSED)
        counter = Counter(
            metric.name,
            metric.help,
            labelnames=metric.labels,
            registry=CollectorRegistry() if registry is None else registry,
        )
        self._fail_closed = counter.labels(provider=spec.provider)
        self._points = 0
        self._expires = float("-inf")
        self._reading = threading.Lock()

    def allows(self, workspace_id: str, actor_id: str) -> bool:
        """Whether this send takes the new path (unit per the spec's `bucketing_unit`)."""
        points = self._current()
        if points <= 0:
            return False
        if points >= BASIS_POINTS:
            return True
        return self._bucket(actor_id if self._by_actor else workspace_id) < points

    def percent(self) -> float:
        """The percentage the gate applies now (0 while failing closed)."""
        return self._current() / (BASIS_POINTS // 100)

    def _current(self) -> int:
        now = self._clock()
        if now >= self._expires and self._reading.acquire(blocking=False):
            try:
                self._points = self._read()
                self._expires = now + self._cache_seconds
            finally:
                self._reading.release()
        return self._points

    def _read(self) -> int:
        try:
            return parse_percent(self._client.get(self.key))
        except (redis.RedisError, OSError) as exc:
            reason = f"Redis error {type(exc).__name__}: {exc}"
        except UnreadablePercent as exc:
            reason = f"bad value {exc}"
        self._fail_closed.inc()
        log.warning(
            "rollout gate %s: cannot read %s (%s); failing closed at 0%%",
            self.provider,
            self.key,
            reason,
        )
        return 0
