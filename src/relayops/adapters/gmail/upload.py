"""Gmail's resumable upload for users.messages.send: an initiating POST, then PUTs of chunks
(multiples of 256 KiB) to the session URI, resumed from what the server reports holding.

After a failed or unanswered PUT the client does not guess: a status query (`bytes */total`)
tells how far the server got, or that it completed the message, so a lost answer to the final
chunk does not send the message twice.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import replace

import httpx

from relayops.adapters.effects import Call, Sleep, Steps, run_sync
from relayops.adapters.retry import Backoff, Outcome, classify, next_wait, retry_after_seconds
from relayops.adapters.transport import (
    NOT_SENT,
    Attempted,
    TokenSource,
    error_reasons,
    json_body,
    send_steps,
)

GMAIL_UPLOAD_LIMIT = 35 * 1024 * 1024
UPLOAD_QUANTUM = 256 * 1024  # every chunk but the last is a multiple of this
UPLOAD_PATH = "/upload/gmail/v1/users/me/messages/send"
_RANGE = re.compile(r"bytes=0-([0-9]+)")
_LOST_SESSION = "the session is gone, and the answer to its final chunk was lost"


def check_size(raw_len: int) -> None:
    """Refuse a message the upload endpoint would refuse, before any network call."""
    if raw_len > GMAIL_UPLOAD_LIMIT:
        raise ValueError(
            f"the message is {raw_len} bytes, over Gmail's upload limit of "
            f"{GMAIL_UPLOAD_LIMIT} bytes (35 MB)"
        )


def send_resumable(
    client: httpx.Client,
    base_url: str,
    raw: bytes,
    tokens: TokenSource,
    *,
    backoff: Backoff,
    sleep: Callable[[float], None] = time.sleep,
    chunk_bytes: int = 8 * UPLOAD_QUANTUM,
) -> Attempted:
    """`send_resumable_steps` with blocking I/O."""
    steps = send_resumable_steps(base_url, raw, backoff=backoff, chunk_bytes=chunk_bytes)
    return run_sync(steps, client, tokens, sleep)


def send_resumable_steps(
    base_url: str, raw: bytes, *, backoff: Backoff, chunk_bytes: int = 8 * UPLOAD_QUANTUM
) -> Steps[Attempted]:
    """Upload and send the RFC 5322 message `raw`; a SENT result's body is the message resource.

    `attempts` counts as transport.send does: one, plus one for every failed request that was
    followed by another. A session the server no longer knows (404) is started again once.
    """
    check_size(len(raw))
    if not raw:
        raise ValueError("an empty message cannot be sent")
    if chunk_bytes <= 0 or chunk_bytes % UPLOAD_QUANTUM:
        raise ValueError(f"chunk_bytes must be a positive multiple of {UPLOAD_QUANTUM}")
    url, view = base_url.rstrip("/") + UPLOAD_PATH, memoryview(raw)
    result, expired = yield from _upload_once(url, view, backoff, chunk_bytes)
    if expired:
        again, _ = yield from _upload_once(url, view, backoff, chunk_bytes)
        result = replace(again, attempts=result.attempts + again.attempts)
    return result


def _upload_once(
    url: str, view: memoryview, backoff: Backoff, chunk_bytes: int
) -> Steps[tuple[Attempted, bool]]:
    """The result of one session, and whether the server forgot the session (a 404) midway."""
    session, opened = yield from _open(url, len(view), backoff)
    if session is None:
        return opened, False
    moved = yield from _Transfer(session, view, chunk_bytes, backoff).run()
    expired = moved.outcome is Outcome.PERMANENT and moved.status == 404
    return replace(moved, attempts=opened.attempts + moved.attempts - 1), expired


def _open(url: str, size: int, backoff: Backoff) -> Steps[tuple[str | None, Attempted]]:
    """The session URI (None on failure) and how initiating it went."""

    def build(token: str) -> Call:
        return Call(
            "POST",
            url,
            params={"uploadType": "resumable"},
            headers={
                "Authorization": f"Bearer {token}",
                "X-Upload-Content-Type": "message/rfc822",
                "X-Upload-Content-Length": str(size),
            },
        )

    # An initiation carries no message: whatever happened to an ambiguous one, nothing was
    # sent, so it is safe to open a session once more.
    opened = yield from send_steps(build, backoff)
    if opened.outcome is Outcome.AMBIGUOUS:
        again = yield from send_steps(build, backoff)
        opened = replace(again, attempts=opened.attempts + again.attempts)
    if opened.outcome is Outcome.AMBIGUOUS:
        return None, replace(opened, outcome=Outcome.TRANSIENT)
    if opened.outcome is not Outcome.SENT:
        return None, opened
    location = opened.headers.get("location") if opened.headers is not None else None
    if not location:
        return None, replace(opened, outcome=Outcome.PERMANENT, detail="no session URI")
    return location, opened


class _Transfer:
    """The PUTs of one session, from byte 0 to the server's final answer.

    Retries follow the backoff policy, counted and timed from the last time the server took
    bytes: a long upload that keeps moving is not cut off by the deadline.
    """

    def __init__(self, session: str, view: memoryview, chunk_bytes: int, backoff: Backoff) -> None:
        self.session, self.view = session, view
        self.chunk_bytes, self.backoff = chunk_bytes, backoff
        self.received = 0  # bytes the server reported holding
        self.retried = 0  # failed requests that were followed by another
        self.stalled = 0  # failures since the server last took bytes
        self.stalled_since = time.monotonic()
        self.final_unknown = False  # a PUT of the last byte got no clear answer

    def run(self) -> Steps[Attempted]:
        query = False
        while True:
            result, retry_after = yield from self._step(query)
            if result is None:
                query = False
                continue
            if result.outcome not in (Outcome.TRANSIENT, Outcome.THROTTLED):
                return result
            self.stalled += 1
            elapsed = time.monotonic() - self.stalled_since
            wait = next_wait(result.outcome, self.stalled, elapsed, retry_after, self.backoff)
            if wait is None:
                return replace(result, outcome=Outcome.AMBIGUOUS) if self.final_unknown else result
            self.retried += 1
            yield Sleep(wait)
            query = True  # whatever went wrong, ask the server what it holds

    def _step(self, query: bool) -> Steps[tuple[Attempted | None, float | None]]:
        """One PUT, a chunk or a status query: None after a 308 (the server said what it
        holds), else the result and any Retry-After."""
        total = len(self.view)
        if query:
            piece, content_range = self.view[:0], f"bytes */{total}"
        else:
            end = min(self.received + self.chunk_bytes, total)
            piece = self.view[self.received : end]
            content_range = f"bytes {self.received}-{end - 1}/{total}"
        final = not query and self.received + len(piece) == total
        try:
            response = yield self._put(piece, content_range)
        except httpx.TransportError as exc:
            self.final_unknown |= final and not isinstance(exc, NOT_SENT)
            detail = f"{type(exc).__name__}: {exc}"
            return Attempted(Outcome.TRANSIENT, self.retried + 1, detail=detail), None
        if response.status_code == 308:
            return self._advance(response), None
        answer = self._answer(response)
        self.final_unknown |= final and answer.outcome is Outcome.TRANSIENT
        if response.status_code == 404 and self.final_unknown:
            answer = replace(answer, outcome=Outcome.AMBIGUOUS, detail=_LOST_SESSION)
        return answer, retry_after_seconds(response.headers.get("retry-after"), time.time())

    def _put(self, piece: memoryview, content_range: str) -> Call:
        return Call(
            "PUT",
            self.session,
            headers={"Content-Range": content_range, "Content-Length": str(len(piece))},
            stream=lambda: iter((piece,)),  # one slice: httpx sends it without a copy first
            follow_redirects=False,
        )

    def _advance(self, response: httpx.Response) -> Attempted | None:
        """Take the 308's Range as what the server holds; an error if it makes no sense."""
        header = response.headers.get("range")
        received = 0  # no Range: nothing yet
        if header is not None:
            match = _RANGE.fullmatch(header.strip())
            received = int(match[1]) + 1 if match else -1
        if not 0 <= received < len(self.view):
            detail = f"unreadable Range {header!r} in a 308"
            return Attempted(Outcome.PERMANENT, self.retried + 1, 308, detail=detail)
        if received > self.received:
            self.stalled, self.stalled_since = 0, time.monotonic()
        self.received = received
        return None

    def _answer(self, response: httpx.Response) -> Attempted:
        body = json_body(response)
        reasons = error_reasons(body)
        outcome = classify(response.status_code, response.headers, reasons)
        if outcome is Outcome.AMBIGUOUS:
            outcome = Outcome.TRANSIENT  # a 504: the status query settles what it left open
        return Attempted(outcome, self.retried + 1, response.status_code, body, reasons)
