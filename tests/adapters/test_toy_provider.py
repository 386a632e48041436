"""A third provider through the Provider interface alone: a spec and one class, no edit to the
send flow. "Toymail" is a plain HTTP JSON API (POST /v1/send, GET /v1/messages?message_id=),
served by a small fake on loopback. The flow must gate, validate, key, build, send, count
under the spec's catalog names, and after a lost answer look the message up instead of
sending it twice, exactly as it does for Gmail and Outlook."""

from __future__ import annotations

import base64
import json
import re
import shutil
import time
import uuid
from pathlib import Path

import pytest
from prometheus_client import generate_latest

from relayops.adapters.adapter import SendAdapter
from relayops.adapters.effects import Call, Steps
from relayops.adapters.errors import ErrorCode
from relayops.adapters.idempotency import HEADER, LookupFailed
from relayops.adapters.message import Message
from relayops.adapters.message_id import MessageId
from relayops.adapters.provider import Built, UploadEvents, nothing_to_discard, post_built
from relayops.adapters.providers import PROVIDERS
from relayops.adapters.retry import Backoff, Outcome
from relayops.adapters.smoke import AlwaysOpen, StaticToken
from relayops.adapters.transport import Attempted, send_steps
from relayops.fakes.server import FakeServer, Request, Response, Route
from relayops.spec import load_specs
from tests.specs_util import SPECS

TOY_SPEC = """\
name: toymail
display_name: Toymail
provider: toy
action: toymail.send
slos:
  - name: availability
    description: Send requests that do not fail on our side or the provider's.
    objective: 0.999
    period: 30d
    sli: {type: error_ratio}
signals:
  - name: build
    metric: mime_build
    component: builder
    summary: Time to build the JSON request.
rollout:
  bucketing_unit: actor
  salt: toymail-send-2026
send:
  max_recipients: 3
"""
TOKEN = "toy-token"
SEND_PATH = "/v1/send"


class ToyProvider:
    """The whole of a provider: where the API is, the request, sending it, finding it again."""

    api_base = "https://toymail.invalid"
    build_role = "mime_build"
    token_env = "TOYMAIL_ACCESS_TOKEN"

    def build(self, message: Message, digest: str, notes: tuple[str, ...]) -> Built:
        payload = {
            "from": message.sender,
            "to": list(message.to),
            "subject": message.subject,
            "text": message.text,
            "message_id": str(message.message_id),
            "headers": message.headers,
            "files": [
                {"name": a.filename, "data": base64.b64encode(a.data).decode()}
                for a in message.attachments
            ],
        }
        body = json.dumps(payload).encode()
        return Built(message, digest, "toy_json", body, "application/json", SEND_PATH, notes)

    def send(
        self, base_url: str, built: Built, backoff: Backoff, on_upload: UploadEvents
    ) -> Steps[Attempted]:
        return (yield from post_built(base_url, built, backoff))

    def can_look_up(self) -> bool:
        return True

    def find(
        self, base_url: str, backoff: Backoff, message_id: MessageId, key: str | None
    ) -> Steps[str | None]:
        def request(token: str) -> Call:
            return Call(
                "GET",
                f"{base_url}/v1/messages",
                params={"message_id": str(message_id)},
                headers={"Authorization": f"Bearer {token}"},
            )

        attempted = yield from send_steps(request, backoff)
        if attempted.outcome is not Outcome.SENT or attempted.body is None:
            raise LookupFailed(f"toymail look-up: {attempted.outcome} (HTTP {attempted.status})")
        ids = attempted.body.get("ids") or []
        return ids[0] if ids else None

    def discard_unsent(self, base_url: str, backoff: Backoff, built: Built) -> Steps[None]:
        return (yield from nothing_to_discard())


class ToyDelivery(dict):
    def header(self, name: str) -> str | None:
        return self["headers"].get(name) if name != "Message-ID" else self["message_id"]


