"""Any payload, any provider: `execute` answers with a result, never an exception, and whatever
reaches the provider carries exactly the recipients and a header set that validation allowed.

Payloads mix control and format characters (Cc, Cf, Zl, Zp, NUL), RFC 2047 encoded words
(q and b forms) that decode to CR LF or to blocked file names, long lines, non-ASCII, large
recipient lists and odd content ids. They go over real HTTP to the fake servers. What arrived is
judged with the email package's own parser (Gmail's MIME) or json (Graph), and with the
extension list of the spec, never with the adapter's own checks.
"""

from __future__ import annotations

import base64
import email
import email.policy
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from relayops.adapters.adapter import SendAdapter
from relayops.adapters.errors import StructuredError
from relayops.adapters.params import MAX_DETAILS
from relayops.adapters.smoke import AlwaysOpen, StaticToken
from relayops.fakes import FakeGmail, FakeGraph
from tests.send_util import fake_adapter

EXAMPLES = 500
PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n" + bytes(40)).decode()
PDF = base64.b64encode(b"%PDF-1.4 tiny").decode()
ADDRESSES = [f"user{i}@customer.example" for i in range(40)] + ["Mixed.Case@Customer.Example"]
# Characters that have broken mail headers: controls, separators, bidi and zero-width format
# characters, NUL, DEL, and ordinary text around them.
NASTY = "\r\n\x00\x0b\x0c\x1b\x7f\x85\u2028\u2029\u202e\u2066\u200b\u200d\ufeff\t"
HEADER_ALLOWED = {
    "from",
    "to",
    "cc",
    "bcc",
    "subject",
    "date",
    "message-id",
    "mime-version",
    "x-relay-idempotency-key",
    "content-type",
    "content-transfer-encoding",
}


def _no_path(text: str) -> bool:
    return not any(c in text for c in "/\\:")


def _q_word(text: str) -> str:
    raw = text.encode()
    return "=?utf-8?q?" + "".join(f"={b:02X}" for b in raw) + "?="


def _b_word(text: str) -> str:
    return "=?utf-8?b?" + base64.b64encode(text.encode()).decode() + "?="


plain = st.text(
    alphabet=st.characters(codec="utf-8", categories=("L", "N", "P", "S", "Zs")), max_size=60
)
nasty = st.text(alphabet=st.sampled_from(NASTY) | st.characters(codec="utf-8"), max_size=30)
words = st.builds(lambda f, t: f(t), st.sampled_from([_q_word, _b_word]), plain | nasty)
# Each field has an ordinary form and a hostile one; an example corrupts a few fields, so most
# examples are refused for one reason and many go through.
ORDINARY = {
    "subject": plain | st.builds(lambda f, t: f(t), st.sampled_from([_q_word, _b_word]), plain),
    "text": st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\x00")),
    "filename": st.builds(lambda t: (t.strip(". ") or "file") + ".pdf", plain.filter(_no_path)),
    "content_id": st.from_regex(r"[a-z0-9]{1,12}@relay", fullmatch=True),
    "to": st.lists(st.sampled_from(ADDRESSES[:20]), min_size=1, max_size=6, unique=True),
}
HOSTILE = {
    "subject": st.one_of(
        nasty,
        words,
        st.builds(lambda a, w, b: f"{a} {w} {b}", plain, words, plain),
        st.builds(lambda t: "Bcc: " + t, words),
        st.text(max_size=1200),  # long lines, anything
    ),
    "text": nasty | st.just("nul \x00 inside"),
    "filename": st.one_of(
        st.builds(lambda t, e: t + e, plain | nasty, st.sampled_from([".pdf", ".exe", ".js", ""])),
        st.builds(_q_word, st.sampled_from(["evil.exe", "a\r\nb.pdf", "report.pdf", "x.js"])),
        st.builds(_b_word, st.sampled_from(["evil.exe", "invoice\u202efdp.exe", "ok.pdf"])),
    ),
    "content_id": st.one_of(
        st.sampled_from(["logo\n", "<logo>", "=?utf-8?q?a=0D=0A?=", "a b", "", "x" * 300]),
        st.text(max_size=20),
    ),
    "to": st.one_of(
        st.lists(st.sampled_from(ADDRESSES) | st.text(max_size=30), max_size=4),
        st.integers(90, 160).map(lambda n: [f"bulk{i}@customer.example" for i in range(n)]),
        st.just(["same@customer.example"] * 300),
    ),
}


