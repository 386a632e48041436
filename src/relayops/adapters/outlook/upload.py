"""Send an Outlook message too large for sendMail: draft, attachment uploads, draft send.

Every request body stays within Graph's 4 MB (4,000,000 bytes) limit: attachments ride in the
draft's JSON while it fits, then each is posted to the draft on its own while its POST body
fits (Graph refuses upload sessions for small files), and the rest (files of about 3 MB and
more) go through an upload session each, in sequential ranges of at most 4 MB PUT without an
Authorization header (the upload URL is pre-authenticated).

A PUT that fails is sent again from the last position the server confirmed (its
nextExpectedRanges). Microsoft documents no status request on an Outlook upload URL (the GET
that OneDrive answers), so when the server refuses that resend (it had taken the lost range) or
the session is gone, the session is cancelled and the attachment uploaded once more in a new
one; a session that vanished after its last range was sent is first looked for among the
draft's attachments. Any failure before the final send deletes the draft, so nothing
half-built is left behind or sent later.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any

import httpx

from relayops.adapters.effects import Call, Sleep, Steps, run_sync
from relayops.adapters.idempotency import LookupFailed, key_of
from relayops.adapters.message import Attachment, Message
from relayops.adapters.message_id import MessageId, domain_of
from relayops.adapters.outlook.answers import classify_graph
from relayops.adapters.outlook.graph import (
    REQUEST_LIMIT_BYTES,
    StandInBody,
    encode_payload,
    graph_payload,
    stand_in_body,
    with_stand_ins,
)
from relayops.adapters.outlook.lookup import find_messages_steps
from relayops.adapters.retry import Backoff, Outcome, next_wait, retry_after_seconds
from relayops.adapters.transport import (
    Attempted,
    TokenSource,
    error_reasons,
    failed_attempt,
    json_body,
    send_steps,
)

RANGE_LIMIT = 4_000_000  # Graph takes ranges of "up to 4 MB" on an upload URL
SESSIONS_PER_ATTACHMENT = 2  # a lost or refused session is replaced once
_PIECE_BYTES = 64 * 1024
# PidTagDeleteAfterSubmit: a draft carrying it true leaves no copy in Sent Items once sent.
DELETE_AFTER_SUBMIT = {"id": "Boolean 0x0E01", "value": "true"}

Events = Callable[[str, int], None]


def send_large(
    client: httpx.Client,
    base_url: str,
    message: Message,
    tokens: TokenSource,
    *,
    save_to_sent_items: bool,
    backoff: Backoff,
    sleep: Callable[[float], None] = time.sleep,
    chunk_bytes: int = RANGE_LIMIT,
    on_event: Events | None = None,
) -> Attempted:
    """`send_large_steps` with blocking I/O."""
    steps = send_large_steps(
        base_url,
        message,
        save_to_sent_items=save_to_sent_items,
        backoff=backoff,
        chunk_bytes=chunk_bytes,
        on_event=on_event,
    )
    return run_sync(steps, client, tokens, sleep)


def send_large_steps(
    base_url: str,
    message: Message,
    *,
    save_to_sent_items: bool,
    backoff: Backoff,
    chunk_bytes: int = RANGE_LIMIT,
    on_event: Events | None = None,
) -> Steps[Attempted]:
    """Send `message` through a draft; SENT once the draft send was accepted.

    `on_event(name, amount)` gets "started", "completed" and "failed" per upload session and
    "bytes" as the server confirms uploaded bytes. An AMBIGUOUS result of the final send is
    returned as is and the draft is kept: it may be on its way, and the caller looks in Sent
    Items (and Drafts) before sending again. With `save_to_sent_items` False the sent message
    leaves no copy to find (the draft carries PidTagDeleteAfterSubmit).
    """
    if not 0 < chunk_bytes <= RANGE_LIMIT:
        raise ValueError(f"chunk_bytes must be 1..{RANGE_LIMIT}")
    graph = _Graph(base_url.rstrip("/"), backoff)
    # the draft look-up after an ambiguous create needs a Message-ID to look for
    message_id = message.message_id or MessageId.fresh(domain_of(message.sender))
    message = replace(message, message_id=message_id)
    in_draft, posted, uploaded = _split(message)
    draft = yield from _create_draft(graph, message, message_id, in_draft, save_to_sent_items)
    if isinstance(draft, Attempted):
        return draft
    try:
        failed = yield from _attach(
            graph, draft, message, posted, uploaded, chunk_bytes, on_event or _ignore
        )
        if failed is not None:
            yield from graph.delete_draft(draft)
            return failed
        sent = yield from graph.call("POST", f"/v1.0/me/messages/{draft}/send")
    except Exception:
        yield from graph.delete_draft(draft)
        raise
    if sent.outcome not in (Outcome.SENT, Outcome.AMBIGUOUS):
        yield from graph.delete_draft(draft)
    return sent


def delete_draft_steps(base_url: str, backoff: Backoff, draft_id: str) -> Steps[None]:
    """Delete a draft, best effort."""
    yield from _Graph(base_url.rstrip("/"), backoff).delete_draft(draft_id)


@dataclass(frozen=True)
class _Graph:
    """Graph API calls through relayops.adapters.transport: retries and one refresh after a 401."""

    base_url: str
    backoff: Backoff

    def call(self, method: str, path: str, body: bytes | None = None) -> Steps[Attempted]:
        def build(token: str) -> Call:
            headers = {"Authorization": f"Bearer {token}"}
            if body is not None:
                headers["Content-Type"] = "application/json"
            return Call(method, self.base_url + path, headers=headers, content=body)

        return (yield from send_steps(build, self.backoff, answers=classify_graph))

    def delete_draft(self, draft: str) -> Steps[None]:
        """Best effort: a draft left behind is never sent, so a failure here is no harm."""
        with contextlib.suppress(httpx.HTTPError):
            yield from self.call("DELETE", f"/v1.0/me/messages/{draft}")


def _ignore(name: str, amount: int) -> None:
    """The default on_event."""


def _split(
    message: Message,
) -> tuple[tuple[Attachment, ...], tuple[Attachment, ...], tuple[Attachment, ...]]:
    """The attachments that go in the draft JSON, those posted to the draft one by one (the
    draft would pass the request limit, their own POST does not), and those uploaded in ranges
    (their own POST would pass it too)."""
    in_draft: list[Attachment] = []
    posted: list[Attachment] = []
    uploaded: list[Attachment] = []
    for attachment in message.attachments:
        candidate = replace(message, attachments=(*in_draft, attachment))
        if stand_in_body(candidate, save_to_sent_items=True).size <= REQUEST_LIMIT_BYTES:
            in_draft.append(attachment)
        elif _attachment_stand_in(message, attachment).size <= REQUEST_LIMIT_BYTES:
            posted.append(attachment)
        else:
            uploaded.append(attachment)
    return tuple(in_draft), tuple(posted), tuple(uploaded)


def _draft_body(message: Message, attachments: tuple[Attachment, ...], save: bool) -> bytes:
    """The draft's message JSON, carrying `attachments`."""
    light, contents = with_stand_ins(attachments)
    payload = graph_payload(replace(message, attachments=light), save_to_sent_items=save)
    draft: dict[str, Any] = payload["message"]
    if not save:
        draft["singleValueExtendedProperties"] = [DELETE_AFTER_SUBMIT]
    return StandInBody(encode_payload(draft), contents).spliced()


