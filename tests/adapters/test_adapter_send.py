"""The send adapters against the fake Gmail and Graph servers (real HTTP on loopback): every
row of the old parity table, and a fault-injection run that never delivers a message twice."""

from __future__ import annotations

import base64
import email
import email.policy
import os
from collections.abc import Iterator

import pytest

from relayops.adapters.adapter import SendAdapter
from relayops.adapters.errors import ErrorCode
from relayops.fakes import FakeGmail, FakeGraph, FaultPlan, gmail_error
from relayops.fakes.gmail import DEFAULT_TOKEN as GMAIL_TOKEN
from relayops.spec import SpecSet
from tests.adapters.test_structured_errors import FIELDS
from tests.doubles import RotatingTokens
from tests.send_util import fake_adapter, fake_token

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)
PDF = b"%PDF-1.4\n" + bytes(range(256)) * 40


class Gate:
    def __init__(self, open_: bool = True):
        self.open, self.asked = open_, 0

    def allows(self, workspace_id: str, actor_id: str) -> bool:
        self.asked += 1
        return self.open


@pytest.fixture
def faults() -> FaultPlan:
    return FaultPlan()


@pytest.fixture
def gmail(faults) -> Iterator[FakeGmail]:
    with FakeGmail(faults=faults) as server:
        yield server


@pytest.fixture
def graph(faults) -> Iterator[FakeGraph]:
    with FakeGraph(faults=faults) as server:
        yield server


def adapter(specs, provider, server, *, gate=None, tokens=None, timeout=5.0, waits=None):
    """Sleeping is recorded, not done: so no look-up waits, and no resend on an empty one."""
    return fake_adapter(
        specs,
        provider,
        server,
        gate=gate or Gate(),
        tokens=tokens or RotatingTokens(fake_token(provider)),
        timeout=timeout,
        sleep=(waits.append if waits is not None else lambda s: None),
    )


def rich(**extra) -> dict:
    params = {
        "to": ["ana@customer.example"],
        "cc": ["ops@customer.example"],
        "subject": "Quarterly report — März",
        "text": "Plain text body.",
        "html": '<p style="color: red">Hello <b>Ana</b></p><img src="cid:logo">'
        "<script>alert(1)</script>",
        "attachments": [
            {
                "data": base64.b64encode(PDF).decode(),
                "filename": "Überweisung März.pdf",
                "content_type": "application/pdf",
            }
        ],
        "inline": [
            {
                "data": base64.b64encode(PNG).decode(),
                "filename": "logo.png",
                "content_type": "image/png",
                "content_id": "logo",
            }
        ],
    }
    params.update(extra)
    return params


def subject_of(delivery) -> str:
    """The subject of a message the fake Gmail (MIME) or Graph (JSON) stored."""
    return delivery.header("Subject") if hasattr(delivery, "raw") else delivery.message["subject"]


def sample(send: SendAdapter, name: str, **labels: str) -> float:
    value = send.metrics.registry.get_sample_value(name, labels)
    return 0.0 if value is None else value


def test_gmail_sends_rich_mime_with_html_text_inline_and_attachment(specs, gmail):
    send = adapter(specs, "gmail", gmail)
    result = send.execute("gmail.send", rich(), "ws-1", "actor-1")
    assert result.ok and result.provider_id and result.attempts == 1, result
    [stored] = gmail.deliveries
    mime = email.message_from_bytes(stored.raw, policy=email.policy.default)
    assert mime.get_content_type() == "multipart/mixed"
    assert mime.get_body(("plain",)).get_content().strip() == "Plain text body."
    html = mime.get_body(("html",)).get_content()
    assert "<script" not in html and "alert(1)" not in html and "cid:logo" in html
    image = next(p for p in mime.walk() if p.get("Content-ID") == "<logo>")
    assert image.get_content() == PNG
    pdf = next(p for p in mime.walk() if p.get_filename() == "Überweisung März.pdf")
    assert pdf.get_content() == PDF
    assert str(mime["Subject"]) == "Quarterly report — März"
    labels = {"provider": "google", "action": "gmail.send"}
    assert sample(send, "action_exec_total", **labels, status="success") == 1
    assert sample(send, "html_sanitize_changes_total", **labels, change="script_removed") == 1
    assert sample(send, "inline_cid_references_total", **labels, result="matched") == 1
    assert sample(send, "attachment_bytes_total", **labels, disposition="attachment") == len(PDF)
    assert sample(send, "gmail_mime_build_seconds_count", **labels) == 1


