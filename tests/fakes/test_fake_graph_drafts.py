"""The fake Graph's large-message routes: drafts, attachment upload sessions, draft send, and
folder listings filtered by internetMessageId, driven with plain httpx over loopback."""

from __future__ import annotations

import base64
import random
import ssl
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from relayops.fakes import FakeGraph
from relayops.fakes.graph import DEFAULT_TOKEN, DELETE_AFTER_SUBMIT, UPLOAD_RANGE_LIMIT

TLS = ssl.create_default_context()  # shared: loading CA certificates per client is slow
MESSAGES = "/v1.0/me/messages"
DRAFTS = "/v1.0/me/mailFolders/drafts/messages"
SENT = "/v1.0/me/mailFolders/sentitems/messages"
SMALL = b"small attachment \x00\xff"


def draft_json(**extra: Any) -> dict[str, Any]:
    message = {
        "subject": "Big report",
        "body": {"contentType": "HTML", "content": "<p>see attached</p>"},
        "toRecipients": [{"emailAddress": {"address": "bob@example.com"}}],
        "internetMessageId": "<key-1@relay.test>",
        "internetMessageHeaders": [{"name": "X-Relay-Idempotency-Key", "value": "key-1"}],
        "attachments": [
            {
                "@odata.type": "#microsoft.graph.fileAttachment",
                "name": "small.bin",
                "contentType": "application/octet-stream",
                "contentBytes": base64.b64encode(SMALL).decode(),
            }
        ],
    }
    return message | extra


def item(size: int, **extra: Any) -> dict[str, Any]:
    fields = {
        "attachmentType": "file",
        "name": "big.bin",
        "size": size,
        "contentType": "application/octet-stream",
        "isInline": False,
    }
    return {"AttachmentItem": fields | extra}


@pytest.fixture
def graph() -> Iterator[FakeGraph]:
    """Upload sessions of any size, so range handling is tested on a few bytes; the size
    minimum has its own test."""
    with FakeGraph(upload_session_min=1) as fake:
        yield fake


@pytest.fixture
def gr(graph: FakeGraph) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {DEFAULT_TOKEN}"}
    with httpx.Client(base_url=graph.url, headers=headers, timeout=10, verify=TLS) as c:
        yield c


@pytest.fixture
def bare() -> Iterator[httpx.Client]:
    """A client without Authorization, as an upload URL wants."""
    with httpx.Client(timeout=10, verify=TLS) as c:
        yield c


def create_draft(gr: httpx.Client, **extra: Any) -> dict[str, Any]:
    response = gr.post(MESSAGES, json=draft_json(**extra))
    assert response.status_code == 201, response.text
    return response.json()


def open_session(gr: httpx.Client, draft_id: str, size: int, **extra: Any) -> dict[str, Any]:
    response = gr.post(
        f"{MESSAGES}/{draft_id}/attachments/createUploadSession", json=item(size, **extra)
    )
    assert response.status_code == 201, response.text
    return response.json()


def put(
    client: httpx.Client, url: str, data: bytes, start: int, total: int, **headers: str
) -> httpx.Response:
    end = start + len(data) - 1
    range_header = {"Content-Range": f"bytes {start}-{end}/{total}"}
    return client.put(url, content=data, headers=range_header | headers)


def error_code(response: httpx.Response) -> str:
    return response.json()["error"]["code"]


# Drafts


def test_create_get_and_delete_a_draft(graph: FakeGraph, gr: httpx.Client) -> None:
    draft = create_draft(gr)
    assert draft["isDraft"] is True
    assert draft["internetMessageId"] == "<key-1@relay.test>"
    assert draft["internetMessageHeaders"] == [
        {"name": "X-Relay-Idempotency-Key", "value": "key-1"}
    ]
    assert draft["hasAttachments"] is True
    [stored] = graph.drafts
    assert stored.attachments[0].data == SMALL
    assert gr.get(f"{MESSAGES}/{draft['id']}").json()["id"] == draft["id"]
    assert gr.delete(f"{MESSAGES}/{draft['id']}").status_code == 204
    assert graph.drafts == []
    for response in (gr.get(f"{MESSAGES}/{draft['id']}"), gr.delete(f"{MESSAGES}/{draft['id']}")):
        assert response.status_code == 404
        assert error_code(response) == "ErrorItemNotFound"
    assert graph.delivery_count == 0


