"""The attacks of the send-path audit, on both providers, judged on what reached the fake
servers: encoded-word subjects and file names, separators and trailing newlines that used to
raise, a token store that cannot decrypt, and the post-build header check itself."""

from __future__ import annotations

import base64
import email
import email.policy
import json
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest

from relayops.adapters.adapter import SendAdapter
from relayops.adapters.built_check import BuiltMismatch, check_graph, check_mime
from relayops.adapters.errors import ErrorCode
from relayops.adapters.message import Message
from relayops.adapters.mime import build_mime
from relayops.fakes import FakeGmail, FakeGraph
from relayops.fakes.gmail import DEFAULT_TOKEN as GMAIL_TOKEN
from relayops.oauth.cipher import DecryptError
from tests.send_util import fake_adapter

PROVIDERS = ["gmail", "outlook"]
PDF = base64.b64encode(b"%PDF-1.4 tiny").decode()
CRLF_BCC_Q = "=?utf-8?q?Hello=0D=0ABcc:_evil@attacker.example?="
CRLF_BCC_B = "=?utf-8?b?" + base64.b64encode(b"Hello\r\nBcc: evil@attacker.example").decode() + "?="


@pytest.fixture(scope="module")
def servers() -> Iterator[dict[str, FakeGmail | FakeGraph]]:
    with FakeGmail() as gmail, FakeGraph() as graph:
        yield {"gmail": gmail, "outlook": graph}


def adapter(specs, provider, server, tokens=None) -> SendAdapter:
    return fake_adapter(specs, provider, server, tokens=tokens, timeout=5)


def send(specs, servers, provider, tokens=None, **fields):
    server = servers[provider]
    before = len(server.deliveries)
    payload = {"to": ["ana@customer.example"], "subject": "Hi", "text": "Body.", **fields}
    result = adapter(specs, provider, server, tokens).execute(
        f"{provider}.send", payload, "ws", "actor"
    )
    return result, server.deliveries[before:]


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("subject", [CRLF_BCC_Q, CRLF_BCC_B, "ok " + CRLF_BCC_Q.lower()])
def test_an_encoded_line_break_in_the_subject_is_refused(specs, servers, provider, subject):
    result, delivered = send(specs, servers, provider, subject=subject)
    assert result.error.error_code is ErrorCode.VALIDATION_FAILED
    assert result.error.field == "subject" and "U+000D" in result.error.message
    assert delivered == []


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize(
    "filename",
    [
        "=?utf-8?q?evil.exe?=",
        "=?utf-8?b?" + base64.b64encode(b"evil.exe").decode() + "?=",
        "=?utf-8?q?report.pdf=0D=0AContent-Type:_text/html?=",
    ],
)
def test_an_encoded_file_name_is_judged_decoded(specs, servers, provider, filename):
    attachment = {"data": PDF, "filename": filename, "content_type": "application/pdf"}
    result, delivered = send(specs, servers, provider, attachments=[attachment])
    assert result.error.error_code is ErrorCode.VALIDATION_FAILED
    assert result.error.field == "attachments[0].filename"
    assert delivered == []


@pytest.mark.parametrize("provider", PROVIDERS)
def test_an_encoded_subject_and_file_name_go_out_as_the_recipient_reads_them(
    specs, servers, provider
):
    attachment = {
        "data": PDF,
        "filename": "=?utf-8?q?Rechnung_M=C3=A4rz.pdf?=",
        "content_type": "application/pdf",
    }
    result, [stored] = send(
        specs, servers, provider, subject="=?utf-8?b?w5xiZXJ3ZWlzdW5n?=", attachments=[attachment]
    )
    assert result.ok, result.error
    if provider == "gmail":
        mime = email.message_from_bytes(stored.raw, policy=email.policy.default)
        subject = str(mime["Subject"])
        [name] = [p.get_filename() for p in mime.walk() if p.get_filename()]
    else:
        subject, [name] = stored.message["subject"], [a["name"] for a in stored.attachments]
    assert (subject, name) == ("Überweisung", "Rechnung März.pdf")


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("separator", ["\u2028", "\u2029", "\x85", "\u202e"])
def test_separators_and_bidi_controls_in_a_subject_are_a_structured_error(
    specs, servers, provider, separator
):
    result, delivered = send(specs, servers, provider, subject=f"a{separator}b")
    assert result.error.error_code is ErrorCode.VALIDATION_FAILED and delivered == []
    assert f"U+{ord(separator):04X}" in result.error.message


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_content_id_with_a_trailing_newline_is_a_structured_error(specs, servers, provider):
    png = base64.b64encode(b"\x89PNG\r\n\x1a\n").decode()
    image = {"data": png, "filename": "l.png", "content_type": "image/png", "content_id": "logo\n"}
    result, delivered = send(specs, servers, provider, html='<img src="cid:logo">', inline=[image])
    assert result.error.field == "inline[0].content_id" and delivered == []


