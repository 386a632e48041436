"""The fake Gmail and Graph servers, driven with plain httpx over real loopback sockets."""

from __future__ import annotations

import base64
import json
import re
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import make_msgid, parsedate_to_datetime
from typing import Any

import httpx
import pytest

from relayops.fakes import (
    FakeGmail,
    FakeGraph,
    FakeServer,
    FaultKind,
    FaultPlan,
    gmail_error,
    retry_after_date,
)
from relayops.fakes.gmail import DEFAULT_TOKEN as GMAIL_TOKEN
from relayops.fakes.graph import DEFAULT_TOKEN as GRAPH_TOKEN

GMAIL_SEND = "/gmail/v1/users/me/messages/send"
GMAIL_UPLOAD = "/upload/gmail/v1/users/me/messages/send"
GMAIL_LIST = "/gmail/v1/users/me/messages"
GRAPH_SEND = "/v1.0/me/sendMail"
GRAPH_SENT = "/v1.0/me/mailFolders/sentitems/messages"
IMF_FIXDATE = re.compile(
    r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) "
    r"\d{4} \d{2}:\d{2}:\d{2} GMT"
)
PDF = b"%PDF-1.4 fake pdf \x00\xff" * 10
TLS = ssl.create_default_context()  # shared: loading CA certificates per client is slow


def mime(to: str = "bob@example.com", message_id: str | None = None) -> bytes:
    message = EmailMessage()
    message["From"] = "alice@example.com"
    message["To"] = to
    message["Subject"] = "Quarterly report"
    message["Message-ID"] = message_id or make_msgid(domain="relay.test")
    message.set_content("Hello Bob\n")
    message.add_alternative("<p>Hello Bob</p>", subtype="html")
    message.add_attachment(PDF, maintype="application", subtype="pdf", filename="report.pdf")
    return message.as_bytes(policy=policy.SMTP)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def graph_message(**extra: Any) -> dict[str, Any]:
    message = {
        "subject": "Quarterly report",
        "body": {"contentType": "HTML", "content": "<p>Hello Bob</p>"},
        "toRecipients": [{"emailAddress": {"address": "bob@example.com", "name": "Bob"}}],
        "attachments": [
            {
                "@odata.type": "#microsoft.graph.fileAttachment",
                "name": "report.pdf",
                "contentType": "application/pdf",
                "contentBytes": base64.b64encode(PDF).decode(),
            }
        ],
        "internetMessageHeaders": [{"name": "X-Relay-Idempotency-Key", "value": "key-1"}],
    }
    return message | extra


def client(fake: FakeServer[Any], token: str, timeout: float = 5.0) -> httpx.Client:
    headers = {"Authorization": f"Bearer {token}"}
    return httpx.Client(base_url=fake.url, headers=headers, timeout=timeout, verify=TLS)


@pytest.fixture
def gmail() -> Iterator[FakeGmail]:
    with FakeGmail() as fake:
        yield fake


@pytest.fixture
def graph() -> Iterator[FakeGraph]:
    with FakeGraph() as fake:
        yield fake


@pytest.fixture
def gm(gmail: FakeGmail) -> Iterator[httpx.Client]:
    with client(gmail, GMAIL_TOKEN) as c:
        yield c


@pytest.fixture
def gr(graph: FakeGraph) -> Iterator[httpx.Client]:
    with client(graph, GRAPH_TOKEN) as c:
        yield c


@dataclass
class Provider:
    """One fake plus how to send a valid message to it, for tests run against both."""

    name: str
    fake: FakeServer[Any]
    http: httpx.Client
    token: str
    path: str
    success: int

    def send(self, http: httpx.Client | None = None) -> httpx.Response:
        http = http or self.http
        if self.name == "gmail":
            return http.post(self.path, json={"raw": b64url(mime())})
        return http.post(self.path, json={"message": graph_message()})


@pytest.fixture(params=["gmail", "graph"])
def provider(request: pytest.FixtureRequest) -> Iterator[Provider]:
    fake: FakeServer[Any]
    if request.param == "gmail":
        fake, token, path, success = FakeGmail(), GMAIL_TOKEN, GMAIL_SEND, 200
    else:
        fake, token, path, success = FakeGraph(), GRAPH_TOKEN, GRAPH_SEND, 202
    with fake, client(fake, token) as http:
        yield Provider(request.param, fake, http, token, path, success)


