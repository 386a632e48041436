"""AsyncSendAdapter under anyio against the fake servers (real HTTP on loopback): the same gate,
validation, building, retries, uploads, look-ups and structured errors as the sync adapter,
with the event loop free while the provider answers."""

from __future__ import annotations

import base64
import email
import email.policy
import os
from collections.abc import Iterator

import anyio
import pytest

from relayops.adapters.adapter import AsyncSendAdapter
from relayops.adapters.errors import ErrorCode
from relayops.adapters.gmail.provider import GmailRoute
from relayops.adapters.idempotency import LookupPolicy
from relayops.adapters.outlook.provider import OutlookRoute
from relayops.fakes import FakeGmail, FakeGraph, FaultPlan
from relayops.fakes.graph import DEFAULT_TOKEN as GRAPH_TOKEN
from relayops.oauth.cipher import DecryptError
from tests.send_util import fake_adapter, fake_token

pytestmark = pytest.mark.anyio
PROVIDERS = ["gmail", "outlook"]
SEND_PATH = {"gmail": "/gmail/v1/users/me/messages/send", "outlook": "/v1.0/me/sendMail"}
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def faults() -> FaultPlan:
    return FaultPlan()


@pytest.fixture
def servers(faults) -> Iterator[dict[str, FakeGmail | FakeGraph]]:
    with FakeGmail(faults=faults) as gmail, FakeGraph(faults=faults) as graph:
        yield {"gmail": gmail, "outlook": graph}


class AsyncTokens:
    """A token source whose methods are coroutines."""

    def __init__(self, token: str) -> None:
        self.value, self.calls = token, 0

    async def token(self) -> str:
        self.calls += 1
        return self.value

    async def refresh(self) -> str:
        return self.value


class SyncTokens:
    def __init__(self, token: str) -> None:
        self.value = token

    def token(self) -> str:
        return self.value

    def refresh(self) -> str:
        return self.value


class Gate:
    def __init__(self, open_: bool = True) -> None:
        self.open = open_

    async def allows(self, workspace_id: str, actor_id: str) -> bool:
        return self.open


def adapter(specs, provider, server, *, tokens=None, gate=None, timeout=5.0, lookup=None):
    return fake_adapter(
        specs,
        provider,
        server,
        front=AsyncSendAdapter,
        gate=gate or Gate(),
        tokens=tokens or AsyncTokens(fake_token(provider)),
        timeout=timeout,
        lookup=lookup or LookupPolicy(waits=(0.2, 0.4), max_resends=1),
    )


def rich(subject: str = "Async report", **extra) -> dict:
    return {
        "to": ["ana@customer.example"],
        "subject": subject,
        "text": "Plain body.",
        "html": '<p>Hello</p><img src="cid:logo">',
        "inline": [
            {
                "data": base64.b64encode(PNG).decode(),
                "filename": "logo.png",
                "content_type": "image/png",
                "content_id": "logo",
            }
        ],
        **extra,
    }