@st.composite
def payloads(draw: st.DrawFn) -> dict:
    hostile = draw(st.sets(st.sampled_from(sorted(HOSTILE)), max_size=2))
    value = {name: draw(HOSTILE[name] if name in hostile else ORDINARY[name]) for name in HOSTILE}
    payload = {
        "to": value["to"],
        "cc": draw(st.lists(st.sampled_from(ADDRESSES[20:30]), max_size=3, unique=True)),
        "bcc": draw(st.lists(st.sampled_from(ADDRESSES[30:]), max_size=3, unique=True)),
        "subject": value["subject"],
        "text": value["text"],
    }
    if draw(st.booleans()):
        payload["html"] = f"<p>{draw(plain)}</p><img src='cid:{value['content_id']}'>"
        image = {"data": PNG, "filename": "logo.png", "content_type": "image/png"}
        payload["inline"] = [{**image, "content_id": value["content_id"]}]
    if draw(st.booleans()):
        payload["attachments"] = [
            {"data": PDF, "filename": value["filename"], "content_type": "application/pdf"}
        ]
    return payload


@pytest.fixture(scope="module")
def servers() -> Iterator[dict[str, FakeGmail | FakeGraph]]:
    with FakeGmail() as gmail, FakeGraph() as graph:
        yield {"gmail": gmail, "outlook": graph}


def _has_forbidden(text: str) -> bool:
    return any(c in text for c in "\r\n\x00\u2028\u2029\u202e\u2066\x85")


def _expected_subject(given: str) -> str | None:
    """What the recipient must see for a subject with no encoded words: the text itself,
    leading white space dropped as every mail parser drops it. None when it holds encoded
    words (judged by the safety properties alone)."""
    return None if "=?" in given else given.lstrip(" \t")


def _judge_gmail(raw: bytes, payload: dict, blocked: tuple[str, ...]) -> None:
    mime = email.message_from_bytes(raw, policy=email.policy.default)
    names = [name.lower() for name in mime]
    assert len(names) == len(set(names)) and set(names) <= HEADER_ALLOWED, names
    for field in ("to", "cc", "bcc"):
        header = mime[field]
        found = [a.addr_spec for a in header.addresses] if header is not None else []
        assert [a.lower() for a in found] == [a.lower() for a in payload[field]], field
    subject = str(mime["Subject"])
    assert not _has_forbidden(subject)
    if (expected := _expected_subject(payload["subject"])) is not None:
        assert subject == expected
    for part in mime.walk():
        name = part.get_filename()
        if name is not None:
            assert not _has_forbidden(name) and not name.lower().endswith(blocked), name


def _judge_graph(message: dict, payload: dict, blocked: tuple[str, ...]) -> None:
    for field, key in (("to", "toRecipients"), ("cc", "ccRecipients"), ("bcc", "bccRecipients")):
        found = [r["emailAddress"]["address"] for r in message.get(key, [])]
        assert [a.lower() for a in found] == [a.lower() for a in payload[field]], field
    assert not _has_forbidden(message["subject"])
    if (expected := _expected_subject(payload["subject"])) is not None:
        assert message["subject"] == expected
    assert "from" not in message
    for attachment in message.get("attachments", []):
        name = attachment["name"]
        assert not _has_forbidden(name) and not name.lower().endswith(blocked), name


def _judge_error(failure: StructuredError) -> None:
    assert isinstance(failure, StructuredError)
    assert len(failure.details) <= MAX_DETAILS + 1
    assert len(failure.message) < 2000


@pytest.mark.parametrize("provider", ["gmail", "outlook"])
def test_any_payload_gives_a_result_and_only_validated_headers_go_out(specs, servers, provider):
    server = servers[provider]
    send = fake_adapter(specs, provider, server)
    blocked = specs.provider(provider).send.blocked_extensions
    outcomes = {"sent": 0, "refused": 0}

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(payloads())
    def check(payload: dict) -> None:
        before = len(server.deliveries)
        result = send.execute(f"{provider}.send", payload, "ws", "actor")
        delivered = server.deliveries[before:]
        if not result.ok:
            _judge_error(result.error)
            assert delivered == []
            outcomes["refused"] += 1
            return
        [stored] = delivered
        if provider == "gmail":
            _judge_gmail(stored.raw, payload, blocked)
        else:
            _judge_graph(stored.message, payload, blocked)
        outcomes["sent"] += 1

    check()
    # the property is only worth something if both branches ran many times
    assert outcomes["sent"] >= EXAMPLES // 10 and outcomes["refused"] >= EXAMPLES // 10, outcomes


def test_ten_thousand_recipients_are_refused_before_any_address_is_parsed(specs, monkeypatch):
    import relayops.spec.send as send_spec

    parsed = []
    real = send_spec.validate_email
    monkeypatch.setattr(
        send_spec, "validate_email", lambda *a, **k: parsed.append(a) or real(*a, **k)
    )
    send = SendAdapter(specs, "gmail", AlwaysOpen(), StaticToken("t"), base_url="http://unused")
    crowd = [f"r{i}@customer.example" for i in range(10_000)]
    result = send.execute("gmail.send", {"to": crowd, "subject": "s", "text": "t"}, "w", "a")
    assert result.error.field == "to" and "10000 recipients" in result.error.message
    assert len(result.error.details) == 1 and parsed == []
