"""No duplicate mail: idempotency keys, look-ups after an ambiguous outcome, and resends only
when a look-up proved the message absent. Real HTTP against the fake Gmail and Graph servers,
real waiting (the fakes deliver slow requests after the client gave up, and Gmail indexes a
sent message with a delay)."""

from __future__ import annotations

import base64
import os
import time
from collections.abc import Iterator

import httpx
import pytest

from relayops.adapters.adapter import SendAdapter
from relayops.adapters.errors import ErrorCode
from relayops.adapters.gmail.provider import GmailRoute
from relayops.adapters.idempotency import HEADER, LookupPolicy, derived_key
from relayops.adapters.message_id import MessageId
from relayops.adapters.outlook.lookup import find_messages
from relayops.adapters.outlook.provider import OutlookRoute
from relayops.adapters.params import validate_params
from relayops.adapters.retry import Backoff
from relayops.adapters.smoke import StaticToken
from relayops.fakes import FakeGmail, FakeGraph, FaultPlan
from relayops.fakes.gmail import UPLOAD_QUANTUM
from relayops.fakes.graph import DEFAULT_TOKEN as GRAPH_TOKEN
from tests.send_util import fake_adapter

SEND_PATH = {"gmail": "/gmail/v1/users/me/messages/send", "outlook": "/v1.0/me/sendMail"}
SLOW_SECONDS = 0.6
CLIENT_TIMEOUT = 0.25
LOOKUP = LookupPolicy(waits=(0.3, 0.6, 0.6), max_resends=1)


@pytest.fixture
def faults() -> FaultPlan:
    return FaultPlan()


@pytest.fixture
def servers(faults) -> Iterator[dict[str, FakeGmail | FakeGraph]]:
    with FakeGmail(faults=faults, index_delay=0.2) as gmail, FakeGraph(faults=faults) as graph:
        yield {"gmail": gmail, "outlook": graph}


def adapter(specs, provider: str, server, *, lookup: LookupPolicy = LOOKUP) -> SendAdapter:
    return fake_adapter(specs, provider, server, timeout=CLIENT_TIMEOUT, lookup=lookup)


def params(subject: str, **extra) -> dict:
    return {"to": ["ana@customer.example"], "subject": subject, "text": "Body.", **extra}


def copies(server, subject: str) -> int:
    if isinstance(server, FakeGmail):
        return sum(1 for d in server.deliveries if d.header("Subject") == subject)
    return sum(1 for d in server.deliveries if d.message.get("subject") == subject)


@pytest.mark.parametrize("provider", ["gmail", "outlook"])
def test_504_after_accept_and_timeouts_deliver_each_message_exactly_once(
    specs, servers, faults, provider
):
    server = servers[provider]
    send = adapter(specs, provider, server)
    path = SEND_PATH[provider]
    cases = {
        "accepted, then 504": lambda: faults.accept_then(504, path=path),
        "accepted after the client timed out": lambda: faults.slow(SLOW_SECONDS, path=path),
        "504, not accepted": lambda: faults.status(504, path=path),
        "connection reset, not accepted": lambda: faults.reset(path=path),
        "no fault": lambda: None,
    }
    for name, inject in cases.items():
        inject()
        result = send.execute(f"{provider}.send", params(name), "ws", "actor")
        time.sleep(SLOW_SECONDS)  # let a slow request land before counting
        assert result.ok, (name, result.error)
        assert copies(server, name) == 1, name
    assert not faults.pending


@pytest.mark.parametrize("provider", ["gmail", "outlook"])
def test_a_found_copy_is_reported_as_deduplicated(specs, servers, faults, provider):
    server = servers[provider]
    faults.accept_then(504, path=SEND_PATH[provider])
    result = adapter(specs, provider, server).execute(
        f"{provider}.send", params("once"), "ws", "actor"
    )
    assert result.ok and result.deduplicated and result.provider_id
    assert result.idempotency_key and copies(server, "once") == 1