def test_draft_generates_an_internet_message_id(gr: httpx.Client) -> None:
    message = draft_json()
    del message["internetMessageId"]
    draft = gr.post(MESSAGES, json=message).json()
    assert draft["internetMessageId"].startswith("<")
    assert draft["internetMessageId"].endswith(">")


@pytest.mark.parametrize(
    ("change", "code"),
    [
        (
            {"internetMessageHeaders": [{"name": "Relay-Key", "value": "1"}]},
            "InvalidInternetMessageHeader",
        ),
        ({"bogus": 1}, "RequestBodyRead"),
        (
            {"toRecipients": [{"emailAddress": {"address": "not-an-address"}}]},
            "ErrorInvalidRecipients",
        ),
    ],
)
def test_draft_validation(graph: FakeGraph, gr: httpx.Client, change: dict, code: str) -> None:
    response = gr.post(MESSAGES, json=draft_json(**change))
    assert response.status_code == 400
    assert error_code(response) == code
    assert graph.drafts == []


def test_draft_without_recipients_is_kept_but_cannot_be_sent(
    graph: FakeGraph, gr: httpx.Client
) -> None:
    draft = create_draft(gr, toRecipients=[])
    response = gr.post(f"{MESSAGES}/{draft['id']}/send")
    assert response.status_code == 400
    assert error_code(response) == "ErrorInvalidRecipients"
    assert len(graph.drafts) == 1
    assert graph.delivery_count == 0


def test_post_attachment_to_a_draft(graph: FakeGraph, gr: httpx.Client) -> None:
    draft = create_draft(gr)
    attachment = draft_json()["attachments"][0] | {"name": "second.bin"}
    response = gr.post(f"{MESSAGES}/{draft['id']}/attachments", json=attachment)
    assert response.status_code == 201
    assert response.json()["size"] == len(SMALL)
    assert [a.name for a in graph.drafts[0].attachments] == ["small.bin", "second.bin"]
    assert gr.post(f"{MESSAGES}/AAMkNone/attachments", json=attachment).status_code == 404


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", MESSAGES),
        ("GET", f"{MESSAGES}/x"),
        ("DELETE", f"{MESSAGES}/x"),
        ("POST", f"{MESSAGES}/x/attachments"),
        ("POST", f"{MESSAGES}/x/attachments/createUploadSession"),
        ("POST", f"{MESSAGES}/x/send"),
        ("GET", DRAFTS),
    ],
)
def test_graph_routes_need_a_token(
    graph: FakeGraph, bare: httpx.Client, method: str, path: str
) -> None:
    response = bare.request(method, graph.url + path, headers={"Authorization": "Bearer expired"})
    assert response.status_code == 401
    assert error_code(response) == "InvalidAuthenticationToken"


# Upload sessions


def test_upload_in_ranges_then_send(graph: FakeGraph, gr: httpx.Client, bare: httpx.Client) -> None:
    data = random.Random(7).randbytes(UPLOAD_RANGE_LIMIT + 1000)
    draft = create_draft(gr)
    session = open_session(gr, draft["id"], len(data), isInline=True, contentId="logo")
    url = session["uploadUrl"]
    assert url.startswith(graph.url)
    assert session["nextExpectedRanges"] == ["0"]  # Outlook's single "{start}" value
    first = put(bare, url, data[:UPLOAD_RANGE_LIMIT], 0, len(data))
    assert first.status_code == 200
    assert first.json()["nextExpectedRanges"] == [str(UPLOAD_RANGE_LIMIT)]
    listed = gr.get(f"{MESSAGES}/{draft['id']}/attachments").json()["value"]
    assert [a["name"] for a in listed] == ["small.bin"]  # the upload is not attached yet
    last = put(bare, url, data[UPLOAD_RANGE_LIMIT:], UPLOAD_RANGE_LIMIT, len(data))
    assert last.status_code == 201
    assert last.content == b""
    assert "/Attachments('" in last.headers["location"]
    assert put(bare, url, data[UPLOAD_RANGE_LIMIT:], UPLOAD_RANGE_LIMIT, len(data)).status_code == (
        404
    )  # the session is over
    listed = gr.get(f"{MESSAGES}/{draft['id']}/attachments").json()["value"]
    assert sorted(a["name"] for a in listed) == ["big.bin", "small.bin"]
    assert [(p.size, p.authorization, p.status) for p in graph.upload_puts] == [
        (UPLOAD_RANGE_LIMIT, False, 200),
        (1000, False, 201),
        (1000, False, 404),
    ]
    assert gr.post(f"{MESSAGES}/{draft['id']}/send").status_code == 202
    [sent] = graph.deliveries
    assert sent.attachment_bytes() == {"small.bin": SMALL, "big.bin": data}
    [big] = [a for a in sent.draft_attachments if a.name == "big.bin"]
    assert (big.is_inline, big.content_id) == (True, "logo")
    assert graph.sent_items == [sent]
    assert graph.drafts == []
    assert gr.post(f"{MESSAGES}/{draft['id']}/send").status_code == 404
    assert graph.delivery_count == 1


