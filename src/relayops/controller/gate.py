"""The send path's rollout gate: is this send on the new path for one provider?

The percentage lives in Redis (`RolloutKeys(provider).percent`), written by the controller. The
gate decides from a local copy, so a send costs one SHA-256 and no network round trip, and
reads the key again once the copy is `cache_seconds` old.

Failing closed has a bound that does not depend on the Redis client's own timeouts or retries:

- a read runs in its own thread and is abandoned after `read_deadline`; the decision that
  started it waits at most that long, every other decision goes on without waiting;
- a value is used for at most `cache_seconds + read_deadline` after its read *started*; past
  that every thread decides closed (0%) until a read succeeds;
- a read that fails (Redis error, no answer within the deadline, a value that is not a number
  with at most two decimals in [0, 100]) closes the gate at once until the next read,
  `cache_seconds` after the failed one started, counts once on the gate-fail-closed counter and
  logs a warning.

So after Redis dies or stops answering, no decision allows for longer than `open_window`
(`cache_seconds + read_deadline`, 1.25 s with the defaults), and no caller blocks for longer
than `read_deadline`. A missing key is 0% and not a failure: the controller has not started the
rollout. `gate_client` builds the client to give it: one attempt per command, timeouts at the
deadline (redis-py's default retries ten times with backoff, about 5 s on a dead server).
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import redis
from prometheus_client import CollectorRegistry, Counter
from redis.backoff import NoBackoff
from redis.retry import Retry

from relayops.controller.bucketing import Bucketer, basis_points
from relayops.controller.keys import RolloutKeys
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


CACHE_SECONDS = 1.0
READ_DEADLINE = 0.25


def gate_client(url: str, read_deadline: float = READ_DEADLINE) -> redis.Redis:
    """A Redis client for a gate: one attempt per command, connect and read timeouts at the
    deadline, no health-check round trips."""
    return redis.Redis.from_url(
        url,
        socket_timeout=read_deadline,
        socket_connect_timeout=read_deadline,
        retry=Retry(NoBackoff(), 0),
        health_check_interval=0,
    )


@dataclass
class _Read:
    """One GET of the key, run in its own thread."""

    started: float
    finished: bool = False
    abandoned: bool = False
    done: threading.Event = field(default_factory=threading.Event)


@dataclass(frozen=True)
class _Copy:
    """The local copy of the percentage, replaced as a whole so a decision never sees half."""

    points: int
    read_again_at: float  # the first decision from then on starts a read
    usable_until: float  # from then on every decision is closed until a read succeeds


_NO_COPY = _Copy(points=0, read_again_at=float("-inf"), usable_until=float("-inf"))


class Gate:
    """Rollout decisions for one provider, from a local copy of the percentage.

    Safe to share between threads. See the module docstring for the bounds on failing closed.
    """

    max_blocked_reads = 2  # abandoned reads still blocked in the client before reads stop

    def __init__(
        self,
        specs: SpecSet,
        provider: str,
        client: KeyReader | redis.Redis,
        *,
        clock: Callable[[], float] = time.monotonic,
        cache_seconds: float = CACHE_SECONDS,
        read_deadline: float = READ_DEADLINE,
        registry: CollectorRegistry | None = None,
    ) -> None:
        if cache_seconds < 0 or read_deadline <= 0:
            raise ValueError(
                f"cache_seconds={cache_seconds} and read_deadline={read_deadline}: "
                "cache_seconds must be >= 0 and read_deadline > 0"
            )
        spec = specs.provider(provider)
        self.provider = provider
        self.key = RolloutKeys(spec.name).percent
        self._client = client
        self._clock = clock
        self.cache_seconds = cache_seconds
        self.read_deadline = read_deadline
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
        self._copy = _NO_COPY
        self._lock = threading.Lock()
        self._in_flight: _Read | None = None
        self._blocked = 0

    @property
    def open_window(self) -> float:
        """Longest time a decision can allow after Redis stopped answering, in seconds."""
        return self.cache_seconds + self.read_deadline

    @classmethod
    def from_url(
        cls,
        specs: SpecSet,
        provider: str,
        url: str,
        *,
        cache_seconds: float = CACHE_SECONDS,
        read_deadline: float = READ_DEADLINE,
        registry: CollectorRegistry | None = None,
    ) -> Gate:
        """A gate reading `url` through `gate_client`."""
        return cls(
            specs,
            provider,
            gate_client(url, read_deadline),
            cache_seconds=cache_seconds,
            read_deadline=read_deadline,
            registry=registry,
        )

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
        copy = self._copy
        now = self._clock()
        if now < copy.read_again_at:
            return copy.points
        read = self._begin_read(now)
        if read is not None and not read.done.wait(self.read_deadline):
            self._abandon(read)
        copy = self._copy
        return copy.points if self._clock() < copy.usable_until else 0

    def _begin_read(self, now: float) -> _Read | None:
        """Start a read unless one is in flight or too many are blocked; None if not started."""
        with self._lock:
            if self._in_flight is not None or now < self._copy.read_again_at:
                return None
            if self._blocked >= self.max_blocked_reads:
                return None
            read = self._in_flight = _Read(started=now)
        threading.Thread(target=self._run, args=(read,), daemon=True, name="gate-read").start()
        return read

    def _run(self, read: _Read) -> None:
        try:
            points, failure = parse_percent(self._client.get(self.key)), None
        except (redis.RedisError, OSError) as exc:
            points, failure = 0, f"Redis error {type(exc).__name__}: {exc}"
        except UnreadablePercent as exc:
            points, failure = 0, f"bad value {exc}"
        with self._lock:
            read.finished = True
            if read.abandoned:
                self._blocked -= 1
                return
            self._in_flight = None
            if failure is None:
                self._keep(read, points)
            else:
                self._close(read, failure)
        read.done.set()

    def _abandon(self, read: _Read) -> None:
        with self._lock:
            if read.finished:
                return
            read.abandoned = True
            self._in_flight = None
            self._blocked += 1
            blocked = self._blocked
            self._close(read, f"no answer within the {self.read_deadline} s read deadline")
        if blocked >= self.max_blocked_reads:
            log.warning(
                "rollout gate %s: %d reads of %s are still blocked in the Redis client; no new "
                "read until one returns (build the client with gate_client for socket timeouts)",
                self.provider,
                blocked,
                self.key,
            )

    def _keep(self, read: _Read, points: int) -> None:
        """A good read (called holding the lock)."""
        again = read.started + self.cache_seconds
        self._copy = _Copy(points, again, again + self.read_deadline)

    def _close(self, read: _Read, reason: str) -> None:
        """A failed read (called holding the lock): closed until the next read."""
        self._copy = _Copy(0, read.started + self.cache_seconds, float("-inf"))
        self._fail_closed.inc()
        log.warning(
            "rollout gate %s: cannot read %s (%s); failing closed at 0%%",
            self.provider,
            self.key,
            reason,
        )