class FakeToymail(FakeServer[ToyDelivery]):
    def routes(self) -> list[Route]:
        return [
            Route("POST", re.compile(re.escape(SEND_PATH)), self._send),
            Route("GET", re.compile("/v1/messages"), self._find),
        ]

    def error_response(self, status: int, message: str | None = None) -> Response:
        return Response.json(status, {"error": message or f"HTTP {status}"})

    def body_limit(self, path: str) -> int:
        return 1_000_000

    def _authorized(self, request: Request) -> bool:
        return request.headers.get("authorization") == f"Bearer {TOKEN}"

    def _send(self, request: Request, match: re.Match[str]) -> Response:
        if not self._authorized(request):
            return self.error_response(401)
        message = ToyDelivery(request.json(), id=uuid.uuid4().hex)
        self.deliver(message)
        return Response.json(200, {"id": message["id"]})

    def _find(self, request: Request, match: re.Match[str]) -> Response:
        if not self._authorized(request):
            return self.error_response(401)
        wanted = request.param("message_id")
        return Response.json(
            200, {"ids": [d["id"] for d in self.deliveries if d["message_id"] == wanted]}
        )


@pytest.fixture(scope="module")
def toy_specs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("specs")
    shutil.copy(SPECS / "service.yaml", folder)
    (folder / "toymail.yaml").write_text(TOY_SPEC)
    return load_specs(Path(folder))


@pytest.fixture
def toymail():
    with FakeToymail() as server:
        yield server


def adapter(specs, server: FakeToymail) -> SendAdapter:
    quick = Backoff(base_seconds=0.01, max_seconds=0.02)
    return SendAdapter(
        specs,
        "toymail",
        AlwaysOpen(),
        StaticToken(TOKEN),
        base_url=server.url,
        api=ToyProvider(),
        backoff=quick,
    )


def params(**extra) -> dict:
    return {"to": ["ana@example.com"], "subject": "Hello", "text": "Hi.", **extra}


def counted(send: SendAdapter, series: str) -> float:
    """A sample of the adapter's registry, as a scrape would read it."""
    text = generate_latest(send.metrics.registry).decode()
    found = re.search(rf"^{re.escape(series)} (\S+)$", text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


def test_a_third_provider_sends_through_the_flow_and_is_counted(toy_specs, toymail) -> None:
    send = adapter(toy_specs, toymail)
    pdf = base64.b64encode(b"%PDF-1.4").decode()
    attachment = {"data": pdf, "filename": "a.pdf", "content_type": "application/pdf"}
    result = send.execute("toymail.send", params(attachments=[attachment]), "w1", "a1")
    assert result.ok, result.error
    [delivered] = toymail.deliveries
    assert result.provider_id == delivered["id"]
    assert delivered["to"] == ["ana@example.com"]
    assert base64.b64decode(delivered["files"][0]["data"]) == b"%PDF-1.4"
    # the flow keyed it: the idempotency header and the Message-ID carry the same key
    key = delivered["headers"][HEADER]
    assert result.idempotency_key == key and delivered["message_id"].startswith(f"{key}@")
    labels = 'action="toymail.send",provider="toy"'
    requests = toy_specs.service.metrics["requests"].name
    assert counted(send, f'{requests}{{{labels},status="success"}}') == 1.0
    build = toy_specs.service.metrics["mime_build"].name
    assert counted(send, f"{build}_count{{{labels}}}") == 1.0


def test_the_flow_validates_for_a_third_provider_before_any_request(toy_specs, toymail) -> None:
    send = adapter(toy_specs, toymail)
    crowd = [f"r{n}@example.com" for n in range(4)]  # the toy spec allows 3
    result = send.execute("toymail.send", params(to=crowd), "w1", "a1")
    assert not result.ok and result.error.error_code is ErrorCode.VALIDATION_FAILED
    assert "toymail accepts at most 3" in result.error.message
    assert toymail.requests == []


def test_a_lost_answer_is_looked_up_not_sent_twice(toy_specs, toymail) -> None:
    """The fake stores the message, then drops the connection: the send is ambiguous, the
    flow asks the provider's look-up and reports it sent, with one delivery."""
    toymail.faults.accept_then(504, path=SEND_PATH)
    send = adapter(toy_specs, toymail)
    started = time.monotonic()
    result = send.execute("toymail.send", params(), "w1", "a1")
    assert result.ok and result.deduplicated, result.error
    assert toymail.delivery_count == 1
    assert result.provider_id == toymail.deliveries[0]["id"]
    assert [r.path for r in toymail.requests] == [SEND_PATH, "/v1/messages"]
    assert time.monotonic() - started < 5


def test_an_unregistered_provider_is_refused_with_the_fix(toy_specs) -> None:
    assert "toymail" not in PROVIDERS
    with pytest.raises(ValueError, match=r"register it in relayops\.adapters\.providers"):
        SendAdapter(toy_specs, "toymail", AlwaysOpen(), StaticToken(TOKEN))