def test_upload_url_refuses_authorization(graph: FakeGraph, gr: httpx.Client) -> None:
    draft = create_draft(gr)
    url = open_session(gr, draft["id"], 10)["uploadUrl"]
    response = put(gr, url, b"0123456789", 0, 10)  # gr sends its bearer token
    assert response.status_code == 401
    assert error_code(response) == "InvalidAuthenticationToken"
    assert [p.authorization for p in graph.upload_puts] == [True]
    assert graph.upload_sessions[0].received == b""


@pytest.mark.parametrize(
    ("content_range", "body", "status"),
    [
        ("bytes 0-9/20", b"x" * 10, 200),  # the control: a good first range
        ("bytes 5-14/20", b"x" * 10, 416),  # not at the next expected byte
        ("bytes 0-9", b"x" * 10, 400),  # malformed
        ("bytes 0-19/20", b"x" * 10, 400),  # body shorter than the range
        ("bytes 0-25/26", b"x" * 26, 400),  # total differs from the session size
    ],
)
def test_range_refusals(
    graph: FakeGraph,
    gr: httpx.Client,
    bare: httpx.Client,
    content_range: str,
    body: bytes,
    status: int,
) -> None:
    draft = create_draft(gr)
    url = open_session(gr, draft["id"], 20)["uploadUrl"]
    response = bare.put(url, content=body, headers={"Content-Range": content_range})
    assert response.status_code == status
    if status >= 400:
        assert "error" in response.json()
        assert graph.upload_sessions[0].received == b""


def test_range_over_4_mb_refused(graph: FakeGraph, gr: httpx.Client, bare: httpx.Client) -> None:
    size = 4_000_001  # Microsoft: each PUT carries "up to 4 MB"
    draft = create_draft(gr)
    url = open_session(gr, draft["id"], size)["uploadUrl"]
    response = put(bare, url, b"\0" * size, 0, size)
    assert response.status_code == 400
    assert "at most 4000000 bytes" in response.json()["error"]["message"]
    assert graph.upload_sessions[0].received == b""


def test_a_status_get_on_an_upload_url_is_refused(gr: httpx.Client, bare: httpx.Client) -> None:
    """Documented for OneDrive upload sessions only, not for Outlook attachments."""
    draft = create_draft(gr)
    url = open_session(gr, draft["id"], 10)["uploadUrl"]
    response = bare.get(url)
    assert response.status_code == 405 and error_code(response) == "MethodNotAllowed"


@pytest.mark.parametrize(("size", "status"), [(2 * 1024 * 1024 - 1, 400), (2 * 1024 * 1024, 201)])
def test_upload_sessions_have_a_minimum_size(size: int, status: int) -> None:
    headers = {"Authorization": f"Bearer {DEFAULT_TOKEN}"}
    with (
        FakeGraph() as graph,
        httpx.Client(base_url=graph.url, headers=headers, verify=TLS) as client,
    ):
        draft = client.post(MESSAGES, json=draft_json()).json()
        response = client.post(
            f"{MESSAGES}/{draft['id']}/attachments/createUploadSession", json=item(size)
        )
    assert response.status_code == status
    if status == 400:
        assert error_code(response) == "ErrorAttachmentSizeShouldNotBeLessThanMinimumSize"


def test_upload_url_needs_its_token(gr: httpx.Client, bare: httpx.Client) -> None:
    draft = create_draft(gr)
    url = open_session(gr, draft["id"], 10)["uploadUrl"]
    forged = url.split("?")[0] + "?authtoken=forged"
    assert put(bare, forged, b"0123456789", 0, 10).status_code == 401


