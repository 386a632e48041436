"""Gmail's resumable upload (relayops.adapters.gmail.upload) and the Message-ID lookup
(relayops.adapters.gmail.lookup) against the fake Gmail, over real HTTP on loopback."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator

import httpx
import pytest

from relayops.adapters.gmail.lookup import find_by_message_id
from relayops.adapters.gmail.upload import (
    GMAIL_UPLOAD_LIMIT,
    UPLOAD_PATH,
    UPLOAD_QUANTUM,
    check_size,
    send_resumable,
)
from relayops.adapters.idempotency import LookupFailed
from relayops.adapters.message import Attachment, Message
from relayops.adapters.message_id import MessageId
from relayops.adapters.mime import mime_bytes
from relayops.adapters.retry import Backoff, Outcome
from relayops.adapters.transport import Attempted
from relayops.fakes import FakeGmail, FaultKind, FaultPlan, RecordedRequest, gmail_error
from relayops.fakes.gmail import DEFAULT_TOKEN
from tests.doubles import RotatingTokens
from tests.fakes.test_fake_servers import wait_for

BACKOFF = Backoff(base_seconds=0.01, max_seconds=0.05, deadline_seconds=5)
SMALL_CHUNK = UPLOAD_QUANTUM


def message(attachment_bytes: int, message_id: MessageId | None = None) -> bytes:
    """An RFC 5322 message with a random attachment, as the adapter builds it."""
    data = random.Random(attachment_bytes).randbytes(attachment_bytes)
    built = Message(
        sender="alice@relay.example",
        to=("bob@customer.example",),
        subject="Large report",
        text="Attached.\n",
        attachments=(Attachment("report.bin", "application/octet-stream", data),),
        message_id=message_id,
    )
    return mime_bytes(built, domain="relay.example")


@pytest.fixture(scope="module")
def large() -> bytes:
    raw = message(22_500_000)
    assert 30_000_000 < len(raw) < GMAIL_UPLOAD_LIMIT
    return raw


@pytest.fixture(scope="module")
def small() -> bytes:
    """Six 256 KiB chunks, the last one short."""
    raw = message(1_100_000)
    assert 5 * SMALL_CHUNK < len(raw) < 6 * SMALL_CHUNK
    return raw


@pytest.fixture
def faults() -> FaultPlan:
    return FaultPlan()


@pytest.fixture
def gmail(faults: FaultPlan) -> Iterator[FakeGmail]:
    with FakeGmail(faults=faults) as fake:
        yield fake


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5.0) as client:
        yield client


def upload(
    gmail: FakeGmail,
    http: httpx.Client,
    raw: bytes,
    *,
    tokens: RotatingTokens | None = None,
    waits: list[float] | None = None,
    chunk_bytes: int = SMALL_CHUNK,
) -> Attempted:
    return send_resumable(
        http,
        gmail.url,
        raw,
        tokens or RotatingTokens(DEFAULT_TOKEN),
        backoff=BACKOFF,
        sleep=(waits if waits is not None else []).append,
        chunk_bytes=chunk_bytes,
    )


def let_through(faults: FaultPlan, requests: int) -> None:
    """Let the next `requests` upload requests through untouched (a zero-second SLOW fault
    handles a request normally), so that the fault armed next hits a chosen request."""
    faults.slow(0, path=UPLOAD_PATH, times=requests)


def ranges(gmail: FakeGmail) -> list[tuple[str, int | None]]:
    """Content-Range and answer status of every PUT, in order."""
    return [(r.headers["content-range"], r.status) for r in puts(gmail)]


def puts(gmail: FakeGmail) -> list[RecordedRequest]:
    return [r for r in gmail.requests if r.method == "PUT"]


def chunk_ranges(total: int, chunk: int, start: int = 0) -> list[str]:
    return [
        f"bytes {first}-{min(first + chunk, total) - 1}/{total}"
        for first in range(start, total, chunk)
    ]


# The whole upload


def test_a_30_mb_message_arrives_byte_identical(
    gmail: FakeGmail, http: httpx.Client, large: bytes
) -> None:
    chunk = 8 * UPLOAD_QUANTUM
    result = upload(gmail, http, large, chunk_bytes=chunk)
    [stored] = gmail.deliveries
    assert result.outcome is Outcome.SENT and result.attempts == 1
    assert result.body == {"id": stored.id, "threadId": stored.thread_id, "labelIds": ["SENT"]}
    assert stored.raw == large and stored.via == "resumable"
    [opened] = [r for r in gmail.requests if r.method == "POST"]
    assert opened.query["uploadType"] == ["resumable"]
    assert opened.headers["x-upload-content-length"] == str(len(large))
    assert opened.headers["x-upload-content-type"] == "message/rfc822"
    expected = chunk_ranges(len(large), chunk)
    assert ranges(gmail) == [(r, 308) for r in expected[:-1]] + [(expected[-1], 200)]
    sizes = [r.body_size for r in puts(gmail)]
    assert set(sizes[:-1]) == {chunk} and 0 < sizes[-1] <= chunk
    assert sum(sizes) == len(large)
    assert all("authorization" not in r.headers for r in puts(gmail))  # the session URI is enough


@pytest.mark.parametrize("chunk_bytes", [0, -UPLOAD_QUANTUM, 100_000, UPLOAD_QUANTUM + 1])
def test_chunk_bytes_must_be_a_multiple_of_256_kib(
    gmail: FakeGmail, http: httpx.Client, small: bytes, chunk_bytes: int
) -> None:
    with pytest.raises(ValueError, match="multiple of 262144"):
        upload(gmail, http, small, chunk_bytes=chunk_bytes)
    assert gmail.requests == []


def test_over_35_mb_is_refused_before_anything_is_sent(
    gmail: FakeGmail, http: httpx.Client
) -> None:
    check_size(GMAIL_UPLOAD_LIMIT)
    with pytest.raises(ValueError) as refused:
        check_size(GMAIL_UPLOAD_LIMIT + 1)
    assert str(GMAIL_UPLOAD_LIMIT + 1) in str(refused.value)
    assert str(GMAIL_UPLOAD_LIMIT) in str(refused.value)
    with pytest.raises(ValueError, match="upload limit"):
        upload(gmail, http, bytes(GMAIL_UPLOAD_LIMIT + 1))
    assert gmail.requests == []


def test_the_server_limit_answers_413_at_initiation(faults: FaultPlan, small: bytes) -> None:
    with FakeGmail(faults=faults, upload_limit=len(small) - 1) as gmail, httpx.Client() as http:
        result = upload(gmail, http, small)
    assert (result.outcome, result.status) == (Outcome.PERMANENT, 413)
    assert [r.method for r in gmail.requests] == ["POST"]


# Initiation, through transport.send


def test_an_expired_token_is_refreshed_once_at_initiation(
    gmail: FakeGmail, http: httpx.Client, small: bytes
) -> None:
    tokens = RotatingTokens("expired", DEFAULT_TOKEN)
    result = upload(gmail, http, small, tokens=tokens)
    assert result.outcome is Outcome.SENT and tokens.refreshes == 1
    posts = [r.headers["authorization"] for r in gmail.requests if r.method == "POST"]
    assert posts == ["Bearer expired", f"Bearer {DEFAULT_TOKEN}"]
    assert result.attempts == 2


def test_a_failed_initiation_is_retried(
    gmail: FakeGmail, http: httpx.Client, faults: FaultPlan, small: bytes
) -> None:
    faults.status(503, path=UPLOAD_PATH, times=2)
    waits: list[float] = []
    result = upload(gmail, http, small, waits=waits)
    assert result.outcome is Outcome.SENT and result.attempts == 3 and len(waits) == 2
    assert gmail.delivery_count == 1


def test_an_initiation_timeout_is_not_ambiguous(faults: FaultPlan, small: bytes) -> None:
    """No byte of the message goes with an initiation: a timed-out one is opened once more,
    and two in a row are transient, not ambiguous."""
    faults.slow(1.0, path=UPLOAD_PATH, times=2)
    with FakeGmail(faults=faults) as gmail, httpx.Client(timeout=0.2) as http:
        result = upload(gmail, http, small)
        assert result.outcome is Outcome.TRANSIENT
        assert [r.method for r in gmail.requests] == ["POST", "POST"]


def test_one_timed_out_initiation_is_opened_again(faults: FaultPlan, small: bytes) -> None:
    faults.slow(1.0, path=UPLOAD_PATH)
    with FakeGmail(faults=faults) as gmail, httpx.Client(timeout=0.2) as http:
        result = upload(gmail, http, small)
        assert result.outcome is Outcome.SENT
        assert gmail.delivery_count == 1


# Resuming


@pytest.mark.parametrize(
    "arm",
    [
        lambda f: f.status(503, path=UPLOAD_PATH),
        lambda f: f.status(429, headers={"Retry-After": "1"}, path=UPLOAD_PATH),
        lambda f: f.status(403, gmail_error(403, reason="userRateLimitExceeded"), path=UPLOAD_PATH),
        lambda f: f.reset(path=UPLOAD_PATH),
        lambda f: f.reset(hard=True, path=UPLOAD_PATH),
    ],
    ids=["503", "429", "403-rate-limit", "reset", "hard-reset"],
)
def test_a_failed_middle_chunk_is_resumed_from_the_status_query(
    gmail: FakeGmail,
    http: httpx.Client,
    faults: FaultPlan,
    small: bytes,
    arm: Callable[[FaultPlan], object],
) -> None:
    let_through(faults, 3)  # the initiation and two chunks
    arm(faults)
    waits: list[float] = []
    result = upload(gmail, http, small, waits=waits)
    assert result.outcome is Outcome.SENT and result.attempts == 2 and len(waits) == 1
    [stored] = gmail.deliveries
    assert stored.raw == small and result.body and result.body["id"] == stored.id
    total = len(small)
    chunks = chunk_ranges(total, SMALL_CHUNK)
    sent = ranges(gmail)
    assert [r for r, _ in sent[:3]] == chunks[:3]
    assert sent[3] == (f"bytes */{total}", 308)
    assert [r for r, _ in sent[4:]] == chunks[2:]  # resumed where the server's Range said


def test_a_lost_answer_to_the_final_chunk_is_settled_by_the_status_query(
    gmail: FakeGmail, http: httpx.Client, faults: FaultPlan, small: bytes
) -> None:
    let_through(faults, 6)  # the initiation and five chunks
    faults.accept_then(503, path=UPLOAD_PATH)  # completed, but the client sees a 503
    result = upload(gmail, http, small)
    [stored] = gmail.deliveries
    assert result.outcome is Outcome.SENT and result.body and result.body["id"] == stored.id
    assert stored.raw == small
    last = chunk_ranges(len(small), SMALL_CHUNK)[-1]
    assert ranges(gmail)[-2:] == [(last, 503), (f"bytes */{len(small)}", 200)]  # not re-sent


class LoseAnswer(httpx.HTTPTransport):
    """Sends requests for real; the first one `lost` picks gets its answer read and then
    dropped, as when the connection breaks after the server answered."""

    def __init__(self, lost: Callable[[httpx.Request], bool]) -> None:
        super().__init__()
        self.lost, self.dropped = lost, 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = super().handle_request(request)
        if self.dropped or not self.lost(request):
            return response
        self.dropped += 1
        response.read()
        response.close()
        raise httpx.RemoteProtocolError("Server disconnected without sending a response.")


def test_a_dropped_connection_after_the_final_chunk_completed(
    gmail: FakeGmail, small: bytes
) -> None:
    last = chunk_ranges(len(small), SMALL_CHUNK)[-1]
    transport = LoseAnswer(lambda request: request.headers.get("content-range") == last)
    with httpx.Client(transport=transport, timeout=5.0) as http:
        result = upload(gmail, http, small)
    assert transport.dropped == 1
    [stored] = gmail.deliveries
    assert result.outcome is Outcome.SENT and result.body and result.body["id"] == stored.id
    assert stored.raw == small and result.attempts == 2
    assert ranges(gmail)[-2:] == [(last, 200), (f"bytes */{len(small)}", 200)]


def test_a_dropped_final_chunk_that_was_not_taken_is_sent_again(
    gmail: FakeGmail, http: httpx.Client, faults: FaultPlan, small: bytes
) -> None:
    let_through(faults, 6)
    faults.reset(path=UPLOAD_PATH)
    result = upload(gmail, http, small)
    assert result.outcome is Outcome.SENT and gmail.delivery_count == 1
    last = chunk_ranges(len(small), SMALL_CHUNK)[-1]
    assert ranges(gmail)[-3:] == [(last, None), (f"bytes */{len(small)}", 308), (last, 200)]


def test_a_timed_out_final_chunk_is_delivered_once_whichever_answer_comes_first(
    faults: FaultPlan, small: bytes
) -> None:
    let_through(faults, 6)
    slow = faults.slow(0.5, path=UPLOAD_PATH)
    with FakeGmail(faults=faults) as gmail, httpx.Client(timeout=0.2) as http:
        result = upload(gmail, http, small)
        assert wait_for(lambda: all(r.status for r in puts(gmail) if r.fault is FaultKind.SLOW))
        assert slow.fired == 1
        assert result.outcome is Outcome.SENT and gmail.delivery_count == 1
        assert gmail.deliveries[0].raw == small


@pytest.mark.parametrize(("chunk", "outcome"), [(2, Outcome.TRANSIENT), (5, Outcome.AMBIGUOUS)])
def test_a_chunk_that_keeps_failing_gives_up(
    gmail: FakeGmail,
    http: httpx.Client,
    faults: FaultPlan,
    small: bytes,
    chunk: int,
    outcome: Outcome,
) -> None:
    """Only a lost answer to the final chunk leaves the message possibly sent."""
    let_through(faults, 1 + chunk)
    faults.status(503, path=UPLOAD_PATH, times=20)  # the chunk and every status query after it
    result = upload(gmail, http, small)
    assert (result.outcome, result.status) == (outcome, 503)
    assert result.attempts == BACKOFF.max_attempts
    assert gmail.delivery_count == 0


def test_retries_are_counted_from_the_last_progress(
    gmail: FakeGmail, http: httpx.Client, faults: FaultPlan, small: bytes
) -> None:
    let_through(faults, 2)  # the initiation and the first chunk
    for _ in range(5):  # every further chunk fails once; its status query and resend pass
        faults.status(503, path=UPLOAD_PATH)
        let_through(faults, 2)
    result = upload(gmail, http, small)
    assert result.outcome is Outcome.SENT and result.attempts == 6 > BACKOFF.max_attempts
    assert gmail.deliveries[0].raw == small


# Sessions the server forgot


def test_an_expired_session_is_started_again_once(
    gmail: FakeGmail, http: httpx.Client, faults: FaultPlan, small: bytes
) -> None:
    let_through(faults, 2)
    faults.status(404, path=UPLOAD_PATH)
    result = upload(gmail, http, small)
    assert result.outcome is Outcome.SENT and result.attempts == 2
    assert [r.method for r in gmail.requests].count("POST") == 2
    [stored] = gmail.deliveries
    assert stored.raw == small


def test_a_session_expiring_twice_fails(
    gmail: FakeGmail, http: httpx.Client, faults: FaultPlan, small: bytes
) -> None:
    for _ in range(3):
        let_through(faults, 2)
        faults.status(404, path=UPLOAD_PATH)
    result = upload(gmail, http, small)
    assert (result.outcome, result.status, result.attempts) == (Outcome.PERMANENT, 404, 2)
    assert [r.method for r in gmail.requests].count("POST") == 2
    assert gmail.delivery_count == 0


def test_a_session_gone_after_a_lost_final_answer_is_ambiguous(
    gmail: FakeGmail, http: httpx.Client, faults: FaultPlan, small: bytes
) -> None:
    let_through(faults, 6)
    faults.status(503, path=UPLOAD_PATH)  # the final chunk
    faults.status(404, path=UPLOAD_PATH)  # the status query
    result = upload(gmail, http, small)
    assert (result.outcome, result.status) == (Outcome.AMBIGUOUS, 404)
    assert [r.method for r in gmail.requests].count("POST") == 1  # no blind restart


# Looking a message up by its Message-ID


def test_lookup_finds_a_sent_message_once_the_index_has_it(faults: FaultPlan) -> None:
    raw = message(1000, message_id=MessageId("lookup-1", "relay.example"))
    with FakeGmail(faults=faults, index_delay=0.3) as gmail, httpx.Client() as http:
        sent = upload(gmail, http, raw)
        assert sent.outcome is Outcome.SENT and sent.body

        def find(message_id: str) -> list[str]:
            wanted = MessageId.parse(message_id)
            return find_by_message_id(
                http, gmail.url, RotatingTokens(DEFAULT_TOKEN), BACKOFF, wanted
            )

        assert find("lookup-1@relay.example") == []  # not indexed yet: proves nothing
        assert wait_for(lambda: find("<lookup-1@relay.example>") == [sent.body["id"]])
        assert find("lookup-1@relay.example") == [sent.body["id"]]
        assert find("other@relay.example") == []
        queries = {r.query["q"][0] for r in gmail.requests if r.method == "GET"}
        assert queries == {"rfc822msgid:lookup-1@relay.example", "rfc822msgid:other@relay.example"}


def test_lookup_retries_and_refreshes_through_transport(
    gmail: FakeGmail, http: httpx.Client, faults: FaultPlan
) -> None:
    raw = message(1000, message_id=MessageId("lookup-2", "relay.example"))
    sent = upload(gmail, http, raw)
    faults.status(503, path="/gmail/v1/users/me/messages")
    tokens = RotatingTokens("expired", DEFAULT_TOKEN)
    wanted = MessageId("lookup-2", "relay.example")
    found = find_by_message_id(http, gmail.url, tokens, BACKOFF, wanted)
    assert sent.body and found == [sent.body["id"]] and tokens.refreshes == 1


def test_lookup_failures_raise(gmail: FakeGmail, http: httpx.Client, faults: FaultPlan) -> None:
    faults.status(403, gmail_error(403, reason="insufficientPermissions"))
    with pytest.raises(LookupFailed, match="HTTP 403"):
        find_by_message_id(
            http, gmail.url, RotatingTokens(DEFAULT_TOKEN), BACKOFF, MessageId("x", "relay.example")
        )
    faults.accept_then(504)  # no answer is not "not found"
    with pytest.raises(LookupFailed, match="HTTP 504"):
        find_by_message_id(
            http, gmail.url, RotatingTokens(DEFAULT_TOKEN), BACKOFF, MessageId("x", "relay.example")
        )
    with pytest.raises(ValueError):  # a search for it could match other messages
        MessageId.parse("two words@relay.example")
