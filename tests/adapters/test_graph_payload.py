"""graph_payload: the sendMail JSON, header rules and the request size."""

from __future__ import annotations

import base64
import json
from dataclasses import replace

import pytest

from relayops.adapters.message import Attachment, Message
from relayops.adapters.outlook.graph import (
    MAX_CUSTOM_HEADERS,
    REQUEST_LIMIT_BYTES,
    encode_payload,
    graph_payload,
    payload_size,
)

LOGO = Attachment("logo.png", "image/png", b"\x89PNG\r\n\x00", inline=True, content_id="logo")
PDF = Attachment("Überweisung März.pdf", "application/pdf", b"%PDF-1.7\n\xff")
SMALL = Message(
    sender="relay@example.com",
    to=("anna@example.com",),
    subject="Hello",
    text="Plain text.\n",
)


def test_small_text_message_exact() -> None:
    assert graph_payload(SMALL, save_to_sent_items=True) == {
        "message": {
            "subject": "Hello",
            "body": {"contentType": "Text", "content": "Plain text.\n"},
            "toRecipients": [{"emailAddress": {"address": "anna@example.com"}}],
        },
        "saveToSentItems": True,
    }


def test_rich_message_exact() -> None:
    msg = replace(
        SMALL,
        to=("anna@example.com", "ben@example.org"),
        cc=("carla@example.net",),
        bcc=("audit@example.com",),
        subject="Prüfbericht — 東京 ✓",
        html='<p>Hi <img src="cid:logo"></p>',
        attachments=(LOGO, PDF),
        headers={"X-Relay-Idempotency-Key": "k-42"},
    )
    assert graph_payload(msg, save_to_sent_items=False) == {
        "message": {
            "subject": "Prüfbericht — 東京 ✓",
            "body": {"contentType": "HTML", "content": '<p>Hi <img src="cid:logo"></p>'},
            "toRecipients": [
                {"emailAddress": {"address": "anna@example.com"}},
                {"emailAddress": {"address": "ben@example.org"}},
            ],
            "ccRecipients": [{"emailAddress": {"address": "carla@example.net"}}],
            "bccRecipients": [{"emailAddress": {"address": "audit@example.com"}}],
            "attachments": [
                {
                    "@odata.type": "#microsoft.graph.fileAttachment",
                    "name": "logo.png",
                    "contentType": "image/png",
                    "contentBytes": "iVBORw0KAA==",
                    "isInline": True,
                    "contentId": "logo",
                },
                {
                    "@odata.type": "#microsoft.graph.fileAttachment",
                    "name": "Überweisung März.pdf",
                    "contentType": "application/pdf",
                    "contentBytes": "JVBERi0xLjcK/w==",
                    "isInline": False,
                },
            ],
            "internetMessageHeaders": [{"name": "X-Relay-Idempotency-Key", "value": "k-42"}],
        },
        "saveToSentItems": False,
    }


def test_html_body_drops_the_text() -> None:
    msg = replace(SMALL, text="only in text", html="<b>only in html</b>")
    payload = graph_payload(msg, save_to_sent_items=True)
    assert payload["message"]["body"] == {"contentType": "HTML", "content": "<b>only in html</b>"}
    assert "only in text" not in encode_payload(payload).decode()


def test_attachment_bytes_round_trip() -> None:
    data = bytes(range(256)) * 10
    msg = replace(SMALL, html="<p>x</p>", attachments=(replace(LOGO, data=data), PDF))
    inline, file = graph_payload(msg, save_to_sent_items=True)["message"]["attachments"]
    assert base64.b64decode(inline["contentBytes"]) == data
    assert (inline["isInline"], inline["contentId"]) == (True, "logo")
    assert file["isInline"] is False
    assert "contentId" not in file


@pytest.mark.parametrize("save", [True, False])
def test_save_to_sent_items_passed_through(save: bool) -> None:
    assert graph_payload(SMALL, save_to_sent_items=save)["saveToSentItems"] is save