@pytest.mark.parametrize("provider", ["gmail", "outlook"])
def test_a_failed_look_up_never_resends(specs, servers, faults, provider):
    """The look-up itself fails: whether the message went out is unknown, so the answer is the
    ambiguous error and nothing is sent again."""
    server = servers[provider]
    faults.accept_then(504, path=SEND_PATH[provider])
    faults.status(500, times=50)  # every later request, the look-ups included, fails
    result = adapter(specs, provider, server).execute(
        f"{provider}.send", params("unknown"), "ws", "actor"
    )
    assert not result.ok
    assert result.error.error_code is ErrorCode.AMBIGUOUS_MAY_HAVE_SENT
    assert copies(server, "unknown") == 1
    sends = [r for r in server.requests if r.method == "POST" and r.path == SEND_PATH[provider]]
    assert len(sends) == 1


LOOKUP_PATH = {
    "gmail": "/gmail/v1/users/me/messages",
    "outlook": "/v1.0/me/mailFolders/sentitems/messages",
}


@pytest.mark.parametrize("provider", ["gmail", "outlook"])
def test_a_look_up_that_goes_unanswered_once_is_asked_again(specs, servers, faults, provider):
    """A look-up is a GET, safe to repeat: one 504 on it must not leave the send ambiguous
    when asking again finds the message."""
    server = servers[provider]
    faults.accept_then(504, path=SEND_PATH[provider])
    faults.status(504, path=LOOKUP_PATH[provider])
    result = adapter(specs, provider, server).execute(
        f"{provider}.send", params("asked twice"), "ws", "actor"
    )
    assert result.ok and result.deduplicated, result.error
    assert not faults.pending and copies(server, "asked twice") == 1
    looks = [r for r in server.requests if r.method == "GET" and r.path == LOOKUP_PATH[provider]]
    assert [r.status for r in looks][:2] == [504, 200]


@pytest.mark.parametrize("provider", ["gmail", "outlook"])
def test_the_ambiguous_error_says_what_happened(specs, servers, faults, provider):
    server = servers[provider]
    faults.accept_then(504, path=SEND_PATH[provider])
    faults.status(500, times=50)
    failure = (
        adapter(specs, provider, server)
        .execute(f"{provider}.send", params("what happened"), "ws", "actor")
        .error
    )
    assert failure.error_code is ErrorCode.AMBIGUOUS_MAY_HAVE_SENT
    assert failure.message.startswith("the provider may have taken the message: HTTP 504")
    assert ": ;" not in failure.message and "the look-up for it failed" in failure.message


@pytest.mark.parametrize("provider", ["gmail", "outlook"])
def test_a_callers_key_sent_before_is_not_sent_again(specs, servers, provider):
    server = servers[provider]
    send = adapter(specs, provider, server)
    first = send.execute(f"{provider}.send", params("keyed", idempotency_key="order-77"), "w", "a")
    time.sleep(0.3)  # past the fake Gmail's index delay
    again = send.execute(f"{provider}.send", params("keyed", idempotency_key="order-77"), "w", "a")
    assert first.ok and not first.deduplicated
    assert again.ok and again.deduplicated
    assert first.idempotency_key == again.idempotency_key == "order-77"
    assert copies(server, "keyed") == 1


@pytest.mark.parametrize("provider", ["gmail", "outlook"])
def test_the_same_content_sent_twice_on_purpose_goes_out_twice(specs, servers, provider):
    server = servers[provider]
    send = adapter(specs, provider, server)
    results = [send.execute(f"{provider}.send", params("twice"), "w", "a") for _ in range(2)]
    assert all(r.ok and not r.deduplicated for r in results)
    assert results[0].idempotency_key != results[1].idempotency_key
    assert copies(server, "twice") == 2