def _attachment_stand_in(message: Message, attachment: Attachment) -> StandInBody:
    """One fileAttachment's JSON, as sendMail's payload would carry it, not yet encoded."""
    light, contents = with_stand_ins((attachment,))
    payload = graph_payload(replace(message, attachments=light), save_to_sent_items=True)
    [entry] = payload["message"]["attachments"]
    return StandInBody(encode_payload(entry), contents)


def _create_draft(
    graph: _Graph,
    message: Message,
    message_id: MessageId,
    attachments: tuple[Attachment, ...],
    save: bool,
) -> Steps[str | Attempted]:
    """The new draft's id, or the failure. Creating is not idempotent: after an ambiguous
    answer, look for the draft by its internetMessageId before creating it once more."""
    body = _draft_body(message, attachments, save)
    key = key_of(message)
    for _ in range(2):
        attempted = yield from graph.call("POST", "/v1.0/me/messages", body)
        if attempted.outcome is Outcome.SENT:
            return str((attempted.body or {})["id"])
        if attempted.outcome is not Outcome.AMBIGUOUS:
            return attempted
        try:
            found = yield from find_messages_steps(
                graph.base_url,
                graph.backoff,
                message_id,
                folders=("drafts",),
                key=key,
            )
        except LookupFailed:
            return attempted
        if found:
            return found[0].id
    return attempted


