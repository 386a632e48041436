"""Fake Gmail API: users.messages.send (JSON `raw`, media and resumable upload) and an
rfc822msgid search."""

from __future__ import annotations

import base64
import binascii
import itertools
import re
import secrets
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from http import HTTPStatus
from typing import Any, cast
from urllib.parse import urlencode

from relayops.fakes.faults import FaultPlan
from relayops.fakes.server import FakeServer, Request, Response, Route, bare_id

JSON_LIMIT = 5 * 1024 * 1024
UPLOAD_LIMIT = 35 * 1024 * 1024
UPLOAD_QUANTUM = 256 * 1024  # every resumable chunk but the last is a multiple of this
DEFAULT_TOKEN = "gmail-test-token"

# Google's canonical status and the usual `errors[].reason` for each HTTP status.
_STATUS = {
    400: ("INVALID_ARGUMENT", "invalidArgument"),
    401: ("UNAUTHENTICATED", "authError"),
    403: ("PERMISSION_DENIED", "forbidden"),
    404: ("NOT_FOUND", "notFound"),
    405: ("INVALID_ARGUMENT", "httpMethodNotAllowed"),
    413: ("FAILED_PRECONDITION", "uploadTooLarge"),
    429: ("RESOURCE_EXHAUSTED", "rateLimitExceeded"),
    500: ("INTERNAL", "backendError"),
    502: ("UNAVAILABLE", "backendError"),
    503: ("UNAVAILABLE", "backendError"),
    504: ("DEADLINE_EXCEEDED", "backendError"),
}
_AUTH_INVALID = (
    "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie "
    "or other valid authentication credential."
)
_AUTH_MISSING = (
    "Request is missing required authentication credential. Expected OAuth 2 access token, login "
    "cookie or other valid authentication credential."
)
_B64 = re.compile(r"[A-Za-z0-9+/_-]*={0,2}")
_USER = r"/gmail/v1/users/(?P<user>[^/]+)/messages"
_CONTENT_RANGE = re.compile(r"bytes (?:(?P<first>[0-9]+)-(?P<last>[0-9]+)|\*)/(?P<total>[0-9]+)")
_DIGITS = re.compile(r"[0-9]+")


def _phrase(code: int) -> str:
    try:
        return HTTPStatus(code).phrase
    except ValueError:
        return "Error"


def gmail_error(
    code: int, message: str | None = None, reason: str | None = None, status: str | None = None
) -> dict[str, Any]:
    """A Google API error body; e.g. `gmail_error(403, reason="userRateLimitExceeded")`."""
    fallback = ("FAILED_PRECONDITION", "badRequest") if code < 500 else ("INTERNAL", "backendError")
    default_status, default_reason = _STATUS.get(code, fallback)
    reason = reason or default_reason
    if message is None:
        message = _phrase(code)
    domain = "usageLimits" if reason.lower().endswith("ratelimitexceeded") else "global"
    return {
        "error": {
            "code": code,
            "message": message,
            "errors": [{"message": message, "domain": domain, "reason": reason}],
            "status": status or default_status,
        }
    }


@dataclass(frozen=True)
class GmailMessage:
    id: str
    thread_id: str
    raw: bytes  # exactly the RFC 5322 bytes received
    mime: EmailMessage
    label_ids: tuple[str, ...]
    via: str  # "json", "upload" (media) or "resumable"
    stored_at: float  # time.monotonic()

    def header(self, name: str) -> str | None:
        value = self.mime.get(name)
        return None if value is None else str(value)


def decode_raw(text: str) -> bytes | None:
    """Decode `raw`: base64url or base64, padded or not (proto3 JSON bytes); None if invalid."""
    if not _B64.fullmatch(text):
        return None
    body = text.rstrip("=").translate(str.maketrans("-_", "+/"))
    if len(body) % 4 == 1:
        return None
    try:
        return base64.b64decode(body + "=" * (-len(body) % 4), validate=True)
    except binascii.Error:
        return None


def _refuse_media_type(media_type: str) -> str | None:
    if media_type.startswith("message/"):
        return None
    return f"Media type '{media_type}' is not supported. Valid media types: [message/*]"


def _recipient_count(mime: EmailMessage) -> int:
    headers: Iterable[Any] = itertools.chain.from_iterable(
        mime.get_all(name, []) for name in ("To", "Cc", "Bcc")
    )
    return sum(
        1
        for header in headers
        for address in getattr(header, "addresses", ())
        if "@" in address.addr_spec
    )