def subjects(server) -> list[str]:
    if isinstance(server, FakeGmail):
        return [d.header("Subject") for d in server.deliveries]
    return [d.message["subject"] for d in server.deliveries]


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_an_async_send_arrives_as_the_sync_one_would(specs, servers, provider):
    server = servers[provider]
    send = adapter(specs, provider, server)
    result = await send.execute(f"{provider}.send", rich(), "ws", "actor")
    assert result.ok, result.error
    [stored] = server.deliveries
    if provider == "gmail":
        mime = email.message_from_bytes(stored.raw, policy=email.policy.default)
        [image] = [p for p in mime.walk() if p.get("Content-ID") == "<logo>"]
        assert image.get_content() == PNG and str(mime["Subject"]) == "Async report"
    else:
        [image] = stored.attachments
        assert image["contentId"] == "logo" and image["isInline"] is True
    labels = {"provider": send.spec.provider, "action": send.spec.action}
    value = send.metrics.registry.get_sample_value(
        "action_exec_total", {**labels, "status": "success"}
    )
    assert value == 1
    preview = await send.preview(f"{provider}.send", rich())
    assert preview.ok and preview.summary["inline"] == ["logo"]
    await send.aclose()


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_concurrent_sends_each_arrive_once(specs, servers, provider):
    server = servers[provider]
    send = adapter(specs, provider, server)
    results = {}

    async def one(i: int) -> None:
        results[i] = await send.execute(f"{provider}.send", rich(f"n{i}"), "ws", f"a{i}")

    async with anyio.create_task_group() as group:
        for i in range(20):
            group.start_soon(one, i)
    assert all(r.ok for r in results.values())
    assert sorted(subjects(server)) == sorted(f"n{i}" for i in range(20))
    await send.aclose()


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_the_event_loop_runs_while_the_provider_is_slow(specs, servers, faults, provider):
    """A provider that takes 0.6 s to answer: a ticker on the same loop keeps ticking."""
    faults.slow(0.6, path=SEND_PATH[provider])
    send = adapter(specs, provider, servers[provider])
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await anyio.sleep(0.02)
            ticks += 1

    async with anyio.create_task_group() as group:
        group.start_soon(ticker)
        result = await send.execute(f"{provider}.send", rich(), "ws", "actor")
        group.cancel_scope.cancel()
    assert result.ok
    assert ticks >= 10  # a blocked loop would not tick at all until the answer came
    await send.aclose()


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_an_ambiguous_outcome_is_looked_up_not_resent(specs, servers, faults, provider):
    server = servers[provider]
    faults.accept_then(504, path=SEND_PATH[provider])
    send = adapter(specs, provider, server)
    result = await send.execute(f"{provider}.send", rich("once"), "ws", "actor")
    assert result.ok and result.deduplicated, result.error
    assert subjects(server) == ["once"]
    await send.aclose()


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_a_failed_look_up_is_ambiguous_and_sends_nothing_again(
    specs, servers, faults, provider
):
    server = servers[provider]
    faults.accept_then(504, path=SEND_PATH[provider])
    faults.status(500, times=50)
    send = adapter(specs, provider, server)
    result = await send.execute(f"{provider}.send", rich("unknown"), "ws", "actor")
    assert result.error.error_code is ErrorCode.AMBIGUOUS_MAY_HAVE_SENT
    assert subjects(server) == ["unknown"]
    await send.aclose()


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_large_messages_take_the_upload_routes(specs, servers, provider):
    server = servers[provider]
    data = os.urandom(6 * 1024 * 1024)
    payload = rich(
        "large",
        attachments=[
            {
                "data": base64.b64encode(data).decode(),
                "filename": "big.pdf",
                "content_type": "application/pdf",
            }
        ],
    )
    send = adapter(specs, provider, server, timeout=30)
    preview = await send.preview(f"{provider}.send", payload)
    route = GmailRoute.GMAIL_RESUMABLE if provider == "gmail" else OutlookRoute.UPLOAD_SESSION
    assert preview.summary["route"] == route
    result = await send.execute(f"{provider}.send", payload, "ws", "actor")
    assert result.ok, result.error
    [stored] = server.deliveries
    if provider == "gmail":
        [part] = [p for p in stored.mime.walk() if p.get_filename() == "big.pdf"]
        assert part.get_content() == data
    else:
        assert stored.attachment_bytes()["big.pdf"] == data
    await send.aclose()


async def test_a_closed_async_gate_sends_nothing(specs, servers):
    gmail = servers["gmail"]
    send = adapter(specs, "gmail", gmail, gate=Gate(open_=False))
    result = await send.execute("gmail.send", rich(), "ws", "actor")
    assert result.error.error_code is ErrorCode.ROLLOUT_GATE_CLOSED and gmail.requests == []
    await send.aclose()


class Unreadable(SyncTokens):
    def token(self) -> str:
        raise DecryptError("no configured key decrypts the stored token")


async def test_sync_token_sources_work_and_their_failures_are_structured(specs, servers):
    graph = servers["outlook"]
    ok = await adapter(specs, "outlook", graph, tokens=SyncTokens(GRAPH_TOKEN)).execute(
        "outlook.send", rich(), "ws", "actor"
    )
    assert ok.ok
    failed = await adapter(specs, "outlook", graph, tokens=Unreadable("")).execute(
        "outlook.send", rich(), "ws", "actor"
    )
    assert failed.error.error_code is ErrorCode.INTERNAL_ERROR
    assert len(graph.deliveries) == 1


async def test_an_invalid_payload_is_a_structured_error(specs, servers):
    send = adapter(specs, "gmail", servers["gmail"])
    result = await send.execute("gmail.send", rich("=?utf-8?q?a=0D=0ABcc:_x@y.example?="), "w", "a")
    assert result.error.error_code is ErrorCode.VALIDATION_FAILED
    assert result.error.field == "subject"
    await send.aclose()
