"""The send smoke scenarios, run before a rollout against the real Gmail API and Microsoft Graph
(`pytest -m live` with RELAYOPS_LIVE_GMAIL / RELAYOPS_LIVE_OUTLOOK set), and on every
`make test` against the fakes, so the suite itself never rots.

RELAYOPS_LIVE_GMAIL=CREDENTIAL:RECIPIENT names a credential stored by `relayops oauth setup`
(with the REDIS_URL, key and client variables that `relayops send --credential` reads) and a
test mailbox to send to. Unset, the live targets are skipped with that reason.

Scenarios: a rich message (HTML, inline image, attachment) that is then found by the look-up the
adapter uses after an ambiguous outcome; internal-only mode refusing an outside recipient
before any request; a large attachment through Gmail's resumable upload or a Graph upload
session, also found afterwards.
"""

from __future__ import annotations

import base64
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from relayops.adapters.adapter import SendAdapter
from relayops.adapters.errors import ErrorCode
from relayops.adapters.gmail.lookup import find_by_message_id
from relayops.adapters.message_id import MessageId
from relayops.adapters.outlook.lookup import find_messages
from relayops.adapters.retry import Backoff
from relayops.adapters.smoke import AlwaysOpen, StaticToken
from relayops.adapters.transport import TokenSource
from relayops.fakes import FakeGmail, FakeGraph
from relayops.oauth.source import stored_tokens
from relayops.spec import load_specs
from tests.send_util import fake_token
from tests.specs_util import SPECS

pytestmark = pytest.mark.live
LIVE_ENV = {"gmail": "RELAYOPS_LIVE_GMAIL", "outlook": "RELAYOPS_LIVE_OUTLOOK"}
FAKE_RECIPIENT = "smoke@customer.example"
PNG = (
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5E"
    "rkJggg=="
)
LOOKUP_SECONDS = {"fake": 2.0, "live": 90.0}  # providers index a sent message with a delay


@dataclass
class Target:
    provider: str
    kind: str  # "fake" or "live"
    tokens: TokenSource
    recipient: str
    base_url: str | None  # None: the provider's real API
    server: FakeGmail | FakeGraph | None

    def adapter(self, specs, policy=None) -> SendAdapter:
        send = SendAdapter(
            specs,
            self.provider,
            AlwaysOpen(),
            self.tokens,
            base_url=self.base_url,
            client=httpx.Client(timeout=120),
        )
        if policy is not None:
            send.spec = send.spec.model_copy(update={"send": policy})
        return send


def _live(provider: str) -> Target:
    setting = os.environ.get(LIVE_ENV[provider], "")
    credential, _, recipient = setting.partition(":")
    if not (credential and "@" in recipient):
        pytest.skip(
            f"{LIVE_ENV[provider]} is not set to CREDENTIAL:RECIPIENT: the live {provider} "
            "target runs only before a rollout, with a stored credential and a test mailbox"
        )
    oauth_provider = load_specs(SPECS).provider(provider).provider
    tokens = stored_tokens(credential, oauth_provider, os.environ)
    return Target(provider, "live", tokens, recipient, None, None)


@pytest.fixture(
    params=["fake-gmail", "fake-outlook", "live-gmail", "live-outlook"],
)
def target(request) -> Iterator[Target]:
    kind, provider = request.param.split("-")
    if kind == "live":
        yield _live(provider)
        return
    fake = FakeGmail() if provider == "gmail" else FakeGraph()
    with fake:
        yield Target(
            provider, "fake", StaticToken(fake_token(provider)), FAKE_RECIPIENT, fake.url, fake
        )


def rich(recipient: str, subject: str, attachment: bytes = b"%PDF-1.4 smoke\n") -> dict:
    return {
        "to": [recipient],
        "subject": subject,
        "text": "relayops live suite: nothing to do.",
        "html": '<p style="color:#1a73e8">relayops live suite</p><img src="cid:pixel" alt="">',
        "inline": [
            {
                "data": PNG,
                "filename": "pixel.png",
                "content_type": "image/png",
                "content_id": "pixel",
            }
        ],
        "attachments": [
            {
                "data": base64.b64encode(attachment).decode(),
                "filename": "smoke.pdf",
                "content_type": "application/pdf",
            }
        ],
    }


def found_after_send(target: Target, send: SendAdapter, key: str, message_id: MessageId) -> bool:
    """Whether the look-up the adapter relies on finds the sent message, waiting for the
    provider's index."""
    base = send.base_url
    deadline = time.monotonic() + LOOKUP_SECONDS[target.kind]
    while True:
        if target.provider == "gmail":
            found = find_by_message_id(send.client, base, target.tokens, Backoff(), message_id)
        else:
            found = find_messages(
                send.client,
                base,
                target.tokens,
                Backoff(),
                message_id,
                folders=("sentitems",),
                key=key,
            )
        if found or time.monotonic() > deadline:
            return bool(found)
        time.sleep(2.0)


def _sent_and_found(specs, target: Target, payload: dict, route: str) -> None:
    send = target.adapter(specs)
    action = send.spec.action
    assert send.preview(action, payload).summary["route"] == route
    key = f"live-{time.time_ns()}"
    result = send.execute(action, {**payload, "idempotency_key": key}, "live-suite", "live-suite")
    assert result.ok, result.error
    domain = send.spec.send.sender.rpartition("@")[2] if send.spec.send.sender else None
    message_id = MessageId(key, domain or "relay.invalid")
    assert found_after_send(target, send, key, message_id)


def test_a_rich_message_is_sent_and_found(specs, target):
    route = "gmail_json" if target.provider == "gmail" else "send_mail"
    _sent_and_found(specs, target, rich(target.recipient, "relayops live suite: rich"), route)


def test_a_large_attachment_goes_through_the_upload_route_and_is_found(specs, target):
    route = "gmail_resumable" if target.provider == "gmail" else "upload_session"
    payload = rich(target.recipient, "relayops live suite: large", os.urandom(6 * 1024 * 1024))
    _sent_and_found(specs, target, payload, route)


def test_internal_only_mode_refuses_an_outside_recipient_before_any_request(specs, target):
    policy = specs.provider(target.provider).send
    restricted = policy.model_copy(
        update={
            "internal_only": policy.internal_only.model_copy(
                update={"enabled": True, "allowed_domains": ("relay.invalid",)}
            )
        }
    )
    send = target.adapter(specs, restricted)
    before = len(target.server.requests) if target.server else 0
    result = send.execute(
        send.spec.action, rich(target.recipient, "relayops live suite: refused"), "w", "a"
    )
    assert result.error.error_code is ErrorCode.INTERNAL_ONLY_BLOCKED
    if target.server is not None:
        assert len(target.server.requests) == before