def wait_for(condition: Callable[[], bool], seconds: float = 3.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return condition()


# Gmail happy paths


def test_gmail_send_stores_the_same_mime(gmail: FakeGmail, gm: httpx.Client) -> None:
    raw = mime(message_id="<m1@relay.test>")
    response = gm.post(GMAIL_SEND, json={"raw": b64url(raw)})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"id", "threadId", "labelIds"}
    assert body["labelIds"] == ["SENT"]
    assert body["threadId"] == body["id"]
    [stored] = gmail.deliveries
    assert (stored.id, stored.raw, stored.via) == (body["id"], raw, "json")
    reparsed = BytesParser(policy=policy.default).parsebytes(stored.raw)
    assert reparsed["To"] == "bob@example.com"
    assert stored.header("Subject") == "Quarterly report"
    [attachment] = list(stored.mime.iter_attachments())
    assert attachment.get_content() == PDF
    assert gmail.delivered("Message-ID", "m1@relay.test") == 1


@pytest.mark.parametrize(
    "encode",
    [
        lambda b: base64.urlsafe_b64encode(b).decode(),
        lambda b: base64.b64encode(b).decode(),
        b64url,
    ],
    ids=["base64url-padded", "base64-standard", "base64url-unpadded"],
)
def test_gmail_raw_encodings(gmail: FakeGmail, gm: httpx.Client, encode: Any) -> None:
    raw = mime() + b"\xfe\xff" * 3  # bytes whose base64 differs between the two alphabets
    assert gm.post(GMAIL_SEND, json={"raw": encode(raw)}).status_code == 200
    assert gmail.deliveries[0].raw == raw


def test_gmail_thread_id(gm: httpx.Client) -> None:
    first = gm.post(GMAIL_SEND, json={"raw": b64url(mime())}).json()
    reply = gm.post(GMAIL_SEND, json={"raw": b64url(mime()), "threadId": first["threadId"]})
    assert reply.json()["threadId"] == first["threadId"]
    unknown = gm.post(GMAIL_SEND, json={"raw": b64url(mime()), "threadId": "ffff"}).json()
    assert unknown["threadId"] == unknown["id"] != first["id"]


def test_gmail_search_by_rfc822msgid(gm: httpx.Client) -> None:
    sent = gm.post(GMAIL_SEND, json={"raw": b64url(mime(message_id="<abc@relay.test>"))}).json()
    gm.post(GMAIL_SEND, json={"raw": b64url(mime())})
    for query in ("rfc822msgid:abc@relay.test", "rfc822msgid:<abc@relay.test>"):
        found = gm.get(GMAIL_LIST, params={"q": query}).json()
        assert found == {
            "messages": [{"id": sent["id"], "threadId": sent["threadId"]}],
            "resultSizeEstimate": 1,
        }
    missing = gm.get(GMAIL_LIST, params={"q": "rfc822msgid:nope@relay.test"})
    assert missing.json() == {"resultSizeEstimate": 0}
    assert gm.get(GMAIL_LIST).json()["resultSizeEstimate"] == 2
    assert gm.get(GMAIL_LIST, params={"q": "from:alice"}).status_code == 400


def test_gmail_search_index_delay() -> None:
    with FakeGmail(index_delay=1.0) as fake, client(fake, GMAIL_TOKEN) as http:
        sent = time.monotonic()  # before the post: the fake stores it after this moment
        http.post(GMAIL_SEND, json={"raw": b64url(mime(message_id="<d@relay.test>"))})
        query = {"q": "rfc822msgid:d@relay.test"}
        assert http.get(GMAIL_LIST, params=query).json() == {"resultSizeEstimate": 0}
        assert wait_for(lambda: http.get(GMAIL_LIST, params=query).json()["resultSizeEstimate"])
        assert time.monotonic() - sent >= 1.0


def test_gmail_media_upload(gmail: FakeGmail, gm: httpx.Client) -> None:
    raw = mime()
    ok = gm.post(
        GMAIL_UPLOAD,
        params={"uploadType": "media"},
        content=raw,
        headers={"Content-Type": "message/rfc822"},
    )
    assert ok.status_code == 200
    assert gmail.deliveries[0].raw == raw
    assert gmail.deliveries[0].via == "upload"
    chunked = gm.post(
        GMAIL_UPLOAD,
        params={"uploadType": "media"},
        content=iter([raw[:100], raw[100:]]),
        headers={"Content-Type": "message/rfc822"},
    )
    assert chunked.status_code == 200
    assert gmail.deliveries[1].raw == raw
    assert "transfer-encoding" in gmail.requests[1].headers