def test_outlook_sends_graph_json_with_inline_flags(specs, graph):
    send = adapter(specs, "outlook", graph)
    result = send.execute("outlook.send", rich(), "ws-1", "actor-1")
    assert result.ok and result.provider_id is None, result
    [stored] = graph.deliveries
    assert stored.attachment_bytes()["Überweisung März.pdf"] == PDF
    inline = [a for a in stored.attachments if a.get("isInline")]
    assert [a["contentId"] for a in inline] == ["logo"]
    labels = {"provider": "microsoft", "action": "outlook.send"}
    assert sample(send, "outlook_graph_payload_build_seconds_count", **labels) == 1
    assert sample(send, "action_exec_total", **labels, status="success") == 1


def test_the_gate_is_asked_first_and_a_closed_gate_sends_nothing(specs, gmail):
    gate = Gate(open_=False)
    send = adapter(specs, "gmail", gmail, gate=gate)
    result = send.execute("gmail.send", {"to": ["not an address"]}, "ws", "actor")
    assert result.error.error_code is ErrorCode.ROLLOUT_GATE_CLOSED  # before validation
    assert gate.asked == 1 and gmail.requests == []
    labels = {"provider": "google", "action": "gmail.send"}
    assert sample(send, "action_exec_total", **labels, status="rejected") == 1
    assert (
        sample(
            send, "structured_error_total", **labels, code="rollout_gate_closed", source="policy"
        )
        == 1
    )


def test_invalid_payload_is_a_structured_error_naming_the_field(specs, gmail):
    send = adapter(specs, "gmail", gmail)
    result = send.execute("gmail.send", rich(subject="Hi\r\nBcc: x@evil.example"), "w", "a")
    assert result.error.error_code is ErrorCode.VALIDATION_FAILED
    assert result.error.field == "subject"
    assert result.error.to_dict()["correlation_id"] == result.correlation_id
    assert gmail.requests == []


def test_a_cid_without_its_image_is_refused(specs, gmail):
    send = adapter(specs, "gmail", gmail)
    result = send.execute("gmail.send", rich(inline=[]), "w", "a")
    assert result.error.error_code is ErrorCode.VALIDATION_FAILED
    assert result.error.field == "html" and "logo" in result.error.message


def test_internal_only_mode_blocks_outside_recipients(specs, gmail):
    policy = specs.provider("gmail").send
    restricted = policy.model_copy(
        update={
            "internal_only": policy.internal_only.model_copy(
                update={"enabled": True, "allowed_domains": ("relay.example",)}
            )
        }
    )
    gmail_spec = specs.provider("gmail").model_copy(update={"send": restricted})
    narrowed = SpecSet(
        specs.service, tuple(gmail_spec if p.name == "gmail" else p for p in specs.providers)
    )
    send = adapter(narrowed, "gmail", gmail)
    result = send.execute("gmail.send", rich(to=["ana@relay.example"]), "w", "a")
    assert result.error.error_code is ErrorCode.INTERNAL_ONLY_BLOCKED
    assert result.error.details == ({"blocked": "ops@customer.example"},)
    assert gmail.requests == []


def test_an_expired_token_is_refreshed_once(specs, gmail):
    tokens = RotatingTokens("expired", GMAIL_TOKEN)
    send = adapter(specs, "gmail", gmail, tokens=tokens)
    assert send.execute("gmail.send", rich(), "w", "a").ok
    assert tokens.refreshes == 1
    assert [r.headers.get("authorization") for r in gmail.requests] == [
        "Bearer expired",
        f"Bearer {GMAIL_TOKEN}",
    ]
    revoked = adapter(specs, "gmail", gmail, tokens=RotatingTokens("expired", "still-bad"))
    result = revoked.execute("gmail.send", rich(), "w", "a")
    assert result.error.error_code is ErrorCode.AUTH_RECONNECT_REQUIRED


