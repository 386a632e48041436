"""build_mime and raw_for_gmail: tree shapes, headers, encodings, parsed back with the stdlib."""

from __future__ import annotations

import base64
import email
import email.headerregistry
import email.policy
import email.utils
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from email import base64mime
from email.message import EmailMessage

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from relayops.adapters.message import Attachment, Message
from relayops.adapters.message_id import MessageId
from relayops.adapters.mime import POLICY, build_mime, mime_bytes, raw_for_gmail

NOW = datetime(2026, 3, 1, 9, 30, 15, tzinfo=UTC)
BINARY = bytes(range(256)) + b"\r\n\r\n\n\r" + bytes(range(255, -1, -1))
LOGO = Attachment("logo.png", "image/png", BINARY, inline=True, content_id="logo@relay")
CHART = Attachment("chart.gif", "image/gif", b"GIF89a" + BINARY, inline=True, content_id="chart")
PDF = Attachment("report.pdf", "application/pdf", b"%PDF-1.7\n" + BINARY * 3)
CSV = Attachment("rows.csv", "text/csv", b"a,b\r\n1,2\r\n")
HTML = '<p>Hi <img src="cid:logo@relay"> and <img src="cid:chart"></p>'


def message(**changes: object) -> Message:
    base = Message(
        sender="relay@example.com",
        to=("anna@example.com",),
        subject="Monthly report",
        text="Hello,\nthe report is attached.\n",
        message_id=MessageId("m-1", "example.com"),
    )
    return replace(base, **changes)


def parsed(msg: Message, **kwargs: object) -> EmailMessage:
    raw = build_mime(msg, now=NOW, **kwargs).as_bytes()
    return email.message_from_bytes(raw, policy=email.policy.default)


def shape(part: EmailMessage) -> object:
    """Content types as nested (multipart type, [children]) tuples."""
    if part.is_multipart():
        return (part.get_content_type(), [shape(p) for p in part.iter_parts()])
    return part.get_content_type()


ALTERNATIVE = ("multipart/alternative", ["text/plain", "text/html"])


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({}, "text/plain"),
        ({"html": HTML}, ALTERNATIVE),
        (
            {"html": HTML, "attachments": (LOGO, CHART)},
            ("multipart/related", [ALTERNATIVE, "image/png", "image/gif"]),
        ),
        (
            {"html": HTML, "attachments": (PDF, LOGO, CSV, CHART)},
            (
                "multipart/mixed",
                [
                    ("multipart/related", [ALTERNATIVE, "image/png", "image/gif"]),
                    "application/pdf",
                    "text/csv",
                ],
            ),
        ),
        ({"attachments": (PDF,)}, ("multipart/mixed", ["text/plain", "application/pdf"])),
        (
            {"html": HTML, "attachments": (PDF,)},
            ("multipart/mixed", [ALTERNATIVE, "application/pdf"]),
        ),
    ],
    ids=["text", "text+html", "html+inline", "html+inline+files", "text+file", "html+file"],
)
def test_tree_shape(changes: dict[str, object], expected: object) -> None:
    assert shape(parsed(message(**changes))) == expected


def text_of(part: EmailMessage) -> str:
    """A text part's content; on the wire its lines end in CRLF."""
    return part.get_content().replace("\r\n", "\n")


def test_text_only_is_a_single_part() -> None:
    got = parsed(message(text="Grüße ✓\n"))
    assert not got.is_multipart()
    assert text_of(got) == "Grüße ✓\n"
    assert got["MIME-Version"] == "1.0"


def test_text_and_html_bodies_round_trip() -> None:
    got = parsed(message(html="<p>Grüße</p>", attachments=(PDF,)))
    assert text_of(got.get_body(preferencelist=("plain",))) == message().text
    assert text_of(got.get_body(preferencelist=("html",))) == "<p>Grüße</p>\n"


def test_inline_images_match_the_cid_references() -> None:
    got = parsed(message(html=HTML, attachments=(LOGO, PDF, CHART)))
    related = next(p for p in got.walk() if p.get_content_type() == "multipart/related")
    images = list(related.iter_parts())[1:]
    content_ids = {p["Content-ID"] for p in images}
    assert content_ids == {"<logo@relay>", "<chart>"}
    assert {f"<{cid}>" for cid in re.findall(r'src="cid:([^"]+)"', HTML)} == content_ids
    for image, attachment in zip(images, (LOGO, CHART), strict=True):
        assert image.get_content_disposition() == "inline"
        assert image.get_filename() == attachment.filename