@pytest.mark.parametrize(
    ("params", "content_type"),
    [({"uploadType": "multipart"}, "message/rfc822"), ({"uploadType": "media"}, "text/plain")],
)
def test_gmail_upload_refusals(
    gmail: FakeGmail, gm: httpx.Client, params: dict[str, str], content_type: str
) -> None:
    response = gm.post(
        GMAIL_UPLOAD, params=params, content=mime(), headers={"Content-Type": content_type}
    )
    assert response.status_code == 400
    assert response.json()["error"]["status"] == "INVALID_ARGUMENT"
    assert gmail.delivery_count == 0


# Gmail refusals


@pytest.mark.parametrize(
    "authorization", [None, "Bearer wrong-token", f"Basic {GMAIL_TOKEN}", "Bearer"]
)
def test_gmail_auth_failures(gmail: FakeGmail, authorization: str | None) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    response = httpx.post(gmail.url + GMAIL_SEND, json={"raw": b64url(mime())}, headers=headers)
    assert response.status_code == 401
    assert "invalid_token" in response.headers["www-authenticate"]
    error = response.json()["error"]
    assert (error["code"], error["status"]) == (401, "UNAUTHENTICATED")
    assert error["errors"][0]["reason"] == "authError"
    assert error["message"]
    assert gmail.delivery_count == 0


def test_gmail_token_set_is_live(gmail: FakeGmail) -> None:
    with client(gmail, "rotated") as http:
        assert http.get(GMAIL_LIST).status_code == 401
        gmail.tokens.add("rotated")
        assert http.get(GMAIL_LIST).status_code == 200


@pytest.mark.parametrize(
    "content",
    [
        b"{not json",
        json.dumps({}).encode(),
        json.dumps({"raw": ""}).encode(),
        json.dumps({"raw": "not base64 at all!"}).encode(),
        json.dumps({"raw": "A"}).encode(),
        json.dumps({"raw": b64url(b"just some text without headers")}).encode(),
        json.dumps({"raw": b64url(b"Subject: hi\r\n\r\nno recipient\r\n")}).encode(),
        json.dumps({"raw": b64url(mime(to="undisclosed-recipients:;"))}).encode(),
        json.dumps({"raw": b64url(mime()), "threadId": 7}).encode(),
    ],
)
def test_gmail_validation_failures(gmail: FakeGmail, gm: httpx.Client, content: bytes) -> None:
    response = gm.post(GMAIL_SEND, content=content, headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["code"], error["status"]) == (400, "INVALID_ARGUMENT")
    assert error["errors"][0]["reason"] == "invalidArgument"
    assert gmail.delivery_count == 0


def test_gmail_json_size_limit(gmail: FakeGmail, gm: httpx.Client) -> None:
    big = {"raw": b64url(mime() + b"x" * (4 * 1024 * 1024))}  # about 5.6 MB as JSON
    response = gm.post(GMAIL_SEND, json=big)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == 413
    assert gmail.requests[0].body_size > 5 * 1024 * 1024
    under = {"raw": b64url(mime() + b"x" * (3 * 1024 * 1024))}  # about 4.2 MB as JSON
    assert gm.post(GMAIL_SEND, json=under).status_code == 200
    assert gmail.delivery_count == 1


def test_gmail_upload_size_limit(gmail: FakeGmail, gm: httpx.Client) -> None:
    raw = mime() + b"x" * (35 * 1024 * 1024)
    response = gm.post(
        GMAIL_UPLOAD,
        params={"uploadType": "media"},
        content=raw,
        headers={"Content-Type": "message/rfc822"},
    )
    assert response.status_code == 413
    assert gmail.delivery_count == 0


# Gmail resumable upload

QUANTUM = 256 * 1024


def initiate(http: httpx.Client, size: int, **extra: Any) -> httpx.Response:
    headers = {"X-Upload-Content-Type": "message/rfc822", "X-Upload-Content-Length": str(size)}
    return http.post(GMAIL_UPLOAD, params={"uploadType": "resumable"}, headers=headers, **extra)


def put(session: str, content: bytes, content_range: str) -> httpx.Response:
    """A PUT to a session URI, with no Authorization: the upload_id is the credential."""
    headers = {"Content-Range": content_range}
    return httpx.put(session, content=content, headers=headers, verify=TLS)


