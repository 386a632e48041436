"""Fake Microsoft Graph mail API: sendMail (202, empty body) and a Sent Items listing.

The sendMail payload is checked as Graph's OData reader does (unknown properties, types) and as
Outlook does (recipients, fileAttachment shape, `x-` custom headers), with Graph-style errors.
"""

from __future__ import annotations

import base64
import binascii
import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from adapters.fakes.faults import FaultPlan
from adapters.fakes.server import FakeServer, Request, Response, Route

REQUEST_LIMIT = 4 * 1024 * 1024
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
class GraphMessage:
    id: str
    mailbox: str  # "me" or the {id} of /users/{id}
    message: dict[str, Any]  # the `message` object as posted
    internet_message_id: str
    saved_to_sent_items: bool
    sent_at: datetime

    @property
    def internet_message_headers(self) -> list[dict[str, str]]:
        return list(self.message.get("internetMessageHeaders") or [])

    def header(self, name: str) -> str | None:
        if name.lower() == "message-id":
            return self.internet_message_id
        for header in self.internet_message_headers:
            if header["name"].lower() == name.lower():
                return header["value"]
        return None

    def attachment_bytes(self) -> dict[str, bytes]:
        return {a["name"]: base64.b64decode(a["contentBytes"]) for a in self.attachments}

    @property
    def attachments(self) -> list[dict[str, Any]]:
        return list(self.message.get("attachments") or [])

    def resource(self) -> dict[str, Any]:
        """The message as Graph lists it; real Graph returns headers only with $select."""
        m = self.message
        return {
            "id": self.id,
            "subject": m.get("subject"),
            "body": m.get("body"),
            "from": m.get("from"),
            "toRecipients": m.get("toRecipients") or [],
            "ccRecipients": m.get("ccRecipients") or [],
            "bccRecipients": m.get("bccRecipients") or [],
            "hasAttachments": bool(self.attachments),
            "internetMessageId": self.internet_message_id,
            "internetMessageHeaders": self.internet_message_headers,
            "sentDateTime": self.sent_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "isDraft": False,
        }


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
    message = _object(payload["message"], "microsoft.graph.message")
    save = payload.get("saveToSentItems", True)
    if not isinstance(save, bool):
        raise _read_error("Cannot convert the literal to the expected type 'Edm.Boolean'.")
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
    if not any(_collection(message, n) for n in ("toRecipients", "ccRecipients", "bccRecipients")):
        raise GraphInvalid("ErrorInvalidRequest", "At least one recipient is required.")
    for attachment in _collection(message, "attachments"):
        _attachment(attachment)
    for header in _collection(message, "internetMessageHeaders"):
        _header(header)
    return message, save


class FakeGraph(FakeServer[GraphMessage]):
    """Graph mail on loopback, one mailbox. `tokens` is a mutable set of valid access tokens."""

    def __init__(
        self,
        tokens: Iterable[str] = (DEFAULT_TOKEN,),
        faults: FaultPlan | None = None,
        *,
        request_limit: int = REQUEST_LIMIT,
    ) -> None:
        self.tokens = set(tokens)
        self.request_limit = request_limit
        super().__init__(faults)

    def routes(self) -> list[Route]:
        return [
            Route("POST", re.compile(_MAILBOX + "/sendMail"), self._send_mail),
            Route(
                "GET",
                re.compile(_MAILBOX + "/mailFolders/(?i:sentitems)/messages"),
                self._sent_items,
            ),
        ]

    def body_limit(self, path: str) -> int:
        return self.request_limit

    def error_response(self, status: int, message: str | None = None) -> Response:
        return _response(status, graph_error(status, message=message))

    @property
    def sent_items(self) -> list[GraphMessage]:
        return [d for d in self.deliveries if d.saved_to_sent_items]

    def _authorize(self, request: Request) -> Response | None:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and token.strip() in self.tokens:
            return None
        text = "Access token is empty." if not token.strip() else "Access token validation failure."
        body = graph_error(401, "InvalidAuthenticationToken", text)
        return _response(401, body, **{"WWW-Authenticate": _AUTH_CHALLENGE})

    def _send_mail(self, request: Request, match: re.Match[str]) -> Response:
        if (denied := self._authorize(request)) is not None:
            return denied
        try:
            payload = request.json()
        except ValueError:
            return _response(
                400,
                graph_error(
                    400,
                    "BadRequest",
                    "Unable to read JSON request payload. Please ensure Content-Type header is "
                    "set and payload is of valid JSON format.",
                ),
            )
        try:
            message, save = validate_send_mail(payload)
        except GraphInvalid as invalid:
            return _response(400, graph_error(400, invalid.code, invalid.message))
        internet_id = message.get("internetMessageId") or f"<{uuid.uuid4().hex}@relay.fake>"
        stored = GraphMessage(
            id=f"AAMkAD{uuid.uuid4().hex}",
            mailbox=match["user"] or "me",
            message=message,
            internet_message_id=internet_id,
            saved_to_sent_items=save,
            sent_at=datetime.now(UTC),
        )
        self.deliver(stored)
        return _response(202, None)

    def _sent_items(self, request: Request, _: re.Match[str]) -> Response:
        if (denied := self._authorize(request)) is not None:
            return denied
        unsupported = sorted(set(request.query) - {"$select", "$top"})
        if unsupported:
            return self.error_response(501, f"The fake does not implement {unsupported[0]} yet.")
        items = [d.resource() for d in reversed(self.sent_items)]
        if select := request.param("$select"):
            fields = {"id", *(f.strip() for f in select.split(","))}
            items = [{k: v for k, v in item.items() if k in fields} for item in items]
        if top := request.param("$top"):
            if not top.isdigit():
                return self.error_response(400, f"Invalid $top value '{top}'.")
            items = items[: int(top)]
        return _response(200, {"value": items})
