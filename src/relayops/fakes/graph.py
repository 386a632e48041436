"""Fake Microsoft Graph mail API: sendMail (202, empty body), drafts with attachment upload
sessions and draft send (the large-message path), and Sent Items / Drafts listings.

Payloads are checked as Graph's OData reader does (unknown properties, types) and as Outlook
does (recipients, fileAttachment shape, `x-` custom headers), with Graph-style errors. Upload
URLs are pre-authenticated like Graph's: a token in the query string, and a request carrying an
Authorization header is refused.
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets
import threading
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from relayops.fakes.faults import FaultPlan
from relayops.fakes.server import Drop, FakeServer, Request, Response, Route

# Limits as Microsoft documents them, in decimal megabytes where the documentation says "MB"
# (README, "Provider limits", gives each source).
REQUEST_LIMIT = 4_000_000  # a request body: sendMail, a draft, an attachment POST
UPLOAD_RANGE_LIMIT = 4_000_000  # bytes in one PUT to an upload URL ("up to 4 MB")
UPLOAD_SESSION_LIMIT = 150 * 1024 * 1024  # largest attachment an upload session takes
# Smallest attachment an upload session takes (ErrorAttachmentSizeShouldNotBeLessThanMinimumSize).
# Microsoft's guidance says "3 MB or more" without the exact figure; 2 MiB is the minimum
# measured against Graph (see README). With 4,000,000-byte request bodies, files from about
# 2,999,900 bytes no longer fit an attachment POST: a 3,000,000-byte minimum would leave
# them no route at all.
UPLOAD_SESSION_MIN = 2 * 1024 * 1024
DEFAULT_TOKEN = "graph-test-token"
FILE_ATTACHMENT = "#microsoft.graph.fileAttachment"
JSON_TYPE = "application/json; odata.metadata=minimal; odata.streaming=true; charset=utf-8"

_CODES = {
    400: "BadRequest",
    401: "InvalidAuthenticationToken",
    403: "ErrorAccessDenied",
    404: "ResourceNotFound",
    405: "MethodNotAllowed",
    413: "ErrorRequestEntityTooLarge",
    416: "RequestedRangeNotSatisfiable",
    429: "ApplicationThrottled",
    500: "ErrorInternalServerError",
    501: "NotImplemented",
    502: "BadGateway",
    503: "ServiceUnavailable",
    504: "GatewayTimeout",
}
_MESSAGES = {413: "The maximum request length supported is 4MB.", 429: "Too many requests."}
_MESSAGE_PROPERTIES = frozenset(
    {
        "@odata.type", "attachments", "bccRecipients", "body", "categories", "ccRecipients",
        "extensions", "flag", "from", "importance", "inferenceClassification",
        "internetMessageHeaders", "internetMessageId", "isDeliveryReceiptRequested", "isRead",
        "isReadReceiptRequested", "multiValueExtendedProperties", "replyTo", "sender",
        "singleValueExtendedProperties", "subject", "toRecipients",
    }
)  # fmt: skip
_ATTACHMENT_PROPERTIES = frozenset(
    {
        "@odata.type", "contentBytes", "contentId", "contentLocation", "contentType", "id",
        "isInline", "lastModifiedDateTime", "name", "size",
    }
)  # fmt: skip
_ADDRESS = re.compile(r"[^@\s]+@[^@\s]+")
_MAILBOX = r"/v1\.0/(?:me|users/(?P<user>[^/]+))"
_MESSAGE = _MAILBOX + r"/messages/(?P<id>[^/]+)"
_UPLOAD_PATH = re.compile(
    r"/api/v2\.0/Users\('(?P<user>[^']+)'\)/Messages\('(?P<draft>[^']+)'\)"
    r"/AttachmentSessions\('(?P<session>[^']+)'\)"
)
# Oversized ranges are read (up to this) so that the upload handler, not the 413 guard, refuses.
_UPLOAD_BODY_LIMIT = 2 * UPLOAD_RANGE_LIMIT
_CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+)")
_FILTER = re.compile(r"\s*internetMessageId\s+eq\s+'((?:[^']|'')*)'\s*")
_FOLDERS = ("sentitems", "drafts")
_SESSION_LIFETIME = timedelta(minutes=15)
_UPLOAD_ITEM_PROPERTIES = frozenset(
    {"attachmentType", "contentId", "contentType", "isInline", "name", "size"}
)
# PidTagDeleteAfterSubmit: a draft carrying it true is not kept in Sent Items once sent.
DELETE_AFTER_SUBMIT = "Boolean 0x0E01"
NOT_FOUND = "The specified object was not found in the store."
_AUTH_CHALLENGE = (
    'Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/'
    'authorize", client_id="00000003-0000-0000-c000-000000000000"'
)


def graph_error(status: int, code: str | None = None, message: str | None = None) -> dict[str, Any]:
    """A Graph error body; `innerError` carries a fresh request-id like Graph's."""
    return {
        "error": {
            "code": code or _CODES.get(status, "UnknownError"),
            "message": message or _MESSAGES.get(status, f"HTTP {status}"),
            "innerError": {
                "date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S"),
                "request-id": str(uuid.uuid4()),
                "client-request-id": str(uuid.uuid4()),
            },
        }
    }