@pytest.mark.parametrize("name", ["X-Relay-Key", "x-relay-key", "X-"])
def test_x_headers_accepted(name: str) -> None:
    payload = graph_payload(replace(SMALL, headers={name: "v"}), save_to_sent_items=True)
    assert payload["message"]["internetMessageHeaders"] == [{"name": name, "value": "v"}]


@pytest.mark.parametrize("name", ["Reply-To", "Subject", "Xrelay", "X_Relay", "List-Id"])
def test_non_x_headers_refused(name: str) -> None:
    with pytest.raises(ValueError, match="only X- headers"):
        graph_payload(replace(SMALL, headers={name: "v"}), save_to_sent_items=True)


@pytest.mark.parametrize("headers", [{"X-Key": "v\r\nBcc: e@x.test"}, {"X-Key\n": "v"}])
def test_header_injection_refused(headers: dict[str, str]) -> None:
    with pytest.raises(ValueError):
        graph_payload(replace(SMALL, headers=headers), save_to_sent_items=True)


def test_header_count_limit() -> None:
    headers = {f"X-H{i}": "v" for i in range(MAX_CUSTOM_HEADERS)}
    graph_payload(replace(SMALL, headers=headers), save_to_sent_items=True)
    with pytest.raises(ValueError, match="at most"):
        graph_payload(
            replace(SMALL, headers={**headers, "X-One-More": "v"}), save_to_sent_items=True
        )


@pytest.mark.parametrize(
    ("attachments", "html"),
    [((LOGO,), None), ((replace(LOGO, content_id=None),), "<p>x</p>")],
)
def test_invalid_inline_refused(attachments: tuple[Attachment, ...], html: str | None) -> None:
    with pytest.raises(ValueError):
        graph_payload(replace(SMALL, attachments=attachments, html=html), save_to_sent_items=True)


def test_encoded_payload_round_trips_as_ascii_json() -> None:
    msg = replace(SMALL, subject="Prüfbericht — 東京 ✓ 🎉", attachments=(PDF,))
    payload = graph_payload(msg, save_to_sent_items=True)
    body = encode_payload(payload)
    body.decode("ascii")
    assert json.loads(body) == payload
    assert payload_size(payload) == len(body)


def test_payload_size_against_the_limit() -> None:
    small = graph_payload(replace(SMALL, attachments=(PDF,)), save_to_sent_items=True)
    assert payload_size(small) < 1000 < REQUEST_LIMIT_BYTES
    big_file = replace(PDF, data=bytes(3 * 1024 * 1024))  # 3 MiB becomes 4 MiB of base64
    big = graph_payload(replace(SMALL, attachments=(big_file,)), save_to_sent_items=True)
    assert payload_size(big) > REQUEST_LIMIT_BYTES
    assert payload_size(big) - 4 * 1024 * 1024 < 1000


def test_graph_body_is_the_encoded_payload_with_attachments_spliced_in():
    from relayops.adapters.outlook.graph import encode_payload, graph_body

    message = Message(
        sender="relay@example.com",
        to=("anna@example.com",),
        subject='Quote " and \\ backslash',
        text="t",
        html='<p>Hi</p><img src="cid:logo">',
        attachments=(
            Attachment("logo.png", "image/png", bytes(range(256)) * 9, True, "logo"),
            Attachment("r.pdf", "application/pdf", bytes(reversed(range(256))) * 999),
        ),
    )
    fast = graph_body(message, save_to_sent_items=False)
    assert fast == encode_payload(graph_payload(message, save_to_sent_items=False))


@pytest.mark.parametrize("sizes", [(), (1,), (2, 3), (4, 1000, 1001)])
def test_the_stand_in_body_knows_its_size_before_encoding(sizes):
    """The adapter picks sendMail or upload sessions from `size`, before any base64 is made."""
    from relayops.adapters.outlook.graph import stand_in_body

    files = tuple(Attachment(f"f{n}.pdf", "application/pdf", bytes(n)) for n in sizes)
    body = stand_in_body(replace(SMALL, attachments=files), save_to_sent_items=True)
    assert body.size == len(body.spliced())
    assert len(body.skeleton) < 2000  # no attachment encoded yet