@dataclass
class _Upload:
    """One resumable upload session: the bytes received so far, then its final answer.

    Stricter than Google: the size is declared when the session opens, and every PUT carries a
    Content-Range (no single-request upload without one).
    """

    total: int
    thread_id: str | None
    data: bytearray = field(default_factory=bytearray)
    final: Response | None = None

    def incomplete(self) -> Response:
        """308 Resume Incomplete with the bytes received so far (no Range when none)."""
        headers = {"Range": f"bytes=0-{len(self.data) - 1}"} if self.data else {}
        return Response(308, b"", headers)

    def take(self, content_range: str, body: bytes) -> str | None:
        """Store a chunk (bytes already received are skipped); what is wrong with it, if any."""
        match = _CONTENT_RANGE.fullmatch(content_range.strip())
        if match is None:
            return "Content-Range must be 'bytes <first>-<last>/<total>' or 'bytes */<total>'."
        if int(match["total"]) != self.total:
            return f"Content-Range total {match['total']} is not the declared {self.total} bytes."
        if match["first"] is None:
            return "A status query (bytes */<total>) has no body." if body else None
        first, last, received = int(match["first"]), int(match["last"]), len(self.data)
        if not first <= last < self.total or len(body) != last - first + 1:
            return f"Content-Range {content_range!r} does not fit a {len(body)}-byte body."
        if first > received:
            return f"The chunk starts at byte {first}, but only {received} bytes were received."
        if last + 1 < self.total and len(body) % UPLOAD_QUANTUM:
            return (
                f"A {len(body)}-byte chunk that is not the last must be a multiple of "
                f"{UPLOAD_QUANTUM} bytes."
            )
        self.data += body[received - first :]
        return None

    @property
    def complete(self) -> bool:
        return len(self.data) == self.total


