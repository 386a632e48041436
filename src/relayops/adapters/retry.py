"""When to try a send again, and how long to wait: a pure policy, tested without a network.

A provider answer is classified into an outcome; only outcomes where the message certainly was
not accepted are retried. An outcome that may have been accepted (a timeout after the request
was sent, a 504, a Graph 202 carrying Retry-After) is never retried blindly: the caller gets
the ambiguous error and looks for the message before any resend.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from enum import StrEnum

RATE_LIMIT_REASONS = frozenset({"rateLimitExceeded", "userRateLimitExceeded"})


class Outcome(StrEnum):
    SENT = "sent"
    THROTTLED = "throttled"  # 429, Gmail 403 rate-limit reasons: retry after the wait
    TRANSIENT = "transient"  # 500/502/503, connect errors: the message was not accepted
    AMBIGUOUS = "ambiguous"  # may have been accepted: never retry blindly
    AUTH = "auth"  # 401: one token refresh and one retry, by the caller
    PERMANENT = "permanent"  # 4xx the same request will always get


@dataclass(frozen=True)
class Backoff:
    base_seconds: float = 0.5
    factor: float = 2.0
    max_seconds: float = 8.0  # one wait, also the cap on Retry-After
    deadline_seconds: float = 30.0  # all attempts and waits together
    max_attempts: int = 5

    def wait(self, attempt: int, rng: Callable[[], float] = random.random) -> float:
        """Full-jitter exponential wait before attempt `attempt + 1` (attempt counts from 1)."""
        ceiling = min(self.max_seconds, self.base_seconds * self.factor ** (attempt - 1))
        return ceiling * rng()


def retry_after_seconds(value: str | None, now: float) -> float | None:
    """Retry-After in seconds (delta-seconds or HTTP-date, RFC 9110 §10.2.3); None if absent or
    unreadable. A date in the past means now."""
    if value is None:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when is None or when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - now)


Classify = Callable[[int, Mapping[str, str], frozenset[str]], Outcome]


def classify(status: int, headers: Mapping[str, str], reasons: frozenset[str]) -> Outcome:
    """The outcome of an HTTP answer by the rules every provider shares; `reasons` are the
    error reasons in a Google error body. A provider with its own rules for some answers
    wraps this (see relayops.adapters.outlook.graph.classify_graph)."""
    if 200 <= status < 300:
        return Outcome.SENT
    if status == 429 or (status == 403 and reasons & RATE_LIMIT_REASONS):
        return Outcome.THROTTLED
    if status == 401:
        return Outcome.AUTH
    if status == 504:
        return Outcome.AMBIGUOUS
    if status >= 500:
        return Outcome.TRANSIENT
    return Outcome.PERMANENT


def next_wait(
    outcome: Outcome,
    attempt: int,
    elapsed: float,
    retry_after: float | None,
    backoff: Backoff,
    rng: Callable[[], float] = random.random,
) -> float | None:
    """Seconds to wait before another attempt, or None when no retry may happen: the outcome
    is final, the attempts are spent, or the wait would pass the deadline."""
    if outcome not in (Outcome.THROTTLED, Outcome.TRANSIENT) or attempt >= backoff.max_attempts:
        return None
    wait = backoff.wait(attempt, rng)
    if retry_after is not None:
        wait = max(wait, min(retry_after, backoff.max_seconds))
    if elapsed + wait >= backoff.deadline_seconds:
        return None
    return wait