def test_gmail_resumable_upload(gmail: FakeGmail, gm: httpx.Client) -> None:
    raw = mime() + bytes(range(256)) * 2100  # two whole chunks and a short last one
    total, status = len(raw), f"bytes */{len(raw)}"
    started = initiate(gm, total)
    assert (started.status_code, started.content) == (200, b"")
    session = started.headers["location"]
    url = httpx.URL(session)
    assert (url.host, url.port, url.path) == ("127.0.0.1", gmail.port, GMAIL_UPLOAD)
    assert url.params["uploadType"] == "resumable" and url.params["upload_id"]
    nothing = put(session, b"", status)
    assert nothing.status_code == 308 and "range" not in nothing.headers
    first = put(session, raw[:QUANTUM], f"bytes 0-{QUANTUM - 1}/{total}")
    assert (first.status_code, first.headers["range"]) == (308, f"bytes=0-{QUANTUM - 1}")
    repeated = put(session, raw[:QUANTUM], f"bytes 0-{QUANTUM - 1}/{total}")
    assert repeated.headers["range"] == f"bytes=0-{QUANTUM - 1}"  # taken once
    second = put(session, raw[QUANTUM : 2 * QUANTUM], f"bytes {QUANTUM}-{2 * QUANTUM - 1}/{total}")
    assert second.headers["range"] == f"bytes=0-{2 * QUANTUM - 1}"
    assert put(session, b"", status).headers["range"] == f"bytes=0-{2 * QUANTUM - 1}"
    assert gmail.delivery_count == 0
    last = f"bytes {2 * QUANTUM}-{total - 1}/{total}"
    done = put(session, raw[2 * QUANTUM :], last)
    assert done.status_code == 200
    body = done.json()
    assert body["labelIds"] == ["SENT"] and body["threadId"] == body["id"]
    [stored] = gmail.deliveries
    assert (stored.id, stored.raw, stored.via) == (body["id"], raw, "resumable")
    assert put(session, b"", status).json() == body  # a status query of a completed upload
    assert put(session, raw[2 * QUANTUM :], last).json() == body  # a repeated last chunk
    assert gmail.delivery_count == 1
    query = {"q": f"rfc822msgid:{stored.header('Message-ID')}"}
    assert gm.get(GMAIL_LIST, params=query).json()["messages"][0]["id"] == body["id"]


@pytest.mark.parametrize(
    ("content_range", "size"),
    [
        ("bytes 0-99999/{total}", 100_000),  # not the last chunk, and not a 256 KiB multiple
        ("bytes 262144-524287/{total}", QUANTUM),  # leaves a gap
        ("bytes 0-262143/{other}", QUANTUM),  # another total
        ("bytes 0-262144/{total}", QUANTUM),  # the range does not fit the body
        ("bytes */{total}", 10),  # a status query with a body
        ("bytes=0-262143", QUANTUM),  # the Range syntax, not Content-Range
        (None, QUANTUM),
    ],
)
def test_gmail_resumable_chunk_rules(
    gmail: FakeGmail, gm: httpx.Client, content_range: str | None, size: int
) -> None:
    total = 3 * QUANTUM
    session = initiate(gm, total).headers["location"]
    headers = {}
    if content_range is not None:
        headers["Content-Range"] = content_range.format(total=total, other=total + 1)
    response = httpx.put(session, content=bytes(size), headers=headers, verify=TLS)
    assert response.status_code == 400
    assert response.json()["error"]["status"] == "INVALID_ARGUMENT"
    assert "range" not in put(session, b"", f"bytes */{total}").headers  # nothing was taken
    assert put(session, bytes(2 * QUANTUM), f"bytes 0-{2 * QUANTUM - 1}/{total}").status_code == 308


@pytest.mark.parametrize("params", [{"upload_id": "unknown"}, {}])
def test_gmail_resumable_unknown_session(gm: httpx.Client, params: dict[str, str]) -> None:
    initiate(gm, 100)
    response = gm.put(
        GMAIL_UPLOAD,
        params={"uploadType": "resumable", **params},
        headers={"Content-Range": "bytes */100"},
    )
    assert response.status_code == 404
    assert response.json()["error"]["status"] == "NOT_FOUND"


@pytest.mark.parametrize(
    ("headers", "content", "code"),
    [
        ({"Authorization": ""}, b"", 401),
        ({"X-Upload-Content-Length": str(35 * 1024 * 1024 + 1)}, b"", 413),
        ({"X-Upload-Content-Length": ""}, b"", 400),
        ({"X-Upload-Content-Length": "0"}, b"", 400),
        ({"X-Upload-Content-Type": "text/plain"}, b"", 400),
        ({"Content-Type": "application/json"}, b"{", 400),
        ({"Content-Type": "application/json"}, b'{"threadId": 7}', 400),
    ],
)
def test_gmail_resumable_initiation_refusals(
    gmail: FakeGmail, gm: httpx.Client, headers: dict[str, str], content: bytes, code: int
) -> None:
    valid = {"X-Upload-Content-Type": "message/rfc822", "X-Upload-Content-Length": "1000"}
    response = gm.post(
        GMAIL_UPLOAD,
        params={"uploadType": "resumable"},
        headers=valid | headers,
        content=content,
    )
    assert response.status_code == code
    assert response.json()["error"]["code"] == code
    assert "location" not in response.headers