def test_attachment_bytes_round_trip_exactly() -> None:
    attachments = (LOGO, PDF, CSV, CHART)
    got = parsed(message(html=HTML, attachments=attachments))
    by_name = {p.get_filename(): p for p in got.walk() if p.get_filename()}
    assert set(by_name) == {a.filename for a in attachments}
    for attachment in attachments:
        part = by_name[attachment.filename]
        assert part.get_payload(decode=True) == attachment.data
        assert part.get_content_type() == attachment.content_type
    assert by_name["report.pdf"].get_content_disposition() == "attachment"


def test_non_ascii_subject_and_display_name_are_rfc2047() -> None:
    subject = "Prüfbericht — 東京 ✓"
    msg = message(subject=subject, to=("Jörg Müller <joerg@example.com>",))
    raw = build_mime(msg, now=NOW).as_bytes()
    head = raw.split(b"\r\n\r\n", 1)[0]
    head.decode("ascii")  # raises when a header went out unencoded
    assert b"Subject: =?utf-8?" in head
    got = email.message_from_bytes(raw, policy=email.policy.default)
    assert got["Subject"] == subject
    assert got["To"].addresses[0].display_name == "Jörg Müller"
    assert got["To"].addresses[0].addr_spec == "joerg@example.com"


def test_non_ascii_filename_is_rfc2231() -> None:
    name = "Überweisung März.pdf"
    msg = message(attachments=(replace(PDF, filename=name),))
    raw = build_mime(msg, now=NOW).as_bytes()
    assert b"filename*=utf-8''%C3%9Cberweisung%20M%C3%A4rz.pdf" in raw
    got = email.message_from_bytes(raw, policy=email.policy.default)
    assert next(got.iter_attachments()).get_filename() == name


def test_recipients_and_bcc_are_in_the_raw_message() -> None:
    msg = message(
        to=("anna@example.com", "ben@example.org"),
        cc=("carla@example.net",),
        bcc=("audit@example.com", "dora@example.com"),
    )
    got = parsed(msg)
    assert got["To"] == "anna@example.com, ben@example.org"
    assert got["Cc"] == "carla@example.net"
    assert [a.addr_spec for a in got["Bcc"].addresses] == list(msg.bcc)


def test_no_cc_or_bcc_header_without_those_recipients() -> None:
    got = parsed(message())
    assert got["Cc"] is None
    assert got["Bcc"] is None


def test_date_and_message_id_are_deterministic() -> None:
    first, second = parsed(message()), parsed(message())
    assert first["Date"] == second["Date"] == "Sun, 01 Mar 2026 09:30:15 +0000"
    assert first["Message-ID"] == second["Message-ID"] == "<m-1@example.com>"
    tokyo = timezone(timedelta(hours=9))
    got = build_mime(message(), now=NOW.astimezone(tokyo))
    assert got["Date"] == "Sun, 01 Mar 2026 18:30:15 +0900"


@pytest.mark.parametrize("domain", [None, "mail.relay.test"])
def test_the_message_id_of_the_message_is_written_whatever_the_domain(domain: str | None) -> None:
    got = build_mime(message(message_id=MessageId("m-1", "relay.test")), now=NOW, domain=domain)
    assert got["Message-ID"] == "<m-1@relay.test>"


def test_message_id_generated_when_none() -> None:
    ids = {build_mime(message(message_id=None), now=NOW)["Message-ID"] for _ in range(2)}
    assert len(ids) == 2
    assert all(re.fullmatch(r"<[^<>@\s]+@example\.com>", i) for i in ids)
    got = build_mime(message(message_id=None), now=NOW, domain="relay.test")
    assert got["Message-ID"].endswith("@relay.test>")


@pytest.mark.parametrize("bad", ["has space", "a>b", "<a>", "", "a\r\nb", "@x", "a@", "a@b@c"])
def test_invalid_message_id_is_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="Message-ID"):
        MessageId.parse(bad)


@pytest.mark.parametrize(("left", "right"), [("a b", "x.test"), ("a", "x\r\nBcc: y"), ("a<", "x")])
def test_a_message_id_that_could_break_its_header_cannot_be_made(left: str, right: str) -> None:
    with pytest.raises(ValueError, match="invalid Message-ID"):
        MessageId(left, right)


@pytest.mark.parametrize("text", ["k-1@relay.test", "<k-1@relay.test>", " <k-1@relay.test> "])
def test_a_message_id_reads_back_as_the_email_package_reads_its_header(text: str) -> None:
    header = MessageId.parse(text).header
    parsed = email.message_from_string(f"Message-ID: {header}\n\n", policy=email.policy.default)
    assert parsed["Message-ID"] == "<k-1@relay.test>"
    assert parsed["Message-ID"].defects == ()