def test_transient_failures_are_retried_with_backoff(specs, graph, faults):
    faults.status(503, times=2)
    waits: list[float] = []
    send = adapter(specs, "outlook", graph, waits=waits)
    result = send.execute("outlook.send", rich(), "w", "a")
    assert result.ok and result.attempts == 3 and len(waits) == 2
    assert graph.delivery_count == 1


@pytest.mark.parametrize("form", ["seconds", "date"])
def test_429_waits_for_retry_after_in_both_forms(specs, gmail, faults, form):
    from relayops.fakes import retry_after_date

    value = "3" if form == "seconds" else retry_after_date(3.0)
    faults.status(429, headers={"Retry-After": value})
    waits: list[float] = []
    send = adapter(specs, "gmail", gmail, waits=waits)
    assert send.execute("gmail.send", rich(), "w", "a").ok
    assert waits and waits[0] == pytest.approx(0.05)  # Retry-After honoured, capped by max


def test_gmail_403_rate_limit_is_throttling(specs, gmail, faults):
    faults.status(403, body=gmail_error(403, reason="userRateLimitExceeded"), times=10)
    result = adapter(specs, "gmail", gmail).execute("gmail.send", rich(), "w", "a")
    assert result.error.error_code is ErrorCode.THROTTLED and result.error.retriable


@pytest.mark.parametrize(
    ("arm", "provider", "stored"),
    [
        (lambda f: f.accept_then(504), "gmail", True),
        (lambda f: f.accept_then_status(202, headers={"Retry-After": "5"}), "outlook", True),
        (lambda f: f.reset(), "gmail", False),
        (lambda f: f.slow(1.0), "outlook", False),  # stored only after the client gave up
    ],
)
def test_an_outcome_that_may_have_been_accepted_is_never_retried(
    specs, gmail, graph, faults, arm, provider, stored
):
    """The send is never repeated blindly: a stored message is found by the look-up and
    reported sent; one not (yet) found leaves the ambiguous error (this adapter may not
    resend)."""
    server = gmail if provider == "gmail" else graph
    arm(faults)
    send = adapter(specs, provider, server, timeout=0.3)
    result = send.execute(f"{provider}.send", rich(), "w", "a")
    sends = [r for r in server.requests if r.method == "POST"]
    assert len(sends) == 1, "no blind retry"
    assert result.attempts == 1
    if stored:
        assert result.ok and result.deduplicated, result
    else:
        assert result.error.error_code is ErrorCode.AMBIGUOUS_MAY_HAVE_SENT, result


def test_preview_builds_everything_without_network_or_counting(specs, gmail):
    send = adapter(specs, "gmail", gmail)
    preview = send.preview("gmail.send", rich())
    assert preview.ok and preview.digest and gmail.requests == []
    assert preview.summary["attachments"] == ["Überweisung März.pdf"]
    assert preview.summary["inline"] == ["logo"]
    assert "sanitizer: 1 × script_removed" in preview.warnings
    assert (
        sample(send, "action_exec_total", provider="google", action="gmail.send", status="success")
        == 0
    )
    assert send.preview("gmail.send", rich(bcc=["x@y.example"])).digest != preview.digest


def test_an_orphan_inline_image_goes_as_an_attachment(specs, graph):
    send = adapter(specs, "outlook", graph)
    params = rich(html="<p>No image here</p>")
    preview = send.preview("outlook.send", params)
    assert "inline image cid:logo is never referenced: sent as an attachment" in preview.warnings
    assert send.execute("outlook.send", params, "w", "a").ok
    [stored] = graph.deliveries
    assert not any(a.get("isInline") for a in stored.attachments)
    assert "logo.png" in stored.attachment_bytes()