def test_gmail_resumable_thread_id_metadata(gmail: FakeGmail, gm: httpx.Client) -> None:
    first = gm.post(GMAIL_SEND, json={"raw": b64url(mime())}).json()
    raw = mime()
    session = initiate(gm, len(raw), json={"threadId": first["threadId"]}).headers["location"]
    reply = put(session, raw, f"bytes 0-{len(raw) - 1}/{len(raw)}").json()
    assert reply["threadId"] == first["threadId"] != reply["id"]


def test_gmail_resumable_faults_on_the_session_path(gmail: FakeGmail, gm: httpx.Client) -> None:
    raw = mime() + bytes(QUANTUM)
    total, status = len(raw), f"bytes */{len(raw)}"
    chunk, last = f"bytes 0-{QUANTUM - 1}/{total}", f"bytes {QUANTUM}-{total - 1}/{total}"
    session = initiate(gm, total).headers["location"]
    gmail.faults.status(503, path=GMAIL_UPLOAD)
    assert put(session, raw[:QUANTUM], chunk).status_code == 503
    assert "range" not in put(session, b"", status).headers  # the chunk was not taken
    gmail.faults.reset(path=GMAIL_UPLOAD)
    with pytest.raises(httpx.RemoteProtocolError):
        put(session, raw[:QUANTUM], chunk)
    assert "range" not in put(session, b"", status).headers
    assert put(session, raw[:QUANTUM], chunk).status_code == 308
    gmail.faults.accept_then(503, path=GMAIL_UPLOAD)
    assert put(session, raw[QUANTUM:], last).status_code == 503
    assert gmail.delivery_count == 1  # completed although the client saw a 503
    assert put(session, b"", status).status_code == 200
    assert gmail.delivery_count == 1


def test_unknown_route_and_method(gm: httpx.Client, gr: httpx.Client) -> None:
    assert gm.get("/gmail/v1/users/me/drafts").status_code == 404
    assert gm.get(GMAIL_SEND).status_code == 405
    not_found = gr.get("/v1.0/me/events")
    assert not_found.status_code == 404
    assert not_found.json()["error"]["code"] == "ResourceNotFound"


# Graph happy paths


def test_graph_send_202_empty_body(graph: FakeGraph, gr: httpx.Client) -> None:
    message = graph_message()
    response = gr.post(GRAPH_SEND, json={"message": message, "saveToSentItems": True})
    assert response.status_code == 202
    assert response.content == b""
    assert response.headers["content-length"] == "0"
    assert response.headers["request-id"]
    [stored] = graph.deliveries
    assert stored.message == message
    assert stored.mailbox == "me"
    assert stored.attachment_bytes() == {"report.pdf": PDF}
    assert stored.internet_message_id.startswith("<")
    assert graph.delivered("X-Relay-Idempotency-Key", "key-1") == 1
    assert graph.sent_items == [stored]


def test_graph_sent_items_listing(graph: FakeGraph, gr: httpx.Client) -> None:
    gr.post(GRAPH_SEND, json={"message": graph_message()})
    hidden = graph_message(internetMessageId="<hidden@relay.test>")
    gr.post(GRAPH_SEND, json={"message": hidden, "saveToSentItems": False})
    assert graph.delivery_count == 2
    listing = gr.get(GRAPH_SENT)
    assert listing.status_code == 200
    [item] = listing.json()["value"]
    assert item["internetMessageHeaders"] == [{"name": "X-Relay-Idempotency-Key", "value": "key-1"}]
    assert item["subject"] == "Quarterly report"
    assert item["hasAttachments"] is True
    selected = gr.get(GRAPH_SENT, params={"$select": "internetMessageHeaders", "$top": "5"})
    assert set(selected.json()["value"][0]) == {"id", "internetMessageHeaders"}
    assert graph.delivered("Message-ID", "hidden@relay.test") == 1


def test_graph_sent_items_unimplemented_filter(gr: httpx.Client) -> None:
    response = gr.get(GRAPH_SENT, params={"$filter": "subject eq 'x'"})
    assert response.status_code == 501
    assert "$filter" in response.json()["error"]["message"]


def test_graph_users_path(graph: FakeGraph, gr: httpx.Client) -> None:
    response = gr.post("/v1.0/users/alice@example.com/sendMail", json={"message": graph_message()})
    assert response.status_code == 202
    assert graph.deliveries[0].mailbox == "alice@example.com"


# Graph refusals