@pytest.mark.parametrize(
    ("sender", "domain"), [("relay@example.com", "bad domain"), ("no-address", None)]
)
def test_a_generated_message_id_needs_a_valid_domain(sender: str, domain: str | None) -> None:
    with pytest.raises(ValueError, match="Message-ID domain"):
        build_mime(message(sender=sender, message_id=None), now=NOW, domain=domain)


def test_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        build_mime(message(), now=datetime(2026, 3, 1, 9, 30))


def test_default_date_is_now() -> None:
    got = build_mime(message())
    sent = email.utils.parsedate_to_datetime(got["Date"])
    assert abs(sent - datetime.now(UTC)) < timedelta(minutes=1)


def test_extra_headers_are_written() -> None:
    headers = {"X-Relay-Idempotency-Key": "k-42", "X-Note": "für dich", "Reply-To": "a@b.test"}
    got = parsed(message(headers=headers))
    for name, value in headers.items():
        assert got[name] == value


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Key": "v\r\nBcc: evil@example.com"},
        {"X-Key": "v\n"},
        {"X-Key": "v\rw"},
        {"X-Key\r\nBcc": "evil@example.com"},
        {"X Key": "v"},
        {"X:Key": "v"},
        {"": "v"},
        {"X-Kéy": "v"},
    ],
)
def test_header_injection_is_refused(headers: dict[str, str]) -> None:
    with pytest.raises(ValueError):
        build_mime(message(headers=headers), now=NOW)


@pytest.mark.parametrize("name", ["Subject", "bcc", "Message-ID", "MIME-Version", "Content-Type"])
def test_extra_header_cannot_replace_a_built_one(name: str) -> None:
    with pytest.raises(ValueError, match="set by the builder"):
        build_mime(message(headers={name: "x"}), now=NOW)


def test_crlf_in_subject_is_refused() -> None:
    with pytest.raises(ValueError):
        build_mime(message(subject="hi\r\nBcc: evil@example.com"), now=NOW)


@pytest.mark.parametrize(
    ("attachments", "html"),
    [
        ((LOGO,), None),  # inline image but nothing to reference it
        ((replace(LOGO, content_id=None),), HTML),
        ((replace(LOGO, content_id="a b"),), HTML),
        ((replace(PDF, content_type="application"),), None),
        ((replace(PDF, content_type="text/plain; charset=utf-8"),), None),
    ],
)
def test_invalid_attachments_are_refused(attachments: tuple[Attachment, ...], html: str | None):
    with pytest.raises(ValueError):
        build_mime(message(attachments=attachments, html=html), now=NOW)


def test_line_endings_are_crlf_and_lines_short() -> None:
    msg = message(
        text="one\ntwo\r\nthree\rfour ✓ " + "x" * 2000,
        html="<p>" + "y" * 5000 + "</p>\n<p>ü</p>",
        attachments=(LOGO, PDF),
    )
    raw = build_mime(msg, now=NOW).as_bytes()
    assert b"\n" not in raw.replace(b"\r\n", b"")
    assert b"\r" not in raw.replace(b"\r\n", b"")
    assert max(len(line) for line in raw.split(b"\r\n")) <= 78
    raw.decode("ascii")  # 7bit throughout: non-ASCII bodies are quoted-printable or base64


def test_raw_for_gmail_decodes_to_the_same_bytes() -> None:
    msg = build_mime(message(subject="Prüfbericht", html=HTML, attachments=(LOGO, PDF)), now=NOW)
    raw = raw_for_gmail(msg.as_bytes())
    assert re.fullmatch(r"[A-Za-z0-9_-]*=*", raw)
    assert base64.urlsafe_b64decode(raw) == msg.as_bytes()


def test_mime_bytes_is_the_built_message_with_attachments_encoded_in_one_go():
    message = Message(
        sender="relay@example.com",
        to=("anna@example.com",),
        subject="Bericht",
        text="Text",
        html='<p>Hi</p><img src="cid:logo">',
        attachments=(
            Attachment("logo.png", "image/png", bytes(range(256)) * 30, True, "logo"),
            Attachment("r.pdf", "application/pdf", bytes(reversed(range(256))) * 4001),
            Attachment("tiny.txt", "text/plain", b"x"),
        ),
        message_id=MessageId("fixed-1", "example.com"),
    )
    fast = email.message_from_bytes(mime_bytes(message, now=NOW), policy=email.policy.default)
    slow = email.message_from_bytes(
        build_mime(message, now=NOW).as_bytes(), policy=email.policy.default
    )
    parts = lambda m: [  # noqa: E731
        (p.get_content_type(), p.get_filename(), p.get("Content-ID"), p.get_payload(decode=True))
        for p in m.walk()
        if not p.is_multipart()
    ]
    assert parts(fast) == parts(slow)
    headers = lambda m: [(k, v) for k, v in m.items() if k != "Content-Type"]  # noqa: E731
    assert headers(fast) == headers(slow)  # the boundaries are random