def _response(status: int, body: dict[str, Any] | None, **headers: str) -> Response:
    request_id = body["error"]["innerError"]["request-id"] if body and "error" in body else None
    merged = {"request-id": request_id or str(uuid.uuid4()), **headers}
    if body is None:
        return Response(status, b"", merged)
    return Response.json(status, body, merged, content_type=JSON_TYPE)


@dataclass(frozen=True)
class StoredAttachment:
    """A file attachment held by a draft or a message sent from one: the bytes, not base64."""

    id: str
    name: str
    content_type: str | None
    data: bytes
    is_inline: bool = False
    content_id: str | None = None

    @classmethod
    def from_json(cls, attachment: Mapping[str, Any]) -> StoredAttachment:
        """From a validated fileAttachment object."""
        return cls(
            _new_id("AAMkAtt"),
            attachment["name"],
            attachment.get("contentType"),
            base64.b64decode(attachment["contentBytes"]),
            attachment.get("isInline", False),
            attachment.get("contentId"),
        )

    def resource(self) -> dict[str, Any]:
        return {
            "@odata.type": FILE_ATTACHMENT,
            "id": self.id,
            "name": self.name,
            "contentType": self.content_type,
            "size": len(self.data),
            "isInline": self.is_inline,
            "contentId": self.content_id,
        }


@dataclass(frozen=True)
class GraphMessage:
    id: str
    mailbox: str  # "me" or the {id} of /users/{id}
    message: dict[str, Any]  # the `message` object as posted (a draft's: without attachments)
    internet_message_id: str
    saved_to_sent_items: bool
    sent_at: datetime
    draft_attachments: tuple[StoredAttachment, ...] = ()  # when sent from a draft

    @property
    def internet_message_headers(self) -> list[dict[str, str]]:
        return list(self.message.get("internetMessageHeaders") or [])

    def header(self, name: str) -> str | None:
        if name.lower() == "message-id":
            return self.internet_message_id
        return _header_value(self.internet_message_headers, name)

    def attachment_bytes(self) -> dict[str, bytes]:
        posted = {a["name"]: base64.b64decode(a["contentBytes"]) for a in self.attachments}
        return posted | {a.name: a.data for a in self.draft_attachments}

    @property
    def attachments(self) -> list[dict[str, Any]]:
        return list(self.message.get("attachments") or [])

    def resource(self) -> dict[str, Any]:
        """The message as Graph lists it; real Graph returns headers only with $select."""
        has_attachments = bool(self.attachments or self.draft_attachments)
        return _resource(self.id, self.message, self.internet_message_id, has_attachments) | {
            "sentDateTime": _timestamp(self.sent_at),
            "isDraft": False,
        }


@dataclass
class Draft:
    id: str
    mailbox: str
    message: dict[str, Any]  # as posted, without its attachments
    internet_message_id: str
    created_at: datetime
    attachments: list[StoredAttachment] = field(default_factory=list)

    def resource(self) -> dict[str, Any]:
        return _resource(
            self.id, self.message, self.internet_message_id, bool(self.attachments)
        ) | {
            "createdDateTime": _timestamp(self.created_at),
            "sentDateTime": None,
            "isDraft": True,
        }