@pytest.mark.parametrize(
    ("authorization", "message"),
    [
        (None, "Access token is empty."),
        ("Bearer expired", "Access token validation failure."),
        (f"Basic {GRAPH_TOKEN}", "Access token validation failure."),
    ],
)
def test_graph_auth_failures(graph: FakeGraph, authorization: str | None, message: str) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    payload = {"message": graph_message()}
    response = httpx.post(graph.url + GRAPH_SEND, json=payload, headers=headers)
    assert response.status_code == 401
    error = response.json()["error"]
    assert (error["code"], error["message"]) == ("InvalidAuthenticationToken", message)
    assert error["innerError"]["request-id"] == response.headers["request-id"]
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert graph.delivery_count == 0


def _without_recipients(m: dict[str, Any]) -> None:
    del m["toRecipients"]


def _attachment(**changes: Any) -> Callable[[dict[str, Any]], None]:
    def change(m: dict[str, Any]) -> None:
        m["attachments"][0].update(changes)
        m["attachments"][0] = {k: v for k, v in m["attachments"][0].items() if v is not None}

    return change


def _set(**changes: Any) -> Callable[[dict[str, Any]], None]:
    return lambda m: m.update(changes)


@pytest.mark.parametrize(
    ("change", "code"),
    [
        (_without_recipients, "ErrorInvalidRequest"),
        (_set(toRecipients=[]), "ErrorInvalidRequest"),
        (_set(toRecipients=[{"emailAddress": {"address": "bob"}}]), "ErrorInvalidRecipients"),
        (_set(toRecipients=["bob@example.com"]), "RequestBodyRead"),
        (_set(toRecipient=[]), "RequestBodyRead"),
        (_set(body={"contentType": "markdown", "content": "x"}), "RequestBodyRead"),
        (_attachment(**{"@odata.type": None}), "ErrorInvalidRequest"),
        (_attachment(**{"@odata.type": "#microsoft.graph.itemAttachment"}), "RequestBodyRead"),
        (_attachment(contentBytes="not base64!"), "ErrorInvalidRequest"),
        (_attachment(contentBytes=None), "ErrorInvalidRequest"),
        (_attachment(name=None), "ErrorInvalidRequest"),
        (_attachment(isInline="yes"), "RequestBodyRead"),
        (
            _set(internetMessageHeaders=[{"name": "Idempotency-Key", "value": "k"}]),
            "InvalidInternetMessageHeader",
        ),
    ],
)
def test_graph_message_validation(
    graph: FakeGraph, gr: httpx.Client, change: Callable[[dict[str, Any]], None], code: str
) -> None:
    message = graph_message()
    change(message)
    response = gr.post(GRAPH_SEND, json={"message": message})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == code
    assert graph.delivery_count == 0


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        ({}, "ErrorInvalidRequest"),
        ({"message": "hello"}, "RequestBodyRead"),
        ({"message": graph_message(), "saveToSentItems": "yes"}, "RequestBodyRead"),
        ({"message": graph_message(), "extra": 1}, "RequestBodyRead"),
        ([1, 2], "RequestBodyRead"),
    ],
)
def test_graph_payload_validation(
    graph: FakeGraph, gr: httpx.Client, payload: Any, code: str
) -> None:
    response = gr.post(GRAPH_SEND, json=payload)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == code
    assert graph.delivery_count == 0