def test_fault_injection_delivers_nothing_twice_and_every_failure_is_structured(
    specs, gmail, graph, faults
):
    for _ in range(3):
        faults.status(429, headers={"Retry-After": "1"})
        faults.status(503)
        faults.accept_then(504)
        faults.reset()
        faults.status(502)
        faults.slow(1.0)
    results = []
    for index in range(24):
        provider, server = ("gmail", gmail) if index % 2 else ("outlook", graph)
        send = adapter(specs, provider, server, timeout=0.3)
        params = rich(subject=f"Run {index}")
        results.append(
            (server, params["subject"], send.execute(f"{provider}.send", params, "w", "a"))
        )
    for server, subject, result in results:
        delivered = sum(1 for d in server.deliveries if subject_of(d) == subject)
        assert delivered <= 1, subject
        if result.ok:
            assert delivered == 1
        else:
            assert result.error.error_code in {
                ErrorCode.AMBIGUOUS_MAY_HAVE_SENT,
                ErrorCode.THROTTLED,
                ErrorCode.PROVIDER_UNAVAILABLE,
            }
            assert set(result.error.to_dict()) == FIELDS
    assert sum(r.ok for _, _, r in results) >= 12


def test_each_execute_counts_once(specs, gmail, faults):
    send = adapter(specs, "gmail", gmail)
    faults.status(400, body=gmail_error(400, reason="invalidArgument"))
    outcomes = [
        send.execute("gmail.send", rich(), "w", "a"),  # refused by the provider
        send.execute("gmail.send", rich(), "w", "a"),
        send.execute("gmail.send", rich(subject="x\ny"), "w", "a"),
    ]
    assert [o.ok for o in outcomes] == [False, True, False]
    labels = {"provider": "google", "action": "gmail.send"}
    statuses = {
        s: sample(send, "action_exec_total", **labels, status=s)
        for s in ("success", "error", "rejected")
    }
    assert statuses == {"success": 1, "error": 1, "rejected": 1}
    assert (
        sum(sample(send, "action_latency_seconds_count", **labels, status=s) for s in statuses) == 3
    )
    by_source = {
        src: sample(send, "structured_error_total", **labels, code="validation_failed", source=src)
        for src in ("validation", "provider")
    }
    assert by_source == {"validation": 1, "provider": 1}  # our check, and the provider's 400
    assert sample(send, "action_error_total", **labels, reason="validation") == 2


def test_a_large_gmail_message_goes_to_the_upload_endpoint(specs, gmail):
    big = base64.b64encode(b"%PDF-1.4\n" + bytes(800_000)).decode()
    params = rich(
        attachments=[{"data": big, "filename": "big.pdf", "content_type": "application/pdf"}]
    )
    send = adapter(specs, "gmail", gmail)
    assert send.preview("gmail.send", params).summary["endpoint"].startswith("/upload/")
    assert send.execute("gmail.send", params, "w", "a").ok
    [stored] = gmail.deliveries
    assert stored.via == "upload"
    assert send.execute("gmail.send", rich(), "w", "a").ok
    assert gmail.deliveries[-1].via == "json"


def test_a_gmail_message_over_the_upload_limit_is_refused_before_any_request(specs, gmail):
    """A spec may raise the attachment limits; the 35 MiB upload limit still holds, checked on
    the built message before anything is sent."""
    send = adapter(specs, "gmail", gmail)
    raised = send.spec.send.model_copy(
        update={"max_attachment_bytes": 30 * 2**20, "max_total_bytes": 30 * 2**20}
    )
    send.spec = send.spec.model_copy(update={"send": raised})
    data = base64.b64encode(os.urandom(26 * 2**20)).decode()
    params = rich(
        attachments=[{"data": data, "filename": "big.zip", "content_type": "application/zip"}]
    )
    result = send.execute("gmail.send", params, "w", "a")
    assert result.error.error_code is ErrorCode.TOO_LARGE
    assert result.error.field == "attachments"
    assert str(36_700_160) in result.error.message  # the limit in bytes, named
    assert gmail.requests == []