def _attach(
    graph: _Graph,
    draft: str,
    message: Message,
    posted: tuple[Attachment, ...],
    uploaded: tuple[Attachment, ...],
    chunk_bytes: int,
    on_event: Events,
) -> Steps[Attempted | None]:
    """Add the attachments the draft JSON did not carry; the first failure, or None."""
    path = f"/v1.0/me/messages/{draft}/attachments"
    for attachment in posted:
        body = _attachment_stand_in(message, attachment).spliced()
        attempted = yield from graph.call("POST", path, body)
        if attempted.outcome is not Outcome.SENT:
            return attempted
    for attachment in uploaded:
        on_event("started", 1)
        attempted = yield from _upload_session(graph, path, attachment, chunk_bytes, on_event)
        on_event("completed" if attempted.outcome is Outcome.SENT else "failed", 1)
        if attempted.outcome is not Outcome.SENT:
            return attempted
    return None


def _upload_session(
    graph: _Graph, path: str, attachment: Attachment, chunk_bytes: int, on_event: Events
) -> Steps[Attempted]:
    """Upload `attachment` through an upload session; SENT once its last range is in.

    A session lost midway (gone, or refusing the resend of a range it had already taken) is
    cancelled and replaced, up to SESSIONS_PER_ATTACHMENT sessions in all.
    """
    item: dict[str, Any] = {
        "attachmentType": "file",
        "name": attachment.filename,
        "size": len(attachment.data),
        "contentType": attachment.content_type,
        "isInline": attachment.inline,
    }
    if attachment.content_id:
        item["contentId"] = attachment.content_id
    for _ in range(SESSIONS_PER_ATTACHMENT):
        created = yield from graph.call(
            "POST", f"{path}/createUploadSession", encode_payload({"AttachmentItem": item})
        )
        url = (created.body or {}).get("uploadUrl")
        if created.outcome is not Outcome.SENT or not isinstance(url, str):
            return created
        upload = _Upload(graph, url, attachment.data, chunk_bytes, on_event)
        result = yield from upload.run()
        if not isinstance(result, _SessionLost):
            return result
        if result.last_range_unanswered and (yield from _attached(graph, path, attachment)):
            return replace(result.attempted, outcome=Outcome.SENT, detail="")
        yield from upload.cancel()
    detail = f"the upload session was lost {SESSIONS_PER_ATTACHMENT} times: {result.reason}"
    return replace(result.attempted, outcome=Outcome.TRANSIENT, detail=detail)


def _attached(graph: _Graph, path: str, attachment: Attachment) -> Steps[bool]:
    """Whether the draft already has this attachment: the answer to a last range was lost and
    the session is gone, which it is once the upload completed. Outlook's `size` counts some
    overhead, so a size of at least the file's is a match."""
    listed = yield from graph.call("GET", f"{path}?$select=name,size,isInline,contentId")
    if listed.outcome is not Outcome.SENT:
        return False
    return any(
        isinstance(item, dict)
        and item.get("name") == attachment.filename
        and bool(item.get("isInline")) == attachment.inline
        and isinstance(item.get("size"), int)
        and item["size"] >= len(attachment.data)
        for item in (listed.body or {}).get("value") or []
    )


@dataclass(frozen=True)
class _SessionLost:
    """The upload session can no longer take this upload."""

    attempted: Attempted
    reason: str
    last_range_unanswered: bool  # the range reaching the end was sent and its answer lost