def test_cancel_and_draft_delete_end_sessions(
    graph: FakeGraph, gr: httpx.Client, bare: httpx.Client
) -> None:
    draft = create_draft(gr)
    url = open_session(gr, draft["id"], 10)["uploadUrl"]
    assert bare.delete(url).status_code == 204
    assert put(bare, url, b"0123456789", 0, 10).status_code == 404
    url = open_session(gr, draft["id"], 10)["uploadUrl"]
    gr.delete(f"{MESSAGES}/{draft['id']}")
    assert graph.upload_sessions == []
    assert put(bare, url, b"0123456789", 0, 10).status_code == 404


@pytest.mark.parametrize(
    ("payload", "status", "code"),
    [
        (item(150 * 1024 * 1024 + 1), 400, "ErrorMessageSizeExceeded"),
        (item(10, attachmentType="item"), 400, "ErrorInvalidRequest"),
        (item(0), 400, "ErrorInvalidRequest"),
        (item(10, bogus=True), 400, "RequestBodyRead"),
        ({"Attachment": {}}, 400, "RequestBodyRead"),
    ],
)
def test_create_upload_session_validation(
    gr: httpx.Client, payload: dict, status: int, code: str
) -> None:
    draft = create_draft(gr)
    response = gr.post(f"{MESSAGES}/{draft['id']}/attachments/createUploadSession", json=payload)
    assert response.status_code == status
    assert error_code(response) == code


def test_create_upload_session_unknown_draft(gr: httpx.Client) -> None:
    response = gr.post(f"{MESSAGES}/AAMkNone/attachments/createUploadSession", json=item(10))
    assert response.status_code == 404
    assert error_code(response) == "ErrorItemNotFound"


def test_faults_apply_to_upload_urls(
    graph: FakeGraph, gr: httpx.Client, bare: httpx.Client
) -> None:
    draft = create_draft(gr)
    url = open_session(gr, draft["id"], 10)["uploadUrl"]
    [session] = graph.upload_sessions
    graph.faults.status(503, path=session.path)
    response = put(bare, url, b"0123456789", 0, 10)
    assert response.status_code == 503
    assert error_code(response) == "ServiceUnavailable"
    assert [(p.status, p.content_range) for p in graph.upload_puts] == [(503, "bytes 0-9/10")]
    assert put(bare, url, b"0123456789", 0, 10).status_code == 201


# Sending drafts and listings


def test_delete_after_submit_keeps_no_sent_copy(graph: FakeGraph, gr: httpx.Client) -> None:
    draft = create_draft(
        gr, singleValueExtendedProperties=[{"id": DELETE_AFTER_SUBMIT, "value": "true"}]
    )
    assert gr.post(f"{MESSAGES}/{draft['id']}/send").status_code == 202
    assert graph.delivery_count == 1
    assert graph.sent_items == []


def test_folder_filter_by_internet_message_id(graph: FakeGraph, gr: httpx.Client) -> None:
    quoted = "<o'brien@relay.test>"
    create_draft(gr, internetMessageId=quoted)
    other = create_draft(gr, internetMessageId="<other@relay.test>")
    gr.post(f"{MESSAGES}/{other['id']}/send")
    condition = "internetMessageId eq '<o''brien@relay.test>'"
    params = {"$filter": condition, "$select": "internetMessageId,isDraft"}
    [found] = gr.get(DRAFTS, params=params).json()["value"]
    assert found == {"id": graph.drafts[0].id, "internetMessageId": quoted, "isDraft": True}
    assert gr.get(SENT, params=params).json()["value"] == []
    sent = gr.get(SENT, params={"$filter": "internetMessageId eq '<other@relay.test>'"})
    [item_] = sent.json()["value"]
    assert item_["isDraft"] is False
    assert gr.get(DRAFTS, params={"$top": "1"}).json()["value"][0]["internetMessageId"] == quoted


@pytest.mark.parametrize(
    ("path", "params"),
    [
        (DRAFTS, {"$filter": "subject eq 'x'"}),
        (DRAFTS, {"$orderby": "createdDateTime"}),
        ("/v1.0/me/mailFolders/inbox/messages", {}),
    ],
)
def test_listing_refuses_what_the_fake_does_not_implement(
    gr: httpx.Client, path: str, params: dict
) -> None:
    response = gr.get(path, params=params)
    assert response.status_code == 501
    assert error_code(response) == "NotImplemented"
