"""Send an Outlook message too large for sendMail: draft, attachment uploads, draft send.

Small attachments ride in the draft's JSON while it stays under Graph's 4 MB request limit;
small ones that do not fit are posted to the draft one by one (Graph refuses upload sessions for
small files); larger ones go through an upload session each, in sequential ranges PUT without
an Authorization header (the upload URL is pre-authenticated). A PUT that fails transiently is
resumed from the server's nextExpectedRanges. Any failure before the final send deletes the
draft, so nothing half-built is left behind or sent later.
"""

from __future__ import annotations

import contextlib
import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any

import httpx

from adapters.graph import (
    SEND_MAIL_LIMIT_BYTES,
    StandInBody,
    encode_payload,
    graph_payload,
    internet_message_id,
    stand_in_body,
    with_stand_ins,
)
from adapters.graph_lookup import find_messages
from adapters.idempotency import HEADER, LookupFailed, key_of, message_id_domain
from adapters.message import Attachment, Message
from adapters.retry import Backoff, Outcome, classify, next_wait, retry_after_seconds
from adapters.transport import (
    Attempted,
    TokenSource,
    error_reasons,
    failed_attempt,
    json_body,
    send,
)

RANGE_LIMIT = 4 * 1024 * 1024  # Graph refuses larger ranges on an upload URL
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
    inline_limit: int = 3 * 1024 * 1024,
    on_event: Events | None = None,
) -> Attempted:
    """Send `message` through a draft; SENT once the draft send was accepted.

    `on_event(name, amount)` gets "started", "completed" and "failed" per upload session and
    "bytes" as the server confirms uploaded bytes. An AMBIGUOUS result of the final send is
    returned as is and the draft is kept: it may be on its way, and the caller looks in Sent
    Items (and Drafts) before sending again. With `save_to_sent_items` False the sent message
    leaves no copy to find (the draft carries PidTagDeleteAfterSubmit).
    """
    if not 0 < chunk_bytes <= RANGE_LIMIT:
        raise ValueError(f"chunk_bytes must be 1..{RANGE_LIMIT}")
    graph = _Graph(client, base_url.rstrip("/"), tokens, backoff, sleep)
    message = _with_message_id(message)
    in_draft, posted, uploaded = _split(message, inline_limit)
    draft = _create_draft(graph, message, in_draft, save_to_sent_items)
    if isinstance(draft, Attempted):
        return draft
    try:
        failed = _attach(graph, draft, message, posted, uploaded, chunk_bytes, on_event or _ignore)
        if failed is not None:
            graph.delete_draft(draft)
            return failed
        sent = graph.call("POST", f"/v1.0/me/messages/{draft}/send")
    except Exception:
        graph.delete_draft(draft)
        raise
    if sent.outcome not in (Outcome.SENT, Outcome.AMBIGUOUS):
        graph.delete_draft(draft)
    return sent


