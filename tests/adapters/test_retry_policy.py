"""The send retry policy: what is retried, how long it waits, and what never is."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import format_datetime

import pytest

from relayops.adapters.outlook.answers import classify_graph
from relayops.adapters.retry import Backoff, Outcome, classify, next_wait, retry_after_seconds

NOW = 1_800_000_000.0


@pytest.mark.parametrize(
    ("provider", "status", "headers", "reasons", "outcome"),
    [
        ("gmail", 200, {}, frozenset(), Outcome.SENT),
        ("outlook", 202, {}, frozenset(), Outcome.SENT),
        ("outlook", 202, {"Retry-After": "5"}, frozenset(), Outcome.AMBIGUOUS),
        ("gmail", 202, {"Retry-After": "5"}, frozenset(), Outcome.SENT),
        ("gmail", 429, {}, frozenset(), Outcome.THROTTLED),
        ("gmail", 403, {}, frozenset({"userRateLimitExceeded"}), Outcome.THROTTLED),
        ("gmail", 403, {}, frozenset({"rateLimitExceeded"}), Outcome.THROTTLED),
        ("gmail", 403, {}, frozenset({"insufficientPermissions"}), Outcome.PERMANENT),
        ("gmail", 401, {}, frozenset(), Outcome.AUTH),
        ("outlook", 504, {}, frozenset(), Outcome.AMBIGUOUS),
        ("outlook", 503, {}, frozenset(), Outcome.TRANSIENT),
        ("gmail", 500, {}, frozenset(), Outcome.TRANSIENT),
        ("gmail", 400, {}, frozenset(), Outcome.PERMANENT),
    ],
)
def test_answers_are_classified(provider, status, headers, reasons, outcome):
    rules = {"gmail": classify, "outlook": classify_graph}[provider]
    assert rules(status, headers, reasons) is outcome


def test_retry_after_in_both_forms():
    assert retry_after_seconds("7", NOW) == 7.0
    later = format_datetime(datetime.fromtimestamp(NOW + 30, UTC), usegmt=True)
    assert retry_after_seconds(later, NOW) == pytest.approx(30.0)
    earlier = format_datetime(datetime.fromtimestamp(NOW - 30, UTC), usegmt=True)
    assert retry_after_seconds(earlier, NOW) == 0.0
    assert retry_after_seconds("soon", NOW) is None and retry_after_seconds(None, NOW) is None


def test_waits_grow_with_jitter_and_are_capped():
    backoff = Backoff(base_seconds=0.5, factor=2, max_seconds=4, deadline_seconds=60)
    assert [backoff.wait(n, lambda: 1.0) for n in range(1, 6)] == [0.5, 1.0, 2.0, 4.0, 4.0]
    assert backoff.wait(3, lambda: 0.25) == 0.5


def test_retry_after_is_honoured_but_capped():
    backoff = Backoff(max_seconds=8, deadline_seconds=60)
    assert next_wait(Outcome.THROTTLED, 1, 0.0, 5.0, backoff, lambda: 0.0) == 5.0
    assert next_wait(Outcome.THROTTLED, 1, 0.0, 3600.0, backoff, lambda: 0.0) == 8.0


@pytest.mark.parametrize("outcome", [Outcome.AMBIGUOUS, Outcome.PERMANENT, Outcome.SENT])
def test_final_outcomes_are_never_retried(outcome):
    assert next_wait(outcome, 1, 0.0, None, Backoff(), lambda: 1.0) is None


def test_attempts_and_deadline_end_the_retries():
    backoff = Backoff(max_attempts=3, deadline_seconds=10, max_seconds=8)
    assert next_wait(Outcome.TRANSIENT, 3, 0.0, None, backoff, lambda: 1.0) is None
    assert next_wait(Outcome.TRANSIENT, 2, 9.5, None, backoff, lambda: 1.0) is None
    assert next_wait(Outcome.TRANSIENT, 2, 0.0, None, backoff, lambda: 1.0) == 1.0