@pytest.mark.parametrize("provider", PROVIDERS)
def test_nul_in_a_body_is_refused(specs, servers, provider):
    result, delivered = send(specs, servers, provider, text="a\x00b")
    assert result.error.field == "text" and delivered == []


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_subject_with_leading_spaces_arrives_as_previewed(specs, servers, provider):
    server = servers[provider]
    payload = {"to": ["ana@customer.example"], "subject": "   Spaced", "text": "Body."}
    preview = adapter(specs, provider, server).preview(f"{provider}.send", payload)
    result, [stored] = send(specs, servers, provider, subject="   Spaced")
    assert result.ok
    if provider == "gmail":
        arrived = str(email.message_from_bytes(stored.raw, policy=email.policy.default)["Subject"])
    else:
        arrived = stored.message["subject"]
    assert arrived == preview.summary["subject"] == "Spaced"


def test_gmail_without_a_sender_writes_no_empty_from(specs, servers):
    assert specs.provider("gmail").send.sender is None
    result, [stored] = send(specs, servers, "gmail")
    assert result.ok
    assert b"\r\nFrom:" not in b"\r\n" + stored.raw.split(b"\r\n\r\n")[0]


def test_the_fake_gmail_refuses_an_empty_from_as_gmail_does(servers):
    gmail = servers["gmail"]
    raw = b"From:\r\nTo: ana@customer.example\r\nSubject: x\r\n\r\nBody\r\n"
    answer = httpx.post(
        f"{gmail.url}/gmail/v1/users/me/messages/send",
        json={"raw": base64.urlsafe_b64encode(raw).decode()},
        headers={"Authorization": f"Bearer {GMAIL_TOKEN}"},
    )
    assert answer.status_code == 400 and "From" in answer.json()["error"]["message"]


class UnreadableStore:
    def token(self) -> str:
        raise DecryptError("a stored token does not decrypt with any configured key")

    def refresh(self) -> str:
        raise AssertionError("never reached")


@pytest.mark.parametrize("provider", PROVIDERS)
def test_an_exception_below_the_adapter_is_a_structured_internal_error(specs, servers, provider):
    result, delivered = send(specs, servers, provider, tokens=UnreadableStore())
    assert not result.ok and delivered == []
    assert result.error.error_code is ErrorCode.INTERNAL_ERROR
    assert result.error.source == "internal" and result.correlation_id in result.error.message
    server = servers[provider]
    preview = adapter(specs, provider, server).preview(f"{provider}.send", {"to": 5})
    assert not preview.ok and preview.error.error_code is ErrorCode.VALIDATION_FAILED


MESSAGE = Message(
    sender="me@relay.example", to=("ana@customer.example",), subject="Hi", text="Body."
)
NOW = datetime(2026, 12, 7, tzinfo=UTC)


def test_the_mime_check_refuses_a_header_the_message_does_not_have():
    skeleton = build_mime(MESSAGE, now=NOW).as_bytes()
    check_mime(skeleton, MESSAGE)
    injected = skeleton.replace(
        b"Subject: Hi\r\n", b"Subject: Hi\r\nBcc: evil@attacker.example\r\n"
    )
    with pytest.raises(BuiltMismatch, match="header set"):
        check_mime(injected, MESSAGE)
    changed = skeleton.replace(b"To: ana@", b"To: eve@")
    with pytest.raises(BuiltMismatch, match="To addresses"):
        check_mime(changed, MESSAGE)


def test_the_graph_check_refuses_a_recipient_the_message_does_not_have():
    body = {
        "message": {
            "subject": "Hi",
            "toRecipients": [{"emailAddress": {"address": "ana@customer.example"}}],
        }
    }
    check_graph(json.dumps(body).encode(), MESSAGE)
    body["message"]["bccRecipients"] = [{"emailAddress": {"address": "evil@attacker.example"}}]
    with pytest.raises(BuiltMismatch, match="bccRecipients"):
        check_graph(json.dumps(body).encode(), MESSAGE)