@dataclass
class _Upload:
    """Sequential range PUTs to a pre-authenticated upload URL, resumed from the server's
    nextExpectedRanges after a failure. Streams each range from the caller's bytes, so it never
    copies the attachment, nor even a whole range."""

    graph: _Graph
    url: str
    data: bytes
    chunk_bytes: int
    on_event: Events
    confirmed: int = 0  # bytes the server has acknowledged
    requests: int = 0

    def run(self) -> Steps[Attempted | _SessionLost]:
        size = len(self.data)
        offset, resending = 0, False
        last_range_unanswered = False
        failures, stalled_since = 0, time.monotonic()
        while True:
            answer = yield from self._put(offset)
            reached = answer.next_offset
            if reached is not None and reached > self.confirmed:
                self.on_event("bytes", reached - self.confirmed)
                self.confirmed = reached
                failures, stalled_since = 0, time.monotonic()
            if reached is not None and reached >= size:
                return answer.attempted
            if reached is not None and reached > offset:
                offset, resending = reached, False
                continue
            attempted = answer.attempted
            reaches_end = offset + self.chunk_bytes >= size
            if _session_refused(attempted) and (resending or attempted.status == 404):
                return _SessionLost(
                    attempted,
                    f"HTTP {attempted.status} to the range at byte {offset}",
                    last_range_unanswered,
                )
            if reaches_end and attempted.outcome in (Outcome.AMBIGUOUS, Outcome.TRANSIENT):
                last_range_unanswered = True
            failures += 1
            if attempted.outcome is Outcome.SENT:
                detail = "a range was accepted but nextExpectedRanges did not move on"
                attempted = replace(attempted, outcome=Outcome.TRANSIENT, detail=detail)
            # Ranges are safe to send again: a range the server already has is refused, not
            # stored twice. So an ambiguous answer is as retriable here as a transient one.
            outcome = attempted.outcome
            retry = Outcome.TRANSIENT if outcome is Outcome.AMBIGUOUS else outcome
            elapsed = time.monotonic() - stalled_since
            wait = next_wait(retry, failures, elapsed, answer.retry_after, self.graph.backoff)
            if wait is None:
                return attempted
            yield Sleep(wait)
            offset, resending = self.confirmed, True

    def cancel(self) -> Steps[None]:
        """Cancel the session (DELETE on the upload URL), best effort: an abandoned session
        expires by itself."""
        yield from self._exchange("DELETE")

    def _put(self, offset: int) -> Steps[_Answer]:
        size = len(self.data)
        end = min(offset + self.chunk_bytes, size)
        headers = {
            "Content-Range": f"bytes {offset}-{end - 1}/{size}",
            "Content-Length": str(end - offset),  # also keeps httpx from chunked encoding
            "Content-Type": "application/octet-stream",
        }
        return (yield from self._exchange("PUT", lambda: _pieces(self.data, offset, end), headers))

    def _exchange(
        self,
        method: str,
        stream: Callable[[], Iterator[bytes]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> Steps[_Answer]:
        """One request to the upload URL, without any Authorization header: Graph refuses one."""
        self.requests += 1
        call = Call(method, self.url, headers=headers or {}, stream=stream, anonymous=True)
        try:
            response = yield call
        except httpx.TransportError as exc:
            return _Answer(failed_attempt(exc, self.requests))
        body = json_body(response)
        reasons = error_reasons(body)
        status = response.status_code
        outcome = classify_graph(status, response.headers, reasons)
        attempted = Attempted(outcome, self.requests, status, body, reasons)
        if status == 201 and method == "PUT":
            return _Answer(attempted, len(self.data))
        next_offset = _next_expected(body) if outcome is Outcome.SENT else None
        if outcome is Outcome.SENT and next_offset is None:
            detail = f"HTTP {status} without nextExpectedRanges"
            attempted = Attempted(Outcome.PERMANENT, self.requests, status, body, detail=detail)
        wall = retry_after_seconds(response.headers.get("retry-after"), time.time())
        return _Answer(attempted, next_offset, wall)


def _session_refused(attempted: Attempted) -> bool:
    """The session is gone (404) or refuses the range's position (416, InvalidContentRange)."""
    return attempted.status in (404, 416) or "InvalidContentRange" in attempted.reasons


@dataclass(frozen=True)
class _Answer:
    attempted: Attempted
    next_offset: int | None = None  # where the server expects the next range
    retry_after: float | None = None


def _pieces(data: bytes, start: int, end: int) -> Iterator[bytes]:
    """data[start:end] streamed in small copies. A whole-range copy would stay referenced by
    the request, which httpx keeps in a reference cycle with its response until the garbage
    collector runs: ten ranges could pile up in memory."""
    view = memoryview(data)
    for at in range(start, end, _PIECE_BYTES):
        yield bytes(view[at : min(at + _PIECE_BYTES, end)])


def _next_expected(body: dict[str, Any] | None) -> int | None:
    """The first byte of nextExpectedRanges ("N-", "N-M" or Outlook's older "N" form)."""
    ranges = (body or {}).get("nextExpectedRanges") or (body or {}).get("NextExpectedRanges")
    if not isinstance(ranges, list) or not ranges or not isinstance(ranges[0], str):
        return None
    first = ranges[0].partition("-")[0].strip()
    return int(first) if first.isdigit() else None
