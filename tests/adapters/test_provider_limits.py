"""Attachments of every size class reach the fakes, which enforce the providers' documented
limits (README, "Provider limits"): Graph request bodies of at most 4,000,000 bytes, upload
ranges of at most 4,000,000 bytes, upload sessions only for large files; Gmail's 35 MiB upload
endpoint. Each size is sent through the adapter and judged by what the fake stored, byte for
byte, and by the size of every request it received.

Route boundaries are located with `preview`, only to pick the sizes worth sending: the verdict
is the fake's, which refuses an oversized body (413) whatever the adapter believed.
"""

from __future__ import annotations

import base64
import random
from collections.abc import Iterator

import httpx
import pytest

from relayops.adapters.adapter import SendAdapter
from relayops.adapters.errors import ErrorCode
from relayops.adapters.gmail.provider import GmailRoute
from relayops.adapters.outlook.provider import OutlookRoute
from relayops.fakes import FakeGmail, FakeGraph
from relayops.fakes.graph import DEFAULT_TOKEN as GRAPH_TOKEN
from tests.send_util import fake_adapter

MIB = 1024 * 1024
GRAPH_BODY_LIMIT = 4_000_000  # "4 MB", Microsoft Graph
GRAPH_RANGE_LIMIT = 4_000_000  # "up to 4 MB" per PUT to an upload URL


@pytest.fixture(scope="module")
def servers() -> Iterator[dict[str, FakeGmail | FakeGraph]]:
    with FakeGmail() as gmail, FakeGraph() as graph:
        yield {"gmail": gmail, "outlook": graph}


def adapter(specs, provider: str, server) -> SendAdapter:
    return fake_adapter(specs, provider, server, timeout=60, deadline=30)


_DATA = random.Random(11).randbytes(26 * MIB)


def payload(size: int) -> dict:
    data = _DATA[:size] if size <= len(_DATA) else random.Random(size).randbytes(size)
    return {
        "to": ["ana@customer.example"],
        "subject": f"attachment of {size} bytes",
        "text": "See the attachment.",
        "attachments": [
            {
                "data": base64.b64encode(data).decode(),
                "filename": "file.pdf",
                "content_type": "application/pdf",
            }
        ],
    }


def last_size_routed(send: SendAdapter, action: str, route: str, low: int, high: int) -> int:
    """The largest attachment size in [low, high) that `preview` sends by `route`."""

    def routed(size: int) -> bool:
        return send.preview(action, payload(size)).summary["route"] == str(route)

    assert routed(low) and not routed(high)
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (middle, high) if routed(middle) else (low, middle)
    return low


def sent_intact(server, send: SendAdapter, action: str, size: int) -> None:
    before_deliveries, before_requests = len(server.deliveries), len(server.requests)
    result = send.execute(action, payload(size), "ws", "actor")
    assert result.ok, (size, result.error)
    [stored] = server.deliveries[before_deliveries:]
    expected = _DATA[:size] if size <= len(_DATA) else random.Random(size).randbytes(size)
    if isinstance(server, FakeGmail):
        [part] = [p for p in stored.mime.walk() if p.get_filename() == "file.pdf"]
        assert part.get_content() == expected, size
    else:
        assert stored.attachment_bytes() == {"file.pdf": expected}, size
        for request in server.requests[before_requests:]:
            limit = GRAPH_RANGE_LIMIT if "AttachmentSessions" in request.path else GRAPH_BODY_LIMIT
            assert request.body_size <= limit, (size, request.method, request.path)
            assert request.status < 400, (size, request.method, request.path, request.status)


def outlook_sizes(send: SendAdapter) -> list[int]:
    action = "outlook.send"
    send_mail = last_size_routed(send, action, OutlookRoute.SEND_MAIL, 1, 3 * MIB)
    return sorted(
        {
            1,
            1000,
            MIB,
            *(send_mail - 1, send_mail, send_mail + 1),
            *(int(2.9 * MIB), 3 * MIB, int(3.1 * MIB)),
            # the attachment POST body reaches 4,000,000 bytes a little above sendMail's size
            *range(send_mail + 2, send_mail + 200, 37),
            2_999_999,
            3_000_000,
            3_000_001,
            GRAPH_RANGE_LIMIT - 1,
            GRAPH_RANGE_LIMIT,
            GRAPH_RANGE_LIMIT + 1,
            20 * MIB,
        }
    )


def gmail_sizes(send: SendAdapter) -> list[int]:
    action = "gmail.send"
    json_route = last_size_routed(send, action, GmailRoute.GMAIL_JSON, 1, 2 * MIB)
    media = last_size_routed(send, action, GmailRoute.GMAIL_MEDIA, json_route + 1, 5 * MIB)
    return sorted(
        {
            1,
            1000,
            *(json_route - 1, json_route, json_route + 1),
            *(media - 1, media, media + 1),
            *(int(2.9 * MIB), 3 * MIB, int(3.1 * MIB)),
            25 * MIB,  # the spec's per-file maximum, through the resumable upload
        }
    )


def test_outlook_every_size_class_arrives_within_graph_limits(specs, servers):
    graph = servers["outlook"]
    send = adapter(specs, "outlook", graph)
    before = len(graph.requests)
    for size in outlook_sizes(send):
        sent_intact(graph, send, "outlook.send", size)
    # every way an attachment travels was taken: sendMail, inside a draft, a POST to the
    # draft, an upload session
    paths = [(r.method, r.path.rsplit("/", 1)[-1]) for r in graph.requests[before:]]
    for way in [("POST", "sendMail"), ("POST", "messages"), ("POST", "attachments")]:
        assert way in paths, way
    assert ("POST", "createUploadSession") in paths


def test_outlook_largest_file_goes_through_an_upload_session(specs, servers):
    send = adapter(specs, "outlook", servers["outlook"])
    largest = specs.provider("outlook").send.max_attachment_bytes
    assert send.preview("outlook.send", payload(largest)).summary["route"] == "upload_session"
    sent_intact(servers["outlook"], send, "outlook.send", largest)
    refused = send.execute("outlook.send", payload(largest + 1), "ws", "actor")
    assert refused.error.error_code is ErrorCode.TOO_LARGE


def test_gmail_every_size_class_arrives(specs, servers):
    send = adapter(specs, "gmail", servers["gmail"])
    for size in gmail_sizes(send):
        sent_intact(servers["gmail"], send, "gmail.send", size)
    refused = send.execute("gmail.send", payload(25 * MIB + 1), "ws", "actor")
    assert refused.error.error_code is ErrorCode.TOO_LARGE


def test_the_fake_graph_refuses_a_body_over_4_000_000_bytes(servers):
    graph = servers["outlook"]
    headers = {"Authorization": f"Bearer {GRAPH_TOKEN}", "Content-Type": "application/json"}
    body = b'{"message":{"subject":"' + b"x" * (GRAPH_BODY_LIMIT - 20) + b'"}}'
    assert len(body) > GRAPH_BODY_LIMIT
    answer = httpx.post(f"{graph.url}/v1.0/me/sendMail", content=body, headers=headers)
    assert answer.status_code == 413