@dataclass
class UploadSession:
    """An attachment upload in progress; `received` grows with each accepted range."""

    id: str
    draft_id: str
    mailbox: str
    token: str
    item: dict[str, Any]  # the validated AttachmentItem
    expires_at: datetime
    received: bytearray = field(default_factory=bytearray)

    @property
    def size(self) -> int:
        return int(self.item["size"])

    @property
    def path(self) -> str:
        return (
            f"/api/v2.0/Users('{self.mailbox}')/Messages('{self.draft_id}')"
            f"/AttachmentSessions('{self.id}')"
        )

    def status(self) -> dict[str, Any]:
        """For Outlook attachments nextExpectedRanges is the single value "{start}", not the
        "{start}-{end}" ranges of OneDrive (uploadSession resource, Microsoft Graph v1.0)."""
        return {
            "expirationDateTime": _timestamp(self.expires_at),
            "nextExpectedRanges": [str(len(self.received))],
        }


@dataclass
class UploadPut:
    """One PUT to an upload URL as received, faulted ones included."""

    session_id: str
    content_range: str | None
    size: int  # body bytes
    authorization: bool  # whether the request carried an Authorization header
    status: int | None = None  # None when the connection was dropped


def _new_id(prefix: str = "AAMkAD") -> str:
    return f"{prefix}{uuid.uuid4().hex}"