def test_graph_invalid_json(gr: httpx.Client) -> None:
    response = gr.post(GRAPH_SEND, content=b"{", headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "BadRequest"


def test_graph_request_size_limit(graph: FakeGraph, gr: httpx.Client) -> None:
    data = base64.b64encode(b"x" * (3 * 1024 * 1024 + 100_000)).decode()  # JSON just over 4 MiB
    attachment = graph_message()["attachments"][0] | {"contentBytes": data}
    response = gr.post(GRAPH_SEND, json={"message": graph_message(attachments=[attachment])})
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "ErrorRequestEntityTooLarge"
    assert graph.delivery_count == 0
    small = attachment | {"contentBytes": base64.b64encode(b"x" * 2_900_000).decode()}
    assert gr.post(GRAPH_SEND, json={"message": graph_message(attachments=[small])}).is_success


# Faults, against both fakes


def test_status_429_with_retry_after_seconds(provider: Provider) -> None:
    fault = provider.fake.faults.status(429, headers={"Retry-After": "2"})
    throttled = provider.send()
    assert throttled.status_code == 429
    assert throttled.headers["retry-after"] == "2"
    assert "error" in throttled.json()
    assert provider.fake.delivery_count == 0
    assert fault.fired == 1 and fault.remaining == 0
    assert provider.send().status_code == provider.success
    assert provider.fake.delivery_count == 1


def test_status_429_with_retry_after_http_date(provider: Provider) -> None:
    provider.fake.faults.status(429, headers={"Retry-After": retry_after_date(2)})
    value = provider.send().headers["retry-after"]
    assert IMF_FIXDATE.fullmatch(value)
    when = parsedate_to_datetime(value)
    assert when.tzinfo is not None
    assert 0 <= (when - datetime.now(UTC)).total_seconds() <= 3


def test_retry_after_date_format() -> None:
    assert retry_after_date(0, now=784111777) == "Sun, 06 Nov 1994 08:49:37 GMT"  # RFC 7231


@pytest.mark.parametrize("code", [500, 502, 503])
def test_status_5xx_default_bodies(provider: Provider, code: int) -> None:
    provider.fake.faults.status(code)
    response = provider.send()
    assert response.status_code == code
    error = response.json()["error"]
    if provider.name == "gmail":
        assert error["code"] == code and error["errors"][0]["reason"] == "backendError"
    else:
        assert isinstance(error["code"], str) and error["innerError"]["request-id"]
    assert provider.fake.delivery_count == 0


@pytest.mark.parametrize("reason", ["rateLimitExceeded", "userRateLimitExceeded"])
def test_gmail_403_rate_limit(gmail: FakeGmail, gm: httpx.Client, reason: str) -> None:
    gmail.faults.status(403, body=gmail_error(403, "User-rate limit exceeded.", reason))
    response = gm.post(GMAIL_SEND, json={"raw": b64url(mime())})
    assert response.status_code == 403
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()["error"]
    assert error["status"] == "PERMISSION_DENIED"
    assert error["errors"][0] == {
        "message": "User-rate limit exceeded.",
        "domain": "usageLimits",
        "reason": reason,
    }


def test_accept_then_504_stores_the_message(provider: Provider) -> None:
    fault = provider.fake.faults.accept_then(504)
    response = provider.send()
    assert response.status_code == 504
    assert "error" in response.json()
    assert provider.fake.delivery_count == 1  # delivered although the client saw a 504
    assert fault.fired == 1
    assert provider.fake.requests[0].fault is FaultKind.ACCEPT_THEN


def test_accept_then_does_not_store_an_invalid_request(gmail: FakeGmail, gm: httpx.Client) -> None:
    gmail.faults.accept_then(504)
    assert gm.post(GMAIL_SEND, json={"raw": ""}).status_code == 400
    assert gmail.delivery_count == 0


def test_graph_accept_then_202_with_retry_after(graph: FakeGraph, gr: httpx.Client) -> None:
    graph.faults.accept_then_status(202, headers={"Retry-After": "5"})
    response = gr.post(GRAPH_SEND, json={"message": graph_message()})
    assert response.status_code == 202
    assert response.content == b""
    assert response.headers["retry-after"] == "5"
    assert graph.delivered("X-Relay-Idempotency-Key", "key-1") == 1


def test_reset_closes_without_response(provider: Provider) -> None:
    provider.fake.faults.reset()
    with pytest.raises(httpx.RemoteProtocolError):
        provider.send()
    assert provider.fake.delivery_count == 0
    [record] = provider.fake.requests
    assert (record.fault, record.status) == (FaultKind.RESET, None)
    assert record.body_size > 0  # the request was read before the connection closed
    assert provider.send().status_code == provider.success


def test_hard_reset_sends_rst(provider: Provider) -> None:
    provider.fake.faults.reset(hard=True)
    with pytest.raises(httpx.ReadError):  # "Connection reset by peer"
        provider.send()
    assert provider.fake.delivery_count == 0
    assert provider.send().status_code == provider.success


def test_slow_triggers_client_timeout_and_still_delivers(provider: Provider) -> None:
    fault = provider.fake.faults.slow(0.5)
    fast = client(provider.fake, provider.token, timeout=0.1)
    with fast, pytest.raises(httpx.ReadTimeout):
        provider.send(fast)
    assert fault.fired == 1
    assert wait_for(lambda: provider.fake.delivery_count == 1)  # the ambiguous timeout


def test_slow_then_answer(provider: Provider) -> None:
    provider.fake.faults.slow(0.2)
    started = time.monotonic()
    assert provider.send().status_code == provider.success
    assert time.monotonic() - started >= 0.2


def test_faults_apply_to_next_n_in_order(provider: Provider) -> None:
    plan = provider.fake.faults
    first = plan.status(500, times=2)
    second = plan.status(503)
    statuses = [provider.send().status_code for _ in range(4)]
    assert statuses == [500, 500, 503, provider.success]
    assert (first.fired, second.fired, plan.pending) == (2, 1, [])
    assert len(first.fired_at) == 2 and first.fired_at[0] <= first.fired_at[1]


def test_fault_targets_one_path(gmail: FakeGmail, gm: httpx.Client) -> None:
    fault = gmail.faults.status(503, path=GMAIL_LIST, times=2)
    assert gm.post(GMAIL_SEND, json={"raw": b64url(mime())}).status_code == 200
    assert [gm.get(GMAIL_LIST).status_code for _ in range(3)] == [503, 503, 200]
    assert fault.fired == 2


def test_one_plan_shared_by_both_fakes() -> None:
    plan = FaultPlan()
    with FakeGmail(faults=plan) as gmail, FakeGraph(faults=plan) as graph:
        plan.status(503, times=2)
        with client(gmail, GMAIL_TOKEN) as gm, client(graph, GRAPH_TOKEN) as gr:
            assert gm.post(GMAIL_SEND, json={"raw": b64url(mime())}).status_code == 503
            assert gr.post(GRAPH_SEND, json={"message": graph_message()}).status_code == 503
            assert gr.post(GRAPH_SEND, json={"message": graph_message()}).status_code == 202


def test_fault_arguments_are_checked() -> None:
    plan = FaultPlan()
    with pytest.raises(ValueError):
        plan.status(429, times=0)
    with pytest.raises(ValueError):
        plan.status(700)
    with pytest.raises(ValueError):
        plan.slow(-1)


def test_requests_are_recorded(provider: Provider) -> None:
    before = time.time()
    provider.fake.faults.status(429)
    provider.send()
    provider.send()
    first, second = provider.fake.requests
    assert (first.method, first.path, first.status, first.fault) == (
        "POST",
        provider.path,
        429,
        FaultKind.STATUS,
    )
    assert (second.status, second.fault) == (provider.success, None)
    assert first.headers["authorization"].startswith("Bearer ")
    assert first.body_size == int(first.headers["content-length"]) > 0
    assert before <= first.at <= second.at <= time.time()


# Concurrency and lifecycle


def test_concurrent_sends_are_safe(provider: Provider) -> None:
    with ThreadPoolExecutor(max_workers=16) as pool:
        statuses = list(pool.map(lambda _: provider.send().status_code, range(80)))
    assert statuses == [provider.success] * 80
    assert provider.fake.delivery_count == 80
    assert len({d.id for d in provider.fake.deliveries}) == 80
    assert len(provider.fake.requests) == 80


def test_concurrent_faults_fire_exactly_n_times(provider: Provider) -> None:
    fault = provider.fake.faults.status(503, times=10)
    with ThreadPoolExecutor(max_workers=16) as pool:
        statuses = list(pool.map(lambda _: provider.send().status_code, range(40)))
    assert statuses.count(503) == 10
    assert statuses.count(provider.success) == 30
    assert fault.fired == 10
    assert provider.fake.delivery_count == 30


def test_stop_closes_connections_and_frees_the_port() -> None:
    fake = FakeGmail().start()
    port = fake.port
    http = client(fake, GMAIL_TOKEN)
    assert http.get(GMAIL_LIST).status_code == 200  # a keep-alive connection stays open
    started = time.monotonic()
    fake.stop()
    assert time.monotonic() - started < 2
    with pytest.raises((httpx.ConnectError, httpx.RemoteProtocolError, httpx.ReadError)):
        http.get(GMAIL_LIST)
    http.close()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/", timeout=1)
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
    assert not [t for t in threading.enumerate() if t.name.startswith(f"FakeGmail-{port}")]


def test_stop_interrupts_a_slow_request() -> None:
    errors: list[BaseException] = []
    with FakeGraph() as fake:
        fake.faults.slow(30)

        def send() -> None:
            try:
                with client(fake, GRAPH_TOKEN, timeout=10) as http:
                    http.post(GRAPH_SEND, json={"message": graph_message()})
            except httpx.HTTPError as error:
                errors.append(error)

        sender = threading.Thread(target=send)
        sender.start()
        assert wait_for(lambda: len(fake.requests) == 1)
        started = time.monotonic()
    assert time.monotonic() - started < 2
    sender.join(5)
    assert isinstance(errors[0], httpx.RemoteProtocolError)
    assert fake.delivery_count == 0


def test_lifecycle_misuse() -> None:
    fake = FakeGraph()
    with pytest.raises(RuntimeError):
        _ = fake.url
    with fake, pytest.raises(RuntimeError):
        fake.start()
    with pytest.raises(RuntimeError):
        fake.start()