class FakeGmail(FakeServer[GmailMessage]):
    """Gmail API on loopback. `tokens` is a mutable set: a test may revoke or add tokens."""

    def __init__(
        self,
        tokens: Iterable[str] = (DEFAULT_TOKEN,),
        faults: FaultPlan | None = None,
        *,
        json_limit: int = JSON_LIMIT,
        upload_limit: int = UPLOAD_LIMIT,
        index_delay: float = 0.0,
    ) -> None:
        self.tokens = set(tokens)
        self.json_limit = json_limit
        self.upload_limit = upload_limit
        self.index_delay = index_delay  # seconds before a sent message shows in search
        self._ids = itertools.count(0x18C0_0000_0000_0000 + secrets.randbelow(1 << 40))
        self._uploads: dict[str, _Upload] = {}  # by upload_id
        self._uploads_lock = threading.Lock()
        super().__init__(faults)

    def routes(self) -> list[Route]:
        return [
            Route("POST", re.compile(_USER + "/send"), self._send_json),
            Route("POST", re.compile("/upload" + _USER + "/send"), self._send_upload),
            Route("PUT", re.compile("/upload" + _USER + "/send"), self._upload_chunk),
            Route("GET", re.compile(_USER), self._search),
        ]

    def body_limit(self, path: str) -> int:
        return self.upload_limit if path.startswith("/upload/") else self.json_limit

    def error_response(self, status: int, message: str | None = None) -> Response:
        if status == 413 and message is None:
            message = "Request payload size exceeds the limit."
        return Response.json(status, gmail_error(status, message))

    def _authorize(self, request: Request) -> Response | None:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and token.strip() in self.tokens:
            return None
        body = gmail_error(401, _AUTH_MISSING if not token.strip() else _AUTH_INVALID)
        body["error"]["errors"][0] |= {"location": "Authorization", "locationType": "header"}
        challenge = 'Bearer realm="https://accounts.google.com/", error="invalid_token"'
        return Response.json(401, body, {"WWW-Authenticate": challenge})

    def _send_json(self, request: Request, _: re.Match[str]) -> Response:
        if (denied := self._authorize(request)) is not None:
            return denied
        try:
            payload = request.json()
        except ValueError:
            return self.error_response(400, "Invalid JSON payload received.")
        raw_text = payload.get("raw") if isinstance(payload, dict) else None
        if not isinstance(raw_text, str) or not raw_text:
            return self.error_response(
                400,
                "'raw' RFC822 payload message string or uploading message via /upload/* URL "
                "required",
            )
        raw = decode_raw(raw_text)
        if raw is None:
            return self.error_response(
                400, "Invalid value at 'message.raw' (TYPE_BYTES), Base64 decoding failed"
            )
        thread_id = payload.get("threadId")
        if thread_id is not None and not isinstance(thread_id, str):
            return self.error_response(400, "Invalid value at 'message.thread_id' (TYPE_STRING)")
        return self._accept(raw, thread_id, "json")

    def _send_upload(self, request: Request, _: re.Match[str]) -> Response:
        if (denied := self._authorize(request)) is not None:
            return denied
        match request.param("uploadType"):
            case "media":
                return self._send_media(request)
            case "resumable":
                return self._initiate(request)
        return self.error_response(400, "This fake implements only uploadType=media and resumable.")

    def _send_media(self, request: Request) -> Response:
        media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if (refused := _refuse_media_type(media_type)) is not None:
            return self.error_response(400, refused)
        return self._accept(request.body, None, "upload")

    def _initiate(self, request: Request) -> Response:
        """Open a resumable session; its URI (the Location) is the request's plus upload_id."""
        media_type = request.headers.get("x-upload-content-type", "").split(";")[0].strip()
        if (refused := _refuse_media_type(media_type.lower())) is not None:
            return self.error_response(400, refused)
        length = request.headers.get("x-upload-content-length", "").strip()
        if not _DIGITS.fullmatch(length) or int(length) == 0:
            return self.error_response(
                400, "This fake needs X-Upload-Content-Length, the message size in bytes."
            )
        if int(length) > self.upload_limit:
            return self.error_response(413)
        thread_id = None
        if request.body:
            try:
                metadata = request.json()
            except ValueError:
                return self.error_response(400, "Invalid JSON payload received.")
            thread_id = metadata.get("threadId") if isinstance(metadata, dict) else None
            if thread_id is not None and not isinstance(thread_id, str):
                return self.error_response(
                    400, "Invalid value at 'message.thread_id' (TYPE_STRING)"
                )
        upload_id = secrets.token_urlsafe(24)
        with self._uploads_lock:
            self._uploads[upload_id] = _Upload(int(length), thread_id)
        query = urlencode({**request.query, "upload_id": [upload_id]}, doseq=True)
        return Response(200, b"", {"Location": f"{self.url}{request.path}?{query}"})

    def _upload_chunk(self, request: Request, _: re.Match[str]) -> Response:
        """A chunk or a status query; the session URI is the credential, as at Google."""
        with self._uploads_lock:
            upload = self._uploads.get(request.param("upload_id") or "")
            if upload is None:
                return self.error_response(404, "No upload session with this upload_id.")
            if upload.final is not None:
                return upload.final
            content_range = request.headers.get("content-range", "")
            if (refused := upload.take(content_range, request.body)) is not None:
                return self.error_response(400, refused)
            if not upload.complete:
                return upload.incomplete()
            upload.final = self._accept(bytes(upload.data), upload.thread_id, "resumable")
            return upload.final

    def _accept(self, raw: bytes, thread_id: str | None, via: str) -> Response:
        mime = cast(EmailMessage, BytesParser(policy=policy.default).parsebytes(raw))
        if not mime.keys():
            return self.error_response(400, "Invalid RFC 5322 message: no header section.")
        if _recipient_count(mime) == 0:
            return self.error_response(400, "Recipient address required")
        if "From" in mime and not getattr(mime["From"], "addresses", ()):
            return self.error_response(400, "Invalid From header")
        with self._lock:
            message_id = f"{next(self._ids):016x}"
            known = {d.thread_id for d in self._deliveries}
        thread = thread_id if thread_id in known else message_id
        stored = GmailMessage(message_id, thread, raw, mime, ("SENT",), via, time.monotonic())
        self.deliver(stored)
        return Response.json(200, {"id": stored.id, "threadId": thread, "labelIds": ["SENT"]})

    def _search(self, request: Request, _: re.Match[str]) -> Response:
        if (denied := self._authorize(request)) is not None:
            return denied
        cutoff = time.monotonic() - self.index_delay
        found = [d for d in reversed(self.deliveries) if d.stored_at <= cutoff]
        query = request.param("q")
        if query:
            match = re.fullmatch(r"\s*rfc822msgid:(\S+)\s*", query)
            if match is None:
                return self.error_response(400, "This fake implements only q=rfc822msgid:<id>.")
            wanted = bare_id(match[1])
            found = [d for d in found if bare_id(d.header("Message-ID") or "") == wanted]
        if not found:
            return Response.json(200, {"resultSizeEstimate": 0})
        messages = [{"id": d.id, "threadId": d.thread_id} for d in found]
        return Response.json(200, {"messages": messages, "resultSizeEstimate": len(messages)})
