"""message_digest: stable, sensitive to every field, free of concatenation collisions."""

from __future__ import annotations

from dataclasses import fields, replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from relayops.adapters.digest import message_digest
from relayops.adapters.message import Attachment, Message
from relayops.adapters.message_id import MessageId

LOGO = Attachment("logo.png", "image/png", b"\x89PNG-logo", inline=True, content_id="logo")
PDF = Attachment("report.pdf", "application/pdf", b"%PDF-1.7 report")
BASE = Message(
    sender="relay@example.com",
    to=("anna@example.com", "ben@example.org"),
    cc=("carla@example.net",),
    bcc=("audit@example.com",),
    subject="Report",
    text="See attached.",
    html='<p>See <img src="cid:logo"></p>',
    attachments=(LOGO, PDF),
    headers={"X-Relay-Idempotency-Key": "k-1", "X-Note": "n"},
    message_id=MessageId("m-1", "example.com"),
)


def flip_last_byte(attachment: Attachment) -> Attachment:
    return replace(attachment, data=attachment.data[:-1] + bytes([attachment.data[-1] ^ 1]))


def test_stable_and_hex() -> None:
    copy = replace(BASE, headers=dict(reversed(BASE.headers.items())))
    assert message_digest(BASE) == message_digest(copy) == message_digest(BASE)
    assert len(message_digest(BASE)) == 64
    int(message_digest(BASE), 16)


CHANGES = {
    "sender": {"sender": "other@example.com"},
    "to": {"to": ("anna@example.com",)},
    "to order": {"to": ("ben@example.org", "anna@example.com")},
    "cc": {"cc": ()},
    "bcc": {"bcc": ("audit2@example.com",)},
    "bcc added": {"bcc": ("audit@example.com", "x@example.com")},
    "subject": {"subject": "Report!"},
    "text": {"text": "See attached"},
    "html": {"html": '<p>See <img src="cid:logo"> </p>'},
    "html none": {"html": None},
    "one byte": {"attachments": (LOGO, flip_last_byte(PDF))},
    "filename": {"attachments": (LOGO, replace(PDF, filename="report2.pdf"))},
    "content type": {"attachments": (LOGO, replace(PDF, content_type="application/x-pdf"))},
    "inline flag": {"attachments": (LOGO, replace(PDF, inline=True, content_id="pdf"))},
    "content id": {"attachments": (replace(LOGO, content_id="logo2"), PDF)},
    "attachment order": {"attachments": (PDF, LOGO)},
    "attachment gone": {"attachments": (LOGO,)},
    "header value": {"headers": {"X-Relay-Idempotency-Key": "k-2", "X-Note": "n"}},
    "header name": {"headers": {"X-Relay-Idempotency-Key": "k-1", "X-Notes": "n"}},
    "header added": {"headers": {**BASE.headers, "X-More": ""}},
    "message id": {"message_id": "m-2"},
    "message id none": {"message_id": None},
}


@pytest.mark.parametrize("changes", CHANGES.values(), ids=CHANGES.keys())
def test_any_single_change_changes_the_digest(changes: dict[str, object]) -> None:
    assert message_digest(replace(BASE, **changes)) != message_digest(BASE)


def test_all_changes_give_distinct_digests() -> None:
    digests = {message_digest(replace(BASE, **changes)) for changes in CHANGES.values()}
    assert len(digests | {message_digest(BASE)}) == len(CHANGES) + 1


COLLISIONS = {
    "subject/text": ({"subject": "ab", "text": "c"}, {"subject": "a", "text": "bc"}),
    "sender/subject": ({"sender": "a@b.c", "subject": "d"}, {"sender": "a@b.cd", "subject": ""}),
    "to split": ({"to": ("a@b.c", "d@e.f")}, {"to": ("a@b.cd@e.f",)}),
    "to/cc": ({"to": ("a@b.c",), "cc": ()}, {"to": (), "cc": ("a@b.c",)}),
    "cc/bcc": ({"cc": ("a@b.c",), "bcc": ()}, {"cc": (), "bcc": ("a@b.c",)}),
    "html none/empty": ({"html": None}, {"html": ""}),
    "text/html": ({"text": "x", "html": ""}, {"text": "", "html": "x"}),
    "header split": ({"headers": {"X-ab": "c"}}, {"headers": {"X-a": "bc"}}),
    "headers/message id": (
        {"headers": {"X-a": "b"}, "message_id": None},
        {"headers": {}, "message_id": "b"},
    ),
    "content id none/empty": (
        {"attachments": (replace(PDF, content_id=None),)},
        {"attachments": (replace(PDF, content_id=""),)},
    ),
    "filename/type": (
        {"attachments": (replace(PDF, filename="ab", content_type="c/d"),)},
        {"attachments": (replace(PDF, filename="a", content_type="bc/d"),)},
    ),
}


@pytest.mark.parametrize(("one", "other"), COLLISIONS.values(), ids=COLLISIONS.keys())
def test_no_concatenation_collisions(one: dict[str, object], other: dict[str, object]) -> None:
    assert message_digest(replace(BASE, **one)) != message_digest(replace(BASE, **other))


def test_lone_surrogate_hashes() -> None:
    assert message_digest(replace(BASE, text="\ud800")) != message_digest(replace(BASE, text="?"))


# Tiny alphabets make near-collisions (shifted boundaries, moved items) likely.
_s = st.text(alphabet="ab@", max_size=3)
_id_side = st.text(alphabet="ab", min_size=1, max_size=3)
_addresses = st.lists(_s, max_size=2).map(tuple)
_attachments = st.builds(
    Attachment,
    filename=_s,
    content_type=_s,
    data=st.binary(max_size=2),
    inline=st.booleans(),
    content_id=st.none() | _s,
)
_messages = st.builds(
    Message,
    sender=_s,
    to=_addresses,
    subject=_s,
    text=_s,
    cc=_addresses,
    bcc=_addresses,
    html=st.none() | _s,
    attachments=st.lists(_attachments, max_size=2).map(tuple),
    headers=st.dictionaries(_s, _s, max_size=2),
    message_id=st.none() | st.builds(MessageId, _id_side, _id_side),
)


_FIELDS = [f.name for f in fields(Message)]
_picks = st.lists(st.booleans(), min_size=len(_FIELDS), max_size=len(_FIELDS))


@settings(max_examples=300)
@given(_messages, _messages, _picks)
def test_equal_digest_iff_equal_message(one: Message, other: Message, picks: list[bool]) -> None:
    """`mixed` takes some fields from `other`: often equal to `one`, or a field or two apart."""
    taken = {name: getattr(other, name) for name, pick in zip(_FIELDS, picks, strict=True) if pick}
    mixed = replace(one, **taken)
    assert (message_digest(one) == message_digest(mixed)) == (one == mixed)
    assert (message_digest(one) == message_digest(other)) == (one == other)