def delete_draft(
    client: httpx.Client,
    base_url: str,
    tokens: TokenSource,
    backoff: Backoff,
    draft_id: str,
    *,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Delete a draft, best effort."""
    _Graph(client, base_url.rstrip("/"), tokens, backoff, sleep).delete_draft(draft_id)


@dataclass(frozen=True)
class _Graph:
    """Graph API calls through adapters.transport.send: retries and one refresh after a 401."""

    client: httpx.Client
    base_url: str
    tokens: TokenSource
    backoff: Backoff
    sleep: Callable[[float], None]

    def call(self, method: str, path: str, body: bytes | None = None) -> Attempted:
        def build(token: str) -> httpx.Request:
            headers = {"Authorization": f"Bearer {token}"}
            if body is not None:
                headers["Content-Type"] = "application/json"
            return self.client.build_request(
                method, self.base_url + path, content=body, headers=headers
            )

        return send(self.client, "outlook", build, self.tokens, self.backoff, sleep=self.sleep)

    def delete_draft(self, draft: str) -> None:
        """Best effort: a draft left behind is never sent, so a failure here is no harm."""
        with contextlib.suppress(httpx.HTTPError):
            self.call("DELETE", f"/v1.0/me/messages/{draft}")


def _ignore(name: str, amount: int) -> None:
    """The default on_event."""


def _with_message_id(message: Message) -> Message:
    """The message with a message_id, which the draft look-up after an ambiguous create needs."""
    if message.message_id is not None:
        return message
    domain = message_id_domain(message.sender)
    return replace(message, message_id=f"{secrets.token_hex(16)}@{domain}")


def _split(
    message: Message, inline_limit: int
) -> tuple[tuple[Attachment, ...], tuple[Attachment, ...], tuple[Attachment, ...]]:
    """The attachments that go in the draft JSON, those posted to the draft one by one (small,
    but the draft would pass the request limit), and those uploaded in ranges."""
    in_draft: list[Attachment] = []
    posted: list[Attachment] = []
    for attachment in (a for a in message.attachments if len(a.data) < inline_limit):
        candidate = replace(message, attachments=(*in_draft, attachment))
        fits = stand_in_body(candidate, save_to_sent_items=True).size <= SEND_MAIL_LIMIT_BYTES
        (in_draft if fits else posted).append(attachment)
    uploaded = tuple(a for a in message.attachments if len(a.data) >= inline_limit)
    return tuple(in_draft), tuple(posted), uploaded


def _draft_body(message: Message, attachments: tuple[Attachment, ...], save: bool) -> bytes:
    """The draft's message JSON, carrying `attachments`."""
    light, contents = with_stand_ins(attachments)
    payload = graph_payload(replace(message, attachments=light), save_to_sent_items=save)
    draft: dict[str, Any] = payload["message"]
    if not save:
        draft["singleValueExtendedProperties"] = [DELETE_AFTER_SUBMIT]
    return StandInBody(encode_payload(draft), contents).spliced()


def _attachment_body(message: Message, attachment: Attachment) -> bytes:
    """One fileAttachment's JSON, as sendMail's payload would carry it."""
    light, contents = with_stand_ins((attachment,))
    payload = graph_payload(replace(message, attachments=light), save_to_sent_items=True)
    [entry] = payload["message"]["attachments"]
    return StandInBody(encode_payload(entry), contents).spliced()


def _create_draft(
    graph: _Graph, message: Message, attachments: tuple[Attachment, ...], save: bool
) -> str | Attempted:
    """The new draft's id, or the failure. Creating is not idempotent: after an ambiguous
    answer, look for the draft by its internetMessageId before creating it once more."""
    body = _draft_body(message, attachments, save)
    internet_id = internet_message_id(message.message_id or "")
    key = key_of(message)
    for _ in range(2):
        attempted = graph.call("POST", "/v1.0/me/messages", body)
        if attempted.outcome is Outcome.SENT:
            return str((attempted.body or {})["id"])
        if attempted.outcome is not Outcome.AMBIGUOUS:
            return attempted
        try:
            found = find_messages(
                graph.client,
                graph.base_url,
                graph.tokens,
                graph.backoff,
                internet_id,
                folders=("drafts",),
                idempotency_header=(HEADER, key) if key else None,
                sleep=graph.sleep,
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
) -> Attempted | None:
    """Add the attachments the draft JSON did not carry; the first failure, or None."""
    path = f"/v1.0/me/messages/{draft}/attachments"
    for attachment in posted:
        attempted = graph.call("POST", path, _attachment_body(message, attachment))
        if attempted.outcome is not Outcome.SENT:
            return attempted
    for attachment in uploaded:
        on_event("started", 1)
        attempted = _upload_session(graph, path, attachment, chunk_bytes, on_event)
        on_event("completed" if attempted.outcome is Outcome.SENT else "failed", 1)
        if attempted.outcome is not Outcome.SENT:
            return attempted
    return None


def _upload_session(
    graph: _Graph, path: str, attachment: Attachment, chunk_bytes: int, on_event: Events
) -> Attempted:
    """Create an upload session for `attachment` and upload it; SENT once the last range is in."""
    item: dict[str, Any] = {
        "attachmentType": "file",
        "name": attachment.filename,
        "size": len(attachment.data),
        "contentType": attachment.content_type,
        "isInline": attachment.inline,
    }
    if attachment.content_id:
        item["contentId"] = attachment.content_id
    created = graph.call(
        "POST", f"{path}/createUploadSession", encode_payload({"AttachmentItem": item})
    )
    url = (created.body or {}).get("uploadUrl")
    if created.outcome is not Outcome.SENT or not isinstance(url, str):
        return created
    return _Upload(graph, url, attachment.data, chunk_bytes, on_event).run()


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

    def run(self) -> Attempted:
        size = len(self.data)
        offset: int | None = 0  # None: ask the server where to resume
        failures, stalled_since = 0, time.monotonic()
        while True:
            answer = self._status() if offset is None else self._put(offset)
            reached = answer.next_offset
            if reached is not None and reached > self.confirmed:
                self.on_event("bytes", reached - self.confirmed)
                self.confirmed = reached
                failures, stalled_since = 0, time.monotonic()
            if reached is not None and reached >= size:
                return answer.attempted
            if reached is not None and (offset is None or reached > offset):
                offset = reached
                continue
            failures += 1
            attempted = answer.attempted
            if attempted.outcome is Outcome.SENT:
                detail = "a range was accepted but nextExpectedRanges did not move on"
                attempted = replace(attempted, outcome=Outcome.TRANSIENT, detail=detail)
            # Ranges are safe to send again once the server has said where it stands, so an
            # ambiguous answer is as retriable here as a transient one.
            outcome = attempted.outcome
            retry = Outcome.TRANSIENT if outcome is Outcome.AMBIGUOUS else outcome
            elapsed = time.monotonic() - stalled_since
            wait = next_wait(retry, failures, elapsed, answer.retry_after, self.graph.backoff)
            if wait is None:
                return attempted
            self.graph.sleep(wait)
            offset = None

    def _put(self, offset: int) -> _Answer:
        size = len(self.data)
        end = min(offset + self.chunk_bytes, size)
        headers = {
            "Content-Range": f"bytes {offset}-{end - 1}/{size}",
            "Content-Length": str(end - offset),  # also keeps httpx from chunked encoding
            "Content-Type": "application/octet-stream",
        }
        return self._exchange("PUT", _pieces(self.data, offset, end), headers)

    def _status(self) -> _Answer:
        return self._exchange("GET")

    def _exchange(
        self,
        method: str,
        content: Iterator[bytes] | None = None,
        headers: dict[str, str] | None = None,
    ) -> _Answer:
        """One request to the upload URL, without any Authorization header: Graph refuses one."""
        self.requests += 1
        request = self.graph.client.build_request(
            method, self.url, content=content, headers=headers
        )
        request.headers.pop("Authorization", None)
        try:
            response = self.graph.client.send(request, auth=None)
        except httpx.TransportError as exc:
            return _Answer(failed_attempt(exc, self.requests))
        body = json_body(response)
        reasons = error_reasons(body)
        status = response.status_code
        outcome = classify("outlook", status, response.headers, reasons)
        attempted = Attempted(outcome, self.requests, status, body, reasons)
        if status == 201 and method == "PUT":
            return _Answer(attempted, len(self.data))
        next_offset = _next_expected(body) if outcome is Outcome.SENT else None
        if outcome is Outcome.SENT and next_offset is None:
            detail = f"HTTP {status} without nextExpectedRanges"
            attempted = Attempted(Outcome.PERMANENT, self.requests, status, body, detail=detail)
        wall = retry_after_seconds(response.headers.get("retry-after"), time.time())
        return _Answer(attempted, next_offset, wall)


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