def _timestamp(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def _header_value(headers: Iterable[Mapping[str, str]], name: str) -> str | None:
    for header in headers:
        if header["name"].lower() == name.lower():
            return header["value"]
    return None


def _resource(
    id: str, message: Mapping[str, Any], internet_message_id: str, has_attachments: bool
) -> dict[str, Any]:
    return {
        "id": id,
        "subject": message.get("subject"),
        "body": message.get("body"),
        "from": message.get("from"),
        "toRecipients": message.get("toRecipients") or [],
        "ccRecipients": message.get("ccRecipients") or [],
        "bccRecipients": message.get("bccRecipients") or [],
        "hasAttachments": has_attachments,
        "internetMessageId": internet_message_id,
        "internetMessageHeaders": list(message.get("internetMessageHeaders") or []),
    }


def _deletes_after_submit(message: Mapping[str, Any]) -> bool:
    return any(
        isinstance(p, dict)
        and str(p.get("id", "")).lower() == DELETE_AFTER_SUBMIT.lower()
        and str(p.get("value", "")).lower() == "true"
        for p in message.get("singleValueExtendedProperties") or []
    )


class GraphInvalid(Exception):
    """A sendMail payload Graph would refuse with 400."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _read_error(message: str) -> GraphInvalid:
    return GraphInvalid("RequestBodyRead", message)


def _known(value: Mapping[str, Any], allowed: Iterable[str], type_name: str) -> None:
    for name in value:
        if name not in allowed:
            raise _read_error(
                f"The property '{name}' does not exist on type '{type_name}'. Make sure to only "
                "use property names that are defined by the type or mark the type as open type."
            )


def _object(value: Any, type_name: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _read_error(f"Cannot read the value as an object of type '{type_name}'.")
    return value


def _collection(message: Mapping[str, Any], name: str) -> list[Any]:
    value = message.get(name)
    if value is None:
        return []
    if not isinstance(value, list):
        raise _read_error(f"The property '{name}' must be a collection.")
    return value


def _string(value: Mapping[str, Any], name: str, required: bool = False) -> None:
    if name not in value or value[name] is None:
        if required:
            raise GraphInvalid("ErrorInvalidRequest", f"The property '{name}' is required.")
        return
    if not isinstance(value[name], str):
        raise _read_error(f"Cannot convert the value of '{name}' to the type 'Edm.String'.")


def _recipient(value: Any) -> None:
    recipient = _object(value, "microsoft.graph.recipient")
    _known(recipient, {"emailAddress"}, "microsoft.graph.recipient")
    address = _object(recipient.get("emailAddress"), "microsoft.graph.emailAddress")
    _known(address, {"address", "name"}, "microsoft.graph.emailAddress")
    _string(address, "name")
    if not isinstance(address.get("address"), str) or not _ADDRESS.fullmatch(address["address"]):
        raise GraphInvalid("ErrorInvalidRecipients", "At least one recipient isn't valid.")


def _attachment(value: Any) -> None:
    attachment = _object(value, "microsoft.graph.attachment")
    kind = attachment.get("@odata.type")
    if kind is None:
        raise GraphInvalid(
            "ErrorInvalidRequest", "The attachment's '@odata.type' is required to create it."
        )
    if kind != FILE_ATTACHMENT:
        raise _read_error(f"A type named '{kind}' could not be resolved by the model.")
    _known(attachment, _ATTACHMENT_PROPERTIES, "microsoft.graph.fileAttachment")
    _string(attachment, "name", required=True)
    _string(attachment, "contentType")
    _string(attachment, "contentId")
    _string(attachment, "contentBytes", required=True)
    if not isinstance(attachment.get("isInline", False), bool):
        raise _read_error("Cannot convert the value of 'isInline' to the type 'Edm.Boolean'.")
    try:
        base64.b64decode(attachment["contentBytes"], validate=True)
    except binascii.Error:
        raise GraphInvalid(
            "ErrorInvalidRequest", "The attachment's contentBytes is not valid base64."
        ) from None


def _header(value: Any) -> None:
    header = _object(value, "microsoft.graph.internetMessageHeader")
    _known(header, {"name", "value"}, "microsoft.graph.internetMessageHeader")
    _string(header, "name", required=True)
    _string(header, "value", required=True)
    if not header["name"].lower().startswith("x-"):
        raise GraphInvalid(
            "InvalidInternetMessageHeader",
            f"The internet message header name '{header['name']}' should start with 'x-' or 'X-'.",
        )


def _has_recipients(message: Mapping[str, Any]) -> bool:
    return any(_collection(message, n) for n in ("toRecipients", "ccRecipients", "bccRecipients"))


def validate_message(value: Any, *, draft: bool = False) -> dict[str, Any]:
    """A message object as sendMail or draft creation reads it; raises GraphInvalid. A draft
    may lack recipients until it is sent."""
    message = _object(value, "microsoft.graph.message")
    _known(message, _MESSAGE_PROPERTIES, "microsoft.graph.message")
    _string(message, "subject")
    _string(message, "internetMessageId")
    if message.get("body") is not None:
        body = _object(message["body"], "microsoft.graph.itemBody")
        _known(body, {"content", "contentType"}, "microsoft.graph.itemBody")
        _string(body, "content")
        if str(body.get("contentType", "text")).lower() not in ("text", "html"):
            raise _read_error(f"Requested value '{body['contentType']}' was not found.")
    for name in ("from", "sender"):
        if message.get(name) is not None:
            _recipient(message[name])
    for name in ("toRecipients", "ccRecipients", "bccRecipients", "replyTo"):
        for recipient in _collection(message, name):
            _recipient(recipient)
    if not draft and not _has_recipients(message):
        raise GraphInvalid("ErrorInvalidRequest", "At least one recipient is required.")
    for attachment in _collection(message, "attachments"):
        _attachment(attachment)
    for header in _collection(message, "internetMessageHeaders"):
        _header(header)
    return message


def validate_send_mail(payload: Any) -> tuple[dict[str, Any], bool]:
    """The message and saveToSentItems of a sendMail payload; raises GraphInvalid."""
    payload = _object(payload, "sendMail parameters")
    for name in payload:
        if name not in ("message", "saveToSentItems"):
            raise _read_error(
                f"The parameter '{name}' in the request payload is not a valid parameter for the "
                "operation 'sendMail'."
            )
    if payload.get("message") is None:
        raise GraphInvalid("ErrorInvalidRequest", "The 'message' parameter is required.")
    _object(payload["message"], "microsoft.graph.message")
    save = payload.get("saveToSentItems", True)
    if not isinstance(save, bool):
        raise _read_error("Cannot convert the literal to the expected type 'Edm.Boolean'.")
    return validate_message(payload["message"]), save


def validate_upload_item(payload: Any, minimum: int = UPLOAD_SESSION_MIN) -> dict[str, Any]:
    """The AttachmentItem of a createUploadSession payload; raises GraphInvalid. `minimum`:
    the smallest attachment size a session takes."""
    payload = _object(payload, "createUploadSession parameters")
    for name in payload:
        if name != "AttachmentItem":
            raise _read_error(
                f"The parameter '{name}' in the request payload is not a valid parameter for the "
                "operation 'createUploadSession'."
            )
    if payload.get("AttachmentItem") is None:
        raise GraphInvalid("ErrorInvalidRequest", "The 'AttachmentItem' parameter is required.")
    item = _object(payload["AttachmentItem"], "microsoft.graph.attachmentItem")
    _known(item, _UPLOAD_ITEM_PROPERTIES, "microsoft.graph.attachmentItem")
    if item.get("attachmentType") != "file":
        raise GraphInvalid(
            "ErrorInvalidRequest", "Only attachmentType 'file' can be uploaded to a message."
        )
    _string(item, "name", required=True)
    _string(item, "contentType")
    _string(item, "contentId")
    if not isinstance(item.get("isInline", False), bool):
        raise _read_error("Cannot convert the value of 'isInline' to the type 'Edm.Boolean'.")
    size = item.get("size")
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise GraphInvalid("ErrorInvalidRequest", "The property 'size' must be a positive Int64.")
    if size > UPLOAD_SESSION_LIMIT:
        raise GraphInvalid(
            "ErrorMessageSizeExceeded", "The message exceeds the maximum supported size."
        )
    if size < minimum:
        raise GraphInvalid(
            "ErrorAttachmentSizeShouldNotBeLessThanMinimumSize",
            "Attachment size must be greater than the minimum size.",
        )
    return item


def _payload(request: Request) -> Any:
    try:
        return request.json()
    except ValueError:
        raise GraphInvalid(
            "BadRequest",
            "Unable to read JSON request payload. Please ensure Content-Type header is set and "
            "payload is of valid JSON format.",
        ) from None


def _invalid(invalid: GraphInvalid) -> Response:
    return _response(400, graph_error(400, invalid.code, invalid.message))


def _not_found() -> Response:
    return _response(404, graph_error(404, "ErrorItemNotFound", NOT_FOUND))


class FakeGraph(FakeServer[GraphMessage]):
    """Graph mail on loopback, one mailbox. `tokens` is a mutable set of valid access tokens."""

    def __init__(
        self,
        tokens: Iterable[str] = (DEFAULT_TOKEN,),
        faults: FaultPlan | None = None,
        *,
        request_limit: int = REQUEST_LIMIT,
        upload_session_min: int = UPLOAD_SESSION_MIN,
    ) -> None:
        """`upload_session_min` can be lowered for tests of the range protocol itself."""
        self.tokens = set(tokens)
        self.request_limit = request_limit
        self.upload_session_min = upload_session_min
        self._state = threading.Lock()  # drafts, sessions and upload records
        self._drafts: dict[str, Draft] = {}
        self._sessions: dict[str, UploadSession] = {}
        self._puts: list[UploadPut] = []
        super().__init__(faults)

    def routes(self) -> list[Route]:
        upload = re.compile(_UPLOAD_PATH.pattern)
        return [
            Route("POST", re.compile(_MAILBOX + "/sendMail"), self._send_mail),
            Route("POST", re.compile(_MAILBOX + "/messages"), self._create_draft),
            Route("GET", re.compile(_MESSAGE), self._get_message),
            Route("GET", re.compile(_MESSAGE + "/attachments"), self._list_attachments),
            Route("DELETE", re.compile(_MESSAGE), self._delete_message),
            Route("POST", re.compile(_MESSAGE + "/attachments"), self._add_attachment),
            Route(
                "POST",
                re.compile(_MESSAGE + "/attachments/createUploadSession"),
                self._create_upload_session,
            ),
            Route("POST", re.compile(_MESSAGE + "/send"), self._send_draft),
            Route(
                "GET",
                re.compile(_MAILBOX + "/mailFolders/(?P<folder>[^/]+)/messages"),
                self._folder_messages,
            ),
            Route("PUT", upload, self._upload_range),
            Route("GET", upload, self._upload_status_undocumented),
            Route("DELETE", upload, self._upload_cancel),
        ]

    def body_limit(self, path: str) -> int:
        return _UPLOAD_BODY_LIMIT if _UPLOAD_PATH.fullmatch(path) else self.request_limit

    def error_response(self, status: int, message: str | None = None) -> Response:
        return _response(status, graph_error(status, message=message))

    def dispatch(self, request: Request) -> Response | Drop:
        """As the base, and every PUT to an upload URL recorded in `upload_puts`."""
        match = _UPLOAD_PATH.fullmatch(request.path)
        if request.method != "PUT" or match is None:
            return super().dispatch(request)
        record = UploadPut(
            match["session"],
            request.headers.get("content-range"),
            request.body_size,
            "authorization" in request.headers,
        )
        with self._state:
            self._puts.append(record)
        outcome = super().dispatch(request)
        if isinstance(outcome, Response):
            record.status = outcome.status
        return outcome

    @property
    def sent_items(self) -> list[GraphMessage]:
        return [d for d in self.deliveries if d.saved_to_sent_items]

    @property
    def drafts(self) -> list[Draft]:
        with self._state:
            return list(self._drafts.values())

    @property
    def upload_sessions(self) -> list[UploadSession]:
        """Open upload sessions, oldest first; `path` is what a FaultPlan fault matches."""
        with self._state:
            return list(self._sessions.values())

    @property
    def upload_puts(self) -> list[UploadPut]:
        with self._state:
            return list(self._puts)

    def _authorize(self, request: Request) -> Response | None:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and token.strip() in self.tokens:
            return None
        text = "Access token is empty." if not token.strip() else "Access token validation failure."
        body = graph_error(401, "InvalidAuthenticationToken", text)
        return _response(401, body, **{"WWW-Authenticate": _AUTH_CHALLENGE})

    # -- sendMail and folders -----------------------------------------------------------------
    def _send_mail(self, request: Request, match: re.Match[str]) -> Response:
        if (denied := self._authorize(request)) is not None:
            return denied
        try:
            message, save = validate_send_mail(_payload(request))
        except GraphInvalid as invalid:
            return _invalid(invalid)
        internet_id = message.get("internetMessageId") or _new_internet_id()
        stored = GraphMessage(
            id=_new_id(),
            mailbox=match["user"] or "me",
            message=message,
            internet_message_id=internet_id,
            saved_to_sent_items=save,
            sent_at=datetime.now(UTC),
        )
        self.deliver(stored)
        return _response(202, None)

    def _folder_messages(self, request: Request, match: re.Match[str]) -> Response:
        if (denied := self._authorize(request)) is not None:
            return denied
        folder = match["folder"].lower()
        if folder not in _FOLDERS:
            return self.error_response(501, f"The fake implements only the folders {_FOLDERS}.")
        unsupported = sorted(set(request.query) - {"$filter", "$select", "$top"})
        if unsupported:
            return self.error_response(501, f"The fake does not implement {unsupported[0]} yet.")
        if folder == "drafts":
            items = [d.resource() for d in reversed(self.drafts)]
        else:
            items = [d.resource() for d in reversed(self.sent_items)]
        if (condition := request.param("$filter")) is not None:
            found = _FILTER.fullmatch(condition)
            if found is None:
                return self.error_response(
                    501,
                    "The fake implements only $filter=internetMessageId eq '<id>', "
                    f"not {condition!r}.",
                )
            wanted = found[1].replace("''", "'")
            items = [item for item in items if item["internetMessageId"] == wanted]
        if select := request.param("$select"):
            fields = {"id", *(f.strip() for f in select.split(","))}
            items = [{k: v for k, v in item.items() if k in fields} for item in items]
        if top := request.param("$top"):
            if not top.isdigit():
                return self.error_response(400, f"Invalid $top value '{top}'.")
            items = items[: int(top)]
        return _response(200, {"value": items})

    # -- drafts -------------------------------------------------------------------------------
    def _create_draft(self, request: Request, match: re.Match[str]) -> Response:
        if (denied := self._authorize(request)) is not None:
            return denied
        try:
            message = validate_message(_payload(request), draft=True)
        except GraphInvalid as invalid:
            return _invalid(invalid)
        draft = Draft(
            id=_new_id(),
            mailbox=match["user"] or "me",
            message={k: v for k, v in message.items() if k != "attachments"},
            internet_message_id=message.get("internetMessageId") or _new_internet_id(),
            created_at=datetime.now(UTC),
            attachments=[
                StoredAttachment.from_json(a) for a in _collection(message, "attachments")
            ],
        )
        with self._state:
            self._drafts[draft.id] = draft
        return _response(201, draft.resource())

    def _get_message(self, request: Request, match: re.Match[str]) -> Response:
        if (denied := self._authorize(request)) is not None:
            return denied
        with self._state:
            draft = self._drafts.get(match["id"])
        if draft is not None:
            return _response(200, draft.resource())
        for sent in self.sent_items:
            if sent.id == match["id"]:
                return _response(200, sent.resource())
        return _not_found()

    def _list_attachments(self, request: Request, match: re.Match[str]) -> Response:
        """A draft's attachments (List attachments); $select is accepted and ignored."""
        if (denied := self._authorize(request)) is not None:
            return denied
        with self._state:
            draft = self._drafts.get(match["id"])
            listed = [a.resource() for a in draft.attachments] if draft is not None else None
        if listed is None:
            return _not_found()
        return _response(200, {"value": listed})

    def _delete_message(self, request: Request, match: re.Match[str]) -> Response:
        if (denied := self._authorize(request)) is not None:
            return denied
        if self._take_draft(match["id"]) is not None:
            return _response(204, None)
        if any(sent.id == match["id"] for sent in self.sent_items):
            return self.error_response(501, "The fake deletes only drafts.")
        return _not_found()

    def _add_attachment(self, request: Request, match: re.Match[str]) -> Response:
        if (denied := self._authorize(request)) is not None:
            return denied
        try:
            payload = _payload(request)
            _attachment(payload)
        except GraphInvalid as invalid:
            return _invalid(invalid)
        attachment = StoredAttachment.from_json(payload)
        with self._state:
            draft = self._drafts.get(match["id"])
            if draft is None:
                return _not_found()
            draft.attachments.append(attachment)
        return _response(201, attachment.resource())

    def _send_draft(self, request: Request, match: re.Match[str]) -> Response:
        if (denied := self._authorize(request)) is not None:
            return denied
        with self._state:
            draft = self._drafts.get(match["id"])
            if draft is not None and not _has_recipients(draft.message):
                invalid = GraphInvalid(
                    "ErrorInvalidRecipients", "At least one recipient is required."
                )
                return _invalid(invalid)
        if (draft := self._take_draft(match["id"])) is None:
            return _not_found()
        self.deliver(
            GraphMessage(
                id=_new_id(),
                mailbox=draft.mailbox,
                message=draft.message,
                internet_message_id=draft.internet_message_id,
                saved_to_sent_items=not _deletes_after_submit(draft.message),
                sent_at=datetime.now(UTC),
                draft_attachments=tuple(draft.attachments),
            )
        )
        return _response(202, None)

    def _take_draft(self, draft_id: str) -> Draft | None:
        """Remove a draft and its open upload sessions."""
        with self._state:
            draft = self._drafts.pop(draft_id, None)
            for session in [s for s in self._sessions.values() if s.draft_id == draft_id]:
                del self._sessions[session.id]
        return draft

    # -- upload sessions ----------------------------------------------------------------------
    def _create_upload_session(self, request: Request, match: re.Match[str]) -> Response:
        if (denied := self._authorize(request)) is not None:
            return denied
        try:
            item = validate_upload_item(_payload(request), self.upload_session_min)
        except GraphInvalid as invalid:
            return _invalid(invalid)
        with self._state:
            draft = self._drafts.get(match["id"])
            if draft is None:
                return _not_found()
            session = UploadSession(
                id=_new_id("AAMkSes"),
                draft_id=draft.id,
                mailbox=draft.mailbox,
                token=secrets.token_urlsafe(24),
                item=item,
                expires_at=datetime.now(UTC) + _SESSION_LIFETIME,
            )
            self._sessions[session.id] = session
        body = {
            "@odata.context": f"{self.url}/v1.0/$metadata#microsoft.graph.uploadSession",
            "uploadUrl": f"{self.url}{session.path}?authtoken={session.token}",
            **session.status(),
        }
        return _response(201, body)

    def _session(self, request: Request, match: re.Match[str]) -> UploadSession | Response:
        """The upload session a request to an upload URL addresses, or the refusal."""
        if "authorization" in request.headers:
            text = "The upload URL is pre-authenticated: send no Authorization header."
            return _response(401, graph_error(401, "InvalidAuthenticationToken", text))
        with self._state:
            session = self._sessions.get(match["session"])
        if session is None or session.draft_id != match["draft"]:
            return _not_found()
        if not secrets.compare_digest(request.param("authtoken") or "", session.token):
            return _response(
                401, graph_error(401, "InvalidAuthenticationToken", "Invalid authtoken.")
            )
        return session

    def _upload_range(self, request: Request, match: re.Match[str]) -> Response:
        session = self._session(request, match)
        if isinstance(session, Response):
            return session
        header = (request.headers.get("content-range") or "").strip()
        parsed = _CONTENT_RANGE.fullmatch(header)
        if parsed is None:
            return _range_error(400, f"Invalid Content-Range header {header!r}.")
        start, end, total = (int(n) for n in parsed.groups())
        if total != session.size or not start <= end < total:
            return _range_error(
                400, f"The range {header!r} is not within the session's {session.size} bytes."
            )
        length = end - start + 1
        if length > UPLOAD_RANGE_LIMIT:
            return _range_error(
                400, f"A range may hold at most {UPLOAD_RANGE_LIMIT} bytes, not {length}."
            )
        if request.body_size != length:
            return _range_error(
                400, f"The body has {request.body_size} bytes; the range says {length}."
            )
        with self._state:
            if self._sessions.get(session.id) is not session:
                return _not_found()
            if start != len(session.received):
                return _range_error(
                    416,
                    f"The range starts at {start}; the next expected byte is "
                    f"{len(session.received)}.",
                )
            session.received += request.body
            if len(session.received) < session.size:
                return _response(200, session.status())
            return self._complete(session)

    def _complete(self, session: UploadSession) -> Response:
        """Join the finished upload to its draft; called with `_state` held."""
        del self._sessions[session.id]
        item = session.item
        attachment = StoredAttachment(
            _new_id("AAMkAtt"),
            item["name"],
            item.get("contentType"),
            bytes(session.received),
            item.get("isInline", False),
            item.get("contentId"),
        )
        self._drafts[session.draft_id].attachments.append(attachment)
        location = (
            f"{self.url}/api/v2.0/Users('{session.mailbox}')/Messages('{session.draft_id}')"
            f"/Attachments('{attachment.id}')"
        )
        return _response(201, None, Location=location)

    def _upload_status_undocumented(self, request: Request, match: re.Match[str]) -> Response:
        """A status GET on the upload URL is documented for OneDrive, not for Outlook
        attachments: refused, so no client comes to rely on it."""
        session = self._session(request, match)
        if isinstance(session, Response):
            return session
        return _response(
            405,
            graph_error(
                405, "MethodNotAllowed", "An attachment upload URL takes PUT and DELETE only."
            ),
        )

    def _upload_cancel(self, request: Request, match: re.Match[str]) -> Response:
        session = self._session(request, match)
        if isinstance(session, Response):
            return session
        with self._state:
            self._sessions.pop(session.id, None)
        return _response(204, None)


def _new_internet_id() -> str:
    return f"<{uuid.uuid4().hex}@relay.fake>"


def _range_error(status: int, message: str) -> Response:
    code = "InvalidContentRange" if status == 400 else None
    return _response(status, graph_error(status, code, message))