BLOCK = 57 * 256  # bytes mime_bytes base64-encodes at a time


@pytest.mark.parametrize(
    "size", [1, 56, 57, 58, BLOCK - 1, BLOCK, BLOCK + 1, 3 * BLOCK + 57, 3 * BLOCK + 100]
)
def test_mime_bytes_wraps_base64_as_the_email_package_does(size: int) -> None:
    data = bytes(i * 7 % 251 for i in range(size))
    msg = message(text="Text", html=None, attachments=(replace(PDF, data=data),))
    encoded = base64mime.body_encode(data, maxlinelen=76, eol="\r\n").encode()
    raw = mime_bytes(msg, now=NOW)
    assert raw.count(encoded) == 1
    assert raw.split(encoded)[1].startswith(b"\r\n--=_")  # nothing left over after it


@pytest.mark.parametrize(
    ("text", "html", "encodings"),
    [
        (
            "Der Prüfbericht liegt bei.\n" * 200,
            "<table>" + '<tr><td style="padding:4px">Prüfposition</td></tr>\n' * 1000 + "</table>",
            ("base64", "base64"),
        ),
        ("plain\n" * 10, "<p>ascii</p>\n" * 5000, ("7bit", "7bit")),
        ("one\ntwo\r\nthree\rfour ✓ " + "x" * 2000, "<p>" + "y" * 5000 + "</p>", ("base64",) * 2),
        ("", "", ("7bit", "7bit")),
    ],
    ids=["large-non-ascii", "large-ascii", "mixed-line-ends-long-lines", "empty"],
)
def test_mime_bytes_text_bodies_parse_back(text: str, html: str, encodings: tuple) -> None:
    msg = message(text=text, html=html, attachments=(LOGO, PDF))
    raw = mime_bytes(msg, now=NOW)
    raw.decode("ascii")
    assert b"\n" not in raw.replace(b"\r\n", b"")
    assert max(len(line) for line in raw.split(b"\r\n")) <= 78
    got = email.message_from_bytes(raw, policy=email.policy.default)
    slow = email.message_from_bytes(
        build_mime(msg, now=NOW).as_bytes(), policy=email.policy.default
    )
    for subtype, encoding in zip(("plain", "html"), encodings, strict=True):
        part = got.get_body(preferencelist=(subtype,))
        assert part["Content-Transfer-Encoding"] == encoding
        assert part.get_content() == slow.get_body(preferencelist=(subtype,)).get_content()
        assert part.get_content_type() == f"text/{subtype}"
        assert part.get_content_charset() == "utf-8"
    assert text_of(got.get_body(preferencelist=("html",))) == "\n".join(html.splitlines()) + "\n"


@pytest.mark.parametrize("text", ["Grüße ✓\n" * 300, "short ascii\n"])
def test_mime_bytes_text_only_is_a_single_part(text: str) -> None:
    got = email.message_from_bytes(
        mime_bytes(message(text=text), now=NOW), policy=email.policy.default
    )
    assert not got.is_multipart()
    assert text_of(got) == text


def test_recurring_content_headers_are_parsed_once_and_per_message_ones_each_time() -> None:
    umlaut = replace(PDF, filename="Überweisung.pdf")  # an RFC 2231 filename*= parameter
    one = build_mime(message(html=HTML, attachments=(LOGO, CHART, PDF, umlaut)), now=NOW)
    two = build_mime(message(html=HTML, attachments=(LOGO, CHART, PDF, umlaut)), now=NOW)
    pairs = list(zip(one.walk(), two.walk(), strict=True))
    shared = {"content-type", "content-disposition", "content-transfer-encoding"}
    for first, second in pairs:
        for name in shared & {key.lower() for key in first}:
            value = first[name]
            same = value is second[name]
            per_message = "boundary=" in value or "filename" in value
            assert same is not per_message, (name, str(value))
    assert one["MIME-Version"] is two["MIME-Version"]
    assert one["To"] is not two["To"]
    boundaries = re.compile(rb"=_[0-9a-f]{32}")
    assert boundaries.sub(b"", one.as_bytes()) == boundaries.sub(b"", two.as_bytes())


