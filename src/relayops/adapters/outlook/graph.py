"""Translate a Message into the JSON body of Microsoft Graph `POST /me/sendMail`."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import Any

import pybase64

from relayops.adapters.message import Attachment, Message
from relayops.adapters.mime import check_header
from relayops.adapters.splice import splice, stand_in

# Graph refuses request bodies over 4 MB (about 3 MB of attachments once base64-encoded), for
# sendMail, a draft and an attachment POST alike; counted in decimal megabytes to stay on the
# safe side. Larger messages need the draft and upload-session path.
REQUEST_LIMIT_BYTES = 4_000_000

# Graph answers 400 to more than 5 internetMessageHeaders, and to an empty list.
MAX_CUSTOM_HEADERS = 5


def graph_payload(message: Message, *, save_to_sent_items: bool) -> dict[str, Any]:
    """The sendMail request body.

    Graph has no multipart/alternative: when the message has HTML the body is the HTML alone and
    `message.text` is dropped. There is no "from": /me sends as the mailbox the token belongs to.
    Empty cc, bcc, attachment and header lists are left out.
    """
    if message.inline and message.html is None:
        raise ValueError("inline attachments need an HTML body to reference them")
    body = (
        {"contentType": "HTML", "content": message.html}
        if message.html is not None
        else {"contentType": "Text", "content": message.text}
    )
    graph_message: dict[str, Any] = {
        "subject": message.subject,
        "body": body,
        "toRecipients": _recipients(message.to),
    }
    optional = {
        "ccRecipients": _recipients(message.cc),
        "bccRecipients": _recipients(message.bcc),
        "attachments": [_attachment(a) for a in message.attachments],
        "internetMessageHeaders": _headers(message.headers),
    }
    if message.message_id is not None:
        optional["internetMessageId"] = message.message_id.header
    graph_message.update({key: value for key, value in optional.items() if value})
    return {"message": graph_message, "saveToSentItems": save_to_sent_items}


def encode_payload(payload: dict[str, Any]) -> bytes:
    """The request body as sent: compact, ASCII-only JSON. Send these bytes so the size checked
    is the size sent."""
    return json.dumps(payload, separators=(",", ":")).encode("ascii")


@dataclass(frozen=True)
class StandInBody:
    """An encoded JSON body with a short stand-in where each attachment's base64 goes.

    json.dumps scans every character of every string for escapes, megabytes of base64 included.
    So each attachment's contentBytes is a stand-in while the JSON is written; `spliced()` then
    puts the base64, which never needs escaping, in its place. `size` is the length of the
    spliced body, known before any attachment is encoded.
    """

    skeleton: bytes
    contents: dict[bytes, bytes]  # each stand-in as written in the JSON -> the attachment data

    @property
    def size(self) -> int:
        encoded = sum(
            2 + 4 * -(-len(data) // 3) - len(piece) for piece, data in self.contents.items()
        )
        return len(self.skeleton) + encoded

    def spliced(self) -> bytes:
        return splice(
            self.skeleton,
            {
                piece: [b'"', pybase64.b64encode(data), b'"']
                for piece, data in self.contents.items()
            },
        )


def with_stand_ins(
    attachments: tuple[Attachment, ...],
) -> tuple[tuple[Attachment, ...], dict[bytes, bytes]]:
    """The attachments with short stand-ins for their data, and StandInBody's `contents`."""
    contents: dict[bytes, bytes] = {}
    light = []
    for attachment in attachments:
        token = stand_in().encode()
        contents[b'"' + pybase64.b64encode(token) + b'"'] = attachment.data
        light.append(replace(attachment, data=token))
    return tuple(light), contents


def stand_in_body(message: Message, *, save_to_sent_items: bool) -> StandInBody:
    """The sendMail request body of `message`, attachments not yet encoded."""
    light, contents = with_stand_ins(message.attachments)
    payload = graph_payload(
        replace(message, attachments=light), save_to_sent_items=save_to_sent_items
    )
    return StandInBody(encode_payload(payload), contents)


def graph_body(message: Message, *, save_to_sent_items: bool) -> bytes:
    """`encode_payload(graph_payload(...))`, fast for large attachments (see StandInBody)."""
    return stand_in_body(message, save_to_sent_items=save_to_sent_items).spliced()


def payload_size(payload: dict[str, Any]) -> int:
    """Bytes of the encoded request body, to compare with REQUEST_LIMIT_BYTES."""
    return len(encode_payload(payload))


def _recipients(addresses: tuple[str, ...]) -> list[dict[str, Any]]:
    return [{"emailAddress": {"address": address}} for address in addresses]


def _attachment(attachment: Attachment) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "@odata.type": "#microsoft.graph.fileAttachment",
        "name": attachment.filename,
        "contentType": attachment.content_type,
        "contentBytes": pybase64.b64encode(attachment.data).decode("ascii"),
        "isInline": attachment.inline,
    }
    if attachment.inline:
        if not attachment.content_id:
            raise ValueError(f"inline {attachment.filename!r} needs a content_id")
        entry["contentId"] = attachment.content_id
    return entry


def _headers(headers: dict[str, str]) -> list[dict[str, str]]:
    """Graph takes only custom headers, named X-… or x-…."""
    if len(headers) > MAX_CUSTOM_HEADERS:
        raise ValueError(f"Graph takes at most {MAX_CUSTOM_HEADERS} custom headers")
    for name, value in headers.items():
        check_header(name, value)
        if not name.lower().startswith("x-"):
            raise ValueError(f"Graph accepts only X- headers, not {name!r}")
    return [{"name": name, "value": value} for name, value in headers.items()]