def test_the_key_is_the_message_id_and_the_header(specs, servers):
    gmail, graph = servers["gmail"], servers["outlook"]
    adapter(specs, "gmail", gmail).execute(
        "gmail.send", params("ids", idempotency_key="k-1"), "w", "a"
    )
    adapter(specs, "outlook", graph).execute(
        "outlook.send", params("ids", idempotency_key="k-1"), "w", "a"
    )
    [mime] = gmail.deliveries
    assert mime.header("Message-ID").startswith("<k-1@") and mime.header(HEADER) == "k-1"
    [stored] = graph.deliveries
    assert stored.internet_message_id.startswith("<k-1@") and stored.header(HEADER) == "k-1"


def test_a_bad_key_is_a_validation_error_naming_the_field(specs):
    policy = specs.provider("gmail").send
    with pytest.raises(Exception) as caught:
        validate_params(params("x", idempotency_key="has space"), policy, "gmail")
    failure = caught.value.error
    assert failure.error_code is ErrorCode.VALIDATION_FAILED
    assert failure.field == "idempotency_key"


def test_derived_keys_are_tied_to_the_content_and_unique():
    digest = "ab" * 32
    first, second = derived_key(digest), derived_key(digest)
    assert first != second
    assert first.startswith(digest[:24]) and second.startswith(digest[:24])


@pytest.mark.parametrize("provider", ["gmail", "outlook"])
def test_an_ambiguous_end_of_a_large_upload_delivers_once(specs, servers, faults, provider):
    """The last request of the upload routes (Gmail's final chunk, Graph's draft send) is
    accepted and answered 504: the message is found, not uploaded again."""
    server = servers[provider]
    big = base64.b64encode(os.urandom(6 * 1024 * 1024)).decode()
    payload = params(
        "large",
        attachments=[{"data": big, "filename": "big.pdf", "content_type": "application/pdf"}],
    )
    send = adapter(specs, provider, server)
    preview = send.preview(f"{provider}.send", payload)
    if provider == "gmail":
        assert preview.summary["route"] == GmailRoute.GMAIL_RESUMABLE
        chunks = -(-preview.summary["payload_bytes"] // (8 * UPLOAD_QUANTUM))
        before_last = 1 + chunks - 1  # the initiation and every chunk but the last
    else:
        assert preview.summary["route"] == OutlookRoute.UPLOAD_SESSION
        before_last = 1 + 1 + 2  # draft, upload session, two 4 MiB ranges
    faults.slow(0, times=before_last)
    faults.accept_then(504)
    result = send.execute(f"{provider}.send", payload, "w", "a")
    assert result.ok, result.error
    assert not faults.pending
    assert copies(server, "large") == 1
    # Gmail's session status answers for the last chunk; Graph's Sent Items for the draft send
    assert result.deduplicated is (provider == "outlook")


def test_graph_look_up_falls_back_to_the_header_when_graph_replaced_the_message_id(servers):
    """Graph may not keep a client-set internetMessageId; the idempotency header still finds
    the Sent Items copy among the folder's newest messages."""
    graph = servers["outlook"]
    payload = {
        "message": {
            "subject": "replaced id",
            "toRecipients": [{"emailAddress": {"address": "ana@customer.example"}}],
            "internetMessageHeaders": [{"name": HEADER, "value": "k-9"}],
        }
    }
    headers = {"Authorization": f"Bearer {GRAPH_TOKEN}"}
    assert (
        httpx.post(f"{graph.url}/v1.0/me/sendMail", json=payload, headers=headers).status_code
        == 202
    )
    with httpx.Client(timeout=5) as client:

        def look(key):
            return find_messages(
                client,
                graph.url,
                StaticToken(GRAPH_TOKEN),
                Backoff(),
                MessageId("k-9", "relay.example"),
                folders=("sentitems",),
                key=key,
            )

        [found] = look("k-9")
        assert found.folder == "sentitems" and not found.is_draft
        assert look(None) == [] and look("k-10") == []