def test_recurring_headers_are_folded_once_even_in_subparts(monkeypatch) -> None:
    """The generator clones its policy per subpart; the folded form must survive that."""
    build = lambda: build_mime(message(html=HTML, attachments=(LOGO, CHART, PDF)), now=NOW)  # noqa: E731
    build().as_bytes()
    folded: list[str] = []
    original = email.headerregistry.BaseHeader.fold

    def counting(self, *, policy):
        folded.append(self.name.lower())
        return original(self, policy=policy)

    monkeypatch.setattr(email.headerregistry.BaseHeader, "fold", counting)
    again = build().as_bytes()
    assert "content-disposition" in folded  # per message (a file name): folded every time
    assert "to" not in folded and "subject" not in folded  # written as given, never parsed
    assert "content-transfer-encoding" not in folded
    assert "mime-version" not in folded
    assert folded.count("content-type") == 3  # the three multipart boundaries only
    assert b"Content-Transfer-Encoding: base64\r\n" in again


# The email package's own policy with the same settings: what mime's fast header path must match.
STOCK = email.policy.SMTP.clone(cte_type="7bit")
_ATEXT = st.text(st.sampled_from("abzAZ09!#$%&'*+/=?^_`{|}~-"), min_size=1, max_size=8)
_DOT_ATOM = st.lists(_ATEXT, min_size=1, max_size=3).map(".".join)
_ADDRESS = st.tuples(_DOT_ATOM, _DOT_ATOM).map("@".join)
_WORDS = st.lists(
    st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=12),
    min_size=1,
    max_size=12,
).map(" ".join)
_WRITTEN_AS_GIVEN = st.one_of(
    st.tuples(
        st.sampled_from(["From", "To", "cc", "BCC", "Reply-To"]),
        st.lists(_ADDRESS, min_size=1, max_size=8).map(", ".join),
    ),
    st.tuples(
        st.sampled_from(["Message-ID", "Content-ID"]),
        st.tuples(_DOT_ATOM, st.one_of(st.none(), _DOT_ATOM)).map(
            lambda ids: f"<{ids[0]}@{ids[1]}>" if ids[1] else f"<{ids[0]}>"
        ),
    ),
    st.tuples(
        st.just("Date"),
        st.datetimes(
            min_value=datetime(1900, 1, 1), max_value=datetime(2999, 12, 31), timezones=st.just(UTC)
        ).map(email.utils.format_datetime),
    ),
    st.tuples(
        st.sampled_from(["Subject", "X-Relay-Idempotency-Key", "x-mailer"]),
        _WORDS.filter(lambda words: "=?" not in words),
    ),
)


def written(policy: email.policy.EmailPolicy, name: str, value: str) -> bytes:
    """The header line(s) a generator under `policy` writes for a header set to `value`."""
    return policy.fold_binary(*policy.header_store_parse(name, value))


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(_WRITTEN_AS_GIVEN)
def test_headers_kept_as_given_are_written_as_the_email_package_writes_them(header) -> None:
    """Short or long enough to be folded, the bytes are the stock policy's."""
    name, value = header
    assert type(POLICY.header_store_parse(name, value)[1]) is str  # the fast path was taken
    assert written(POLICY, name, value) == written(STOCK, name, value)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("To", "Anna Berg <anna@example.com>"),
        ("To", "anna@example.com,ben@example.org"),  # no space after the comma
        ("From", "Jörg <jorg@example.com>"),
        ("Subject", "two  spaces"),
        ("Subject", " leading space"),
        ("Subject", "=?utf-8?q?looks_encoded?="),
        ("Subject", "Prüfbericht"),
        ("Message-ID", "<a b@example.com>"),
        ("Date", "1 Jan 2026 00:00:00 +0000"),
        ("Date", "Thu, \u0660\u0661 Jan 2026 00:00:00 +0000"),  # Arabic-Indic digits
        ("Comments", "not a header kind kept as given"),
    ],
)
def test_other_headers_are_parsed_and_written_as_the_email_package_writes_them(
    name: str, value: str
) -> None:
    assert type(POLICY.header_store_parse(name, value)[1]) is not str
    assert written(POLICY, name, value) == written(STOCK, name, value)


def test_a_header_kept_as_given_still_reads_back_parsed() -> None:
    msg = build_mime(message(to=("anna@example.com", "ben@example.org")), now=NOW)
    assert [a.addr_spec for a in msg["To"].addresses] == ["anna@example.com", "ben@example.org"]
    assert msg["Date"].datetime == NOW
