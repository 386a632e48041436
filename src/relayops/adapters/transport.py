"""One send over HTTP with retries: jittered exponential backoff under a total deadline,
Retry-After honoured (capped), one token refresh after a 401, and no blind retry of an
outcome that may have been accepted (relayops.adapters.retry decides).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from relayops.adapters.effects import REFRESH, TOKEN, Call, Sleep, Steps, TokenSource, run_sync
from relayops.adapters.retry import (
    Backoff,
    Classify,
    Outcome,
    classify,
    next_wait,
    retry_after_seconds,
)


@dataclass(frozen=True)
class Attempted:
    outcome: Outcome
    attempts: int
    status: int | None = None
    body: dict | None = None
    reasons: frozenset[str] = frozenset()
    detail: str = ""
    headers: httpx.Headers | None = None  # of the last response, when there was one


def error_reasons(body: dict | None) -> frozenset[str]:
    """Error reasons of a Google (`error.errors[].reason`) or Graph (`error.code`) body."""
    error = (body or {}).get("error")
    if not isinstance(error, dict):
        return frozenset()
    found = {e.get("reason") for e in error.get("errors") or () if isinstance(e, dict)}
    if isinstance(error.get("status"), str):
        found.add(error["status"])
    if isinstance(error.get("code"), str):
        found.add(error["code"])
    return frozenset(r for r in found if isinstance(r, str))


def json_body(response: httpx.Response) -> dict | None:
    if not response.content:
        return None
    try:
        body = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    return body if isinstance(body, dict) else None


# Failures before the request was written in full: the server cannot have taken it.
NOT_SENT = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
    httpx.ProxyError,
    httpx.WriteError,
    httpx.WriteTimeout,
)


def failed_attempt(exc: httpx.TransportError, attempt: int) -> Attempted:
    """TRANSIENT for a request that never reached the server in full, else AMBIGUOUS: it may
    have been taken before the answer was lost."""
    if isinstance(exc, NOT_SENT):
        return Attempted(Outcome.TRANSIENT, attempt, detail=f"not sent in full: {exc!r}")
    detail = f"{type(exc).__name__} after the request was sent: {exc}"
    return Attempted(Outcome.AMBIGUOUS, attempt, detail=detail)


def send_steps(
    build: Callable[[str], Call],
    backoff: Backoff,
    *,
    answers: Classify = classify,
    clock: Callable[[], float] = time.monotonic,
    wall: Callable[[], float] = time.time,
) -> Steps[Attempted]:
    """Send the request `build(token)` makes until it is sent, final, or out of retries;
    `answers` classifies each HTTP answer (the provider's own rules, if it has any)."""
    started = clock()
    token = yield TOKEN
    refreshed = False
    attempt = 0
    while True:
        attempt += 1
        retry_after = None
        try:
            response = yield build(token)
        except NOT_SENT as exc:
            result = failed_attempt(exc, attempt)
        except (httpx.TimeoutException, httpx.RemoteProtocolError, httpx.NetworkError) as exc:
            return failed_attempt(exc, attempt)
        else:
            body = json_body(response)
            reasons = error_reasons(body)
            outcome = answers(response.status_code, response.headers, reasons)
            result = Attempted(
                outcome, attempt, response.status_code, body, reasons, headers=response.headers
            )
            retry_after = retry_after_seconds(response.headers.get("retry-after"), wall())
        if result.outcome is Outcome.AUTH and not refreshed:
            refreshed = True
            token = yield REFRESH
            continue
        wait = next_wait(result.outcome, attempt, clock() - started, retry_after, backoff)
        if wait is None:
            return result
        yield Sleep(wait)


def send(
    client: httpx.Client,
    build: Callable[[str], Call],
    tokens: TokenSource,
    backoff: Backoff,
    *,
    answers: Classify = classify,
    sleep: Callable[[float], None] = time.sleep,
) -> Attempted:
    """`send_steps` with blocking I/O."""
    return run_sync(send_steps(build, backoff, answers=answers), client, tokens, sleep)
