"""send_large (draft, upload sessions, draft send) and find_messages against the fake Graph."""

from __future__ import annotations

import random
import ssl
import tracemalloc
from collections import Counter
from collections.abc import Iterator

import httpx
import pytest

from relayops.adapters.idempotency import HEADER, LookupFailed
from relayops.adapters.message import Attachment, Message
from relayops.adapters.message_id import MessageId
from relayops.adapters.outlook.lookup import find_messages
from relayops.adapters.outlook.upload import send_large
from relayops.adapters.retry import Backoff, Outcome
from relayops.fakes import FakeGraph
from relayops.fakes.graph import DEFAULT_TOKEN, UPLOAD_RANGE_LIMIT
from tests.doubles import RotatingTokens

TLS = ssl.create_default_context()  # shared: loading CA certificates per client is slow
MIB = 1024 * 1024
BACKOFF = Backoff(base_seconds=0.01, max_seconds=0.05, deadline_seconds=10.0, max_attempts=3)
DRAFTS = "/v1.0/me/messages"
INTERNET_ID = "<key-1@example.com>"


class Events:
    def __init__(self) -> None:
        self.log: list[tuple[str, int]] = []
        self.hooks: list = []  # called with each event, to inject faults mid-upload

    def __call__(self, name: str, amount: int) -> None:
        self.log.append((name, amount))
        for hook in self.hooks:
            hook(name, amount)

    def count(self, name: str) -> int:
        return sum(amount for event, amount in self.log if event == name)


def data(size: int, seed: int = 1) -> bytes:
    return random.Random(seed).randbytes(size)


def message(*attachments: Attachment) -> Message:
    return Message(
        sender="alice@example.com",
        to=("bob@example.com",),
        subject="Big report",
        text="see attached",
        html='<p>see attached <img src="cid:logo"></p>',
        attachments=attachments,
        headers={HEADER: "key-1"},
        message_id=MessageId("key-1", "example.com"),
    )


def big(size: int = 5 * MIB, name: str = "big.bin", seed: int = 2) -> Attachment:
    return Attachment(name, "application/octet-stream", data(size, seed))


@pytest.fixture
def graph() -> Iterator[FakeGraph]:
    with FakeGraph() as fake:
        yield fake


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=30, verify=TLS) as client:
        yield client


def run(
    graph: FakeGraph,
    http: httpx.Client,
    msg: Message,
    *,
    tokens: RotatingTokens | None = None,
    events: Events | None = None,
    sleeps: list[float] | None = None,
    save: bool = True,
    chunk_bytes: int = UPLOAD_RANGE_LIMIT,
):
    return send_large(
        http,
        graph.url,
        msg,
        tokens or RotatingTokens(DEFAULT_TOKEN),
        save_to_sent_items=save,
        backoff=BACKOFF,
        sleep=(sleeps if sleeps is not None else []).append,
        chunk_bytes=chunk_bytes,
        on_event=events,
    )


def requests_to(graph: FakeGraph, method: str, path: str) -> list:
    return [r for r in graph.requests if r.method == method and r.path == path]


def on_first_bytes(events: Events, action) -> None:
    """Run `action()` once, when the server first confirms uploaded bytes."""
    done: list[bool] = []

    def hook(name: str, amount: int) -> None:
        if name == "bytes" and not done:
            done.append(True)
            action()

    events.hooks.append(hook)


# The large path end to end


