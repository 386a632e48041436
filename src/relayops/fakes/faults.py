"""A thread-safe queue of faults that the fake provider servers apply to their next requests.

Each request takes the first fault, in the order added, whose path matches (or that has no path)
and that has uses left. Every use is timestamped, so a test can assert that a fault fired.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.utils import formatdate
from enum import StrEnum
from typing import Any

Body = bytes | str | Mapping[str, Any] | None


class FaultKind(StrEnum):
    STATUS = "status"  # answer this status instead of handling the request
    ACCEPT_THEN = "accept_then"  # handle (store the message), then answer this status
    RESET = "reset"  # read the request, then close the connection without a response
    SLOW = "slow"  # wait, then handle the request normally


@dataclass
class Fault:
    kind: FaultKind
    path: str | None = None  # exact request path (no query); None matches every path
    times: int = 1
    status: int | None = None
    body: bytes | None = None  # None: the fake's own body for the status
    headers: dict[str, str] = field(default_factory=dict)
    keep_body: bool = False  # ACCEPT_THEN: keep the endpoint's success body and headers
    seconds: float = 0.0
    hard: bool = False  # RESET: send a TCP RST (SO_LINGER 0) instead of an orderly close
    fired_at: list[float] = field(default_factory=list)  # time.time() of each use

    @property
    def fired(self) -> int:
        return len(self.fired_at)

    @property
    def remaining(self) -> int:
        return self.times - self.fired

    def matches(self, path: str) -> bool:
        return self.remaining > 0 and self.path in (None, path)


def retry_after_date(seconds: float, now: float | None = None) -> str:
    """The `Retry-After` HTTP-date form (RFC 7231 IMF-fixdate) for `seconds` from now."""
    base = time.time() if now is None else now
    return formatdate(base + seconds, usegmt=True)


def _encode(body: Body, headers: Mapping[str, str] | None) -> tuple[bytes | None, dict[str, str]]:
    merged = dict(headers or {})
    if body is None or isinstance(body, bytes):
        return body, merged
    has_type = any(name.lower() == "content-type" for name in merged)
    if isinstance(body, str):
        if not has_type:
            merged["Content-Type"] = "text/plain; charset=utf-8"
        return body.encode(), merged
    if not has_type:
        merged["Content-Type"] = "application/json; charset=UTF-8"
    return json.dumps(body).encode(), merged


class FaultPlan:
    """Faults shared by the handler threads of one or more fake servers."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []

    def status(
        self,
        code: int,
        body: Body = None,
        headers: Mapping[str, str] | None = None,
        *,
        path: str | None = None,
        times: int = 1,
    ) -> Fault:
        """Answer `code` (e.g. 429 with Retry-After, 403 rate limit, 5xx); nothing is stored."""
        data, merged = _encode(body, headers)
        return self._add(Fault(FaultKind.STATUS, path, times, code, data, merged))

    def accept_then(
        self,
        code: int,
        body: Body = None,
        headers: Mapping[str, str] | None = None,
        *,
        path: str | None = None,
        times: int = 1,
    ) -> Fault:
        """Store the message (delivered), then answer `code` with an error body: ambiguous."""
        data, merged = _encode(body, headers)
        return self._add(Fault(FaultKind.ACCEPT_THEN, path, times, code, data, merged))

    def accept_then_status(
        self,
        code: int,
        headers: Mapping[str, str] | None = None,
        *,
        path: str | None = None,
        times: int = 1,
    ) -> Fault:
        """Store the message, then answer `code` with the success body plus `headers`.

        For Graph, `accept_then_status(202, headers={"Retry-After": "5"})` is a 202 that invites
        a retry although the message was accepted.
        """
        fault = Fault(FaultKind.ACCEPT_THEN, path, times, code, None, dict(headers or {}))
        fault.keep_body = True
        return self._add(fault)

    def reset(self, *, hard: bool = False, path: str | None = None, times: int = 1) -> Fault:
        """Read the request, then close the connection without answering; nothing is stored."""
        return self._add(Fault(FaultKind.RESET, path, times, hard=hard))

    def slow(self, seconds: float, *, path: str | None = None, times: int = 1) -> Fault:
        """Wait `seconds`, then handle the request; it is stored even if the client gave up."""
        if seconds < 0:
            raise ValueError("seconds must be >= 0")
        return self._add(Fault(FaultKind.SLOW, path, times, seconds=seconds))

    def take(self, path: str) -> Fault | None:
        """Use and return the fault for a request to `path`, if any."""
        with self._lock:
            for fault in self._faults:
                if fault.matches(path):
                    fault.fired_at.append(time.time())
                    return fault
        return None

    @property
    def faults(self) -> list[Fault]:
        with self._lock:
            return list(self._faults)

    @property
    def pending(self) -> list[Fault]:
        with self._lock:
            return [fault for fault in self._faults if fault.remaining > 0]

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def _add(self, fault: Fault) -> Fault:
        if fault.times < 1:
            raise ValueError("times must be >= 1")
        if fault.status is not None and not 100 <= fault.status <= 599:
            raise ValueError(f"not an HTTP status: {fault.status}")
        with self._lock:
            self._faults.append(fault)
        return fault