def test_40_mb_attachment_arrives_byte_identical(graph: FakeGraph, http: httpx.Client) -> None:
    payload = big(40 * MIB)
    logo = Attachment(
        "logo.png", "image/png", data(4 * MIB, seed=3), inline=True, content_id="logo"
    )
    small = Attachment("notes.txt", "text/plain", b"small notes\n")
    events = Events()
    attempted = run(graph, http, message(payload, logo, small), events=events)
    assert attempted.outcome is Outcome.SENT
    [sent] = graph.deliveries
    assert sent.attachment_bytes() == {
        "big.bin": payload.data,
        "logo.png": logo.data,
        "notes.txt": small.data,
    }
    [inline] = [a for a in sent.draft_attachments if a.name == "logo.png"]
    assert (inline.is_inline, inline.content_id, inline.content_type) == (True, "logo", "image/png")
    assert sent.internet_message_id == INTERNET_ID
    assert sent.header(HEADER) == "key-1"
    assert graph.sent_items == [sent]
    assert graph.drafts == []
    puts = graph.upload_puts
    assert all(not p.authorization for p in puts)
    assert all(0 < p.size <= UPLOAD_RANGE_LIMIT for p in puts)
    assert sum(p.size for p in puts) == 44 * MIB
    # ranges of 4,000,000 bytes: 11 for big.bin's 40 MiB, 2 for logo.png's 4 MiB
    assert len(puts) == -(-40 * MIB // 4_000_000) + -(-4 * MIB // 4_000_000) == 13
    assert Counter(name for name, _ in events.log if name != "bytes") == {
        "started": 2,
        "completed": 2,
    }
    assert events.count("bytes") == 44 * MIB
    [create] = requests_to(graph, "POST", DRAFTS)
    assert create.body_size < 4_000_000  # only notes.txt rode in the draft


def test_smaller_chunks_and_no_sent_copy(graph: FakeGraph, http: httpx.Client) -> None:
    payload = big(3 * MIB + 5)
    attempted = run(graph, http, message(payload), chunk_bytes=MIB, save=False)
    assert attempted.outcome is Outcome.SENT
    assert [p.content_range for p in graph.upload_puts] == [
        f"bytes {start}-{min(start + MIB, 3 * MIB + 5) - 1}/{3 * MIB + 5}"
        for start in range(0, 3 * MIB + 5, MIB)
    ]
    assert graph.deliveries[0].attachment_bytes() == {"big.bin": payload.data}
    assert graph.sent_items == []


def test_small_attachments_over_the_request_limit_are_posted(
    graph: FakeGraph, http: httpx.Client
) -> None:
    smalls = [big(2 * MIB, f"part{i}.bin", seed=i) for i in range(3)]
    assert run(graph, http, message(*smalls)).outcome is Outcome.SENT
    assert graph.deliveries[0].attachment_bytes() == {a.filename: a.data for a in smalls}
    posts = [r for r in graph.requests if r.path.endswith("/attachments")]
    assert len(posts) == 2  # one 2 MiB attachment fits the draft's 4 MB body, two do not
    assert graph.upload_puts == []


class CountingGraph(httpx.BaseTransport):
    """A minimal Graph that reads each upload range as a stream and keeps none of it, so that
    only the sender's memory is traced."""

    def __init__(self, size: int, *, stuck: bool = False) -> None:
        self.size, self.received, self.stuck = size, 0, stuck
        self.calls: list[tuple[str, str]] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        self.calls.append((request.method, path))
        if request.url.host == "upload.test":
            assert "authorization" not in request.headers
            self.received += sum(len(piece) for piece in request.stream)
            if self.received == self.size:
                return httpx.Response(201)
            done = 0 if self.stuck else self.received  # stuck: never moves on
            return httpx.Response(200, json={"nextExpectedRanges": [f"{done}-"]})
        if path.endswith("/createUploadSession"):
            return httpx.Response(201, json={"uploadUrl": "https://upload.test/s?authtoken=t"})
        if path.endswith("/send"):
            return httpx.Response(202)
        return httpx.Response(201, json={"id": "draft-1"})


def test_memory_stays_within_a_chunk() -> None:
    payload = big(40 * MIB)
    graph = CountingGraph(len(payload.data))
    with httpx.Client(transport=graph) as http:
        tracemalloc.start()
        try:
            attempted = send_large(
                http,
                "https://graph.test",
                message(payload),
                RotatingTokens(DEFAULT_TOKEN),
                save_to_sent_items=True,
                backoff=BACKOFF,
            )
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert attempted.outcome is Outcome.SENT
    assert graph.received == 40 * MIB
    assert peak < UPLOAD_RANGE_LIMIT


def test_a_server_that_never_moves_on_fails_the_send() -> None:
    graph = CountingGraph(5 * MIB, stuck=True)
    with httpx.Client(transport=graph) as http:
        attempted = send_large(
            http,
            "https://graph.test",
            message(big()),
            RotatingTokens(DEFAULT_TOKEN),
            save_to_sent_items=True,
            backoff=BACKOFF,
            sleep=lambda _: None,
        )
    assert attempted.outcome is Outcome.TRANSIENT
    assert "did not move on" in attempted.detail
    assert ("DELETE", "/v1.0/me/messages/draft-1") in graph.calls
    assert not any(path.endswith("/send") for _, path in graph.calls)


def test_needs_a_valid_chunk_size(graph: FakeGraph, http: httpx.Client) -> None:
    with pytest.raises(ValueError, match="chunk_bytes"):
        run(graph, http, message(big()), chunk_bytes=UPLOAD_RANGE_LIMIT + 1)


# Failures and resumption


@pytest.mark.parametrize(
    ("status", "outcome", "attempts"),
    [(500, Outcome.TRANSIENT, BACKOFF.max_attempts), (403, Outcome.PERMANENT, 1)],
)
def test_failure_mid_upload_deletes_the_draft(
    graph: FakeGraph, http: httpx.Client, status: int, outcome: Outcome, attempts: int
) -> None:
    events = Events()

    def fail_the_session() -> None:
        [session] = graph.upload_sessions
        graph.faults.status(status, path=session.path, times=10)

    on_first_bytes(events, fail_the_session)
    attempted = run(graph, http, message(big(9 * MIB)), events=events)
    assert attempted.outcome is outcome
    assert attempted.status == status
    assert graph.faults.faults[0].fired == attempts  # PUT, then each status check
    assert graph.drafts == []
    assert graph.delivery_count == 0
    assert len([r for r in graph.requests if r.method == "DELETE"]) == 1
    assert Counter(name for name, _ in events.log if name != "bytes") == {"started": 1, "failed": 1}


RANGE = 4_000_000
SIZE = 10 * MIB


@pytest.mark.parametrize(
    ("fault", "second_session"),
    [
        ("status", False),  # the range was not stored: sent again from the confirmed byte
        ("reset", False),  # the connection dropped before the range was taken: likewise
        ("accept_then", True),  # stored, the client hears 500: the resend is refused
    ],
)
def test_a_failed_range_is_sent_again_without_a_status_request(
    graph: FakeGraph, http: httpx.Client, fault: str, second_session: bool
) -> None:
    """Microsoft documents no status GET for Outlook attachment upload URLs: the adapter sends
    the range again from the last confirmed byte, and a session that refuses that resend is
    cancelled and replaced."""
    payload = big(SIZE)
    events, sleeps = Events(), []

    def fail_one_put() -> None:
        path = graph.upload_sessions[0].path
        match fault:
            case "status":
                graph.faults.status(503, path=path)
            case "accept_then":
                graph.faults.accept_then(500, path=path)
            case "reset":
                graph.faults.reset(path=path)

    on_first_bytes(events, fail_one_put)
    attempted = run(graph, http, message(payload), events=events, sleeps=sleeps)
    assert attempted.outcome is Outcome.SENT, attempted
    assert graph.delivery_count == 1
    assert graph.deliveries[0].attachment_bytes() == {"big.bin": payload.data}
    puts = [p.content_range for p in graph.upload_puts]
    assert puts[1] == f"bytes {RANGE}-{2 * RANGE - 1}/{SIZE}"  # the range that failed
    assert puts[2] == puts[1]  # sent again from the confirmed byte
    assert not [r for r in graph.requests if r.method == "GET" and "AttachmentSessions" in r.path]
    creates = [r for r in graph.requests if r.path.endswith("/createUploadSession")]
    assert len(creates) == (2 if second_session else 1)
    if second_session:
        assert [r.method for r in graph.requests if "AttachmentSessions" in r.path].count(
            "DELETE"
        ) == 1  # the refused session is cancelled
        assert puts[3] == f"bytes 0-{RANGE - 1}/{SIZE}"  # the new session starts over
    assert Counter(name for name, _ in events.log if name != "bytes") == {
        "started": 1,
        "completed": 1,
    }


def test_a_lost_answer_to_the_last_range_is_settled_by_the_draft_attachments(
    graph: FakeGraph, http: httpx.Client
) -> None:
    """The last range is stored but its answer lost; the session is then gone (404), and
    the draft's attachment list shows the upload completed: no second upload."""
    payload = big(SIZE)
    events = Events()
    confirmed: list[int] = []

    def on_bytes(name: str, amount: int) -> None:
        if name == "bytes":
            confirmed.append(amount)
            if len(confirmed) == 2:  # the range before the last one is in
                graph.faults.accept_then(500, path=graph.upload_sessions[0].path)

    events.hooks.append(on_bytes)
    attempted = run(graph, http, message(payload), events=events)
    assert attempted.outcome is Outcome.SENT, attempted
    assert graph.deliveries[0].attachment_bytes() == {"big.bin": payload.data}
    assert len([r for r in graph.requests if r.path.endswith("/createUploadSession")]) == 1
    assert [p.status for p in graph.upload_puts][-2:] == [500, 404]
    listings = [r for r in graph.requests if r.method == "GET" and r.path.endswith("/attachments")]
    assert len(listings) == 1


def test_401_on_draft_creation_refreshes_once(graph: FakeGraph, http: httpx.Client) -> None:
    graph.tokens = {"rotated"}
    tokens = RotatingTokens("stale", "rotated")
    assert run(graph, http, message(big()), tokens=tokens).outcome is Outcome.SENT
    assert tokens.refreshes == 1
    assert [r.status for r in requests_to(graph, "POST", DRAFTS)] == [401, 201]
    assert graph.delivery_count == 1


@pytest.mark.parametrize(("accepted", "creates"), [(True, 1), (False, 2)])
def test_ambiguous_draft_creation_looks_in_drafts(
    graph: FakeGraph, http: httpx.Client, accepted: bool, creates: int
) -> None:
    if accepted:
        graph.faults.accept_then(504, path=DRAFTS)
    else:
        graph.faults.status(504, path=DRAFTS)
    assert run(graph, http, message(big())).outcome is Outcome.SENT
    assert len(requests_to(graph, "POST", DRAFTS)) == creates
    lookups = requests_to(graph, "GET", "/v1.0/me/mailFolders/drafts/messages")
    assert lookups[0].query["$filter"] == [f"internetMessageId eq '{INTERNET_ID}'"]
    assert graph.delivery_count == 1
    assert graph.drafts == []


def test_failed_draft_look_up_does_not_create_again(graph: FakeGraph, http: httpx.Client) -> None:
    graph.faults.status(504, path=DRAFTS)
    graph.faults.status(
        500, path="/v1.0/me/mailFolders/drafts/messages", times=BACKOFF.max_attempts
    )
    attempted = run(graph, http, message(big()))
    assert attempted.outcome is Outcome.AMBIGUOUS
    assert len(requests_to(graph, "POST", DRAFTS)) == 1
    assert graph.delivery_count == 0


def test_ambiguous_final_send_keeps_the_draft_and_says_so(
    graph: FakeGraph, http: httpx.Client
) -> None:
    events = Events()

    def ambiguous_send() -> None:
        [draft] = graph.drafts
        graph.faults.accept_then_status(
            202, headers={"Retry-After": "5"}, path=f"{DRAFTS}/{draft.id}/send"
        )

    on_first_bytes(events, ambiguous_send)
    attempted = run(graph, http, message(big()), events=events)
    assert attempted.outcome is Outcome.AMBIGUOUS
    assert graph.delivery_count == 1
    assert not [r for r in graph.requests if r.method == "DELETE"]


def test_refused_final_send_deletes_the_draft(graph: FakeGraph, http: httpx.Client) -> None:
    events = Events()
    on_first_bytes(
        events,
        lambda: graph.faults.status(403, path=f"{DRAFTS}/{graph.drafts[0].id}/send"),
    )
    attempted = run(graph, http, message(big()), events=events)
    assert attempted.outcome is Outcome.PERMANENT
    assert graph.drafts == []
    assert graph.delivery_count == 0


# find_messages


def test_find_messages_escapes_quotes_and_checks_the_header(
    graph: FakeGraph, http: httpx.Client
) -> None:
    quoted = "<o'brien@example.com>"
    auth = {"Authorization": f"Bearer {DEFAULT_TOKEN}"}
    for key in ("key-1", "key-2"):
        draft = {
            "toRecipients": [{"emailAddress": {"address": "bob@example.com"}}],
            "internetMessageId": quoted,
            "internetMessageHeaders": [{"name": HEADER, "value": key}],
        }
        http.post(graph.url + DRAFTS, json=draft, headers=auth).raise_for_status()
    first = graph.drafts[0].id
    http.post(f"{graph.url}{DRAFTS}/{first}/send", headers=auth).raise_for_status()
    wanted = MessageId.parse(quoted)
    found = find_messages(http, graph.url, RotatingTokens(DEFAULT_TOKEN), BACKOFF, wanted)
    assert [(f.folder, f.is_draft) for f in found] == [("sentitems", False), ("drafts", True)]
    keyed = find_messages(
        http,
        graph.url,
        RotatingTokens(DEFAULT_TOKEN),
        BACKOFF,
        wanted,
        key="key-2",
    )
    assert [(f.id, f.folder) for f in keyed] == [(graph.drafts[0].id, "drafts")]
    none = MessageId("none", "example.com")
    assert find_messages(http, graph.url, RotatingTokens(DEFAULT_TOKEN), BACKOFF, none) == []


def test_find_messages_failure_is_not_not_found(graph: FakeGraph, http: httpx.Client) -> None:
    graph.faults.status(500, times=BACKOFF.max_attempts)
    with pytest.raises(LookupFailed, match="sentitems"):
        wanted = MessageId.parse(INTERNET_ID)
        find_messages(
            http, graph.url, RotatingTokens(DEFAULT_TOKEN), BACKOFF, wanted, sleep=lambda _: None
        )
