"""validate_params: every rule, valid and invalid, each violation naming its field."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from relayops.adapters.errors import ErrorCode, SendError
from relayops.adapters.message import Attachment
from relayops.adapters.params import SendParams, validate_params
from relayops.spec import load_specs
from relayops.spec.send import SendPolicy
from tests.specs_util import SPECS

SPECSET = load_specs(SPECS)
GMAIL = SPECSET.provider("gmail").send
OUTLOOK = SPECSET.provider("outlook").send
PDF = base64.b64encode(b"%PDF-1.7 a small file").decode()
PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n tiny").decode()


def payload(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"to": ["anna@example.com"], "subject": "Hello", "text": "Hi Anna"}
    base.update(changes)
    return base


def attachment(**changes: Any) -> dict[str, Any]:
    return {"data": PDF, "filename": "report.pdf", "content_type": "application/pdf", **changes}


def image(**changes: Any) -> dict[str, Any]:
    return {
        "data": PNG,
        "filename": "logo.png",
        "content_type": "image/png",
        "content_id": "logo@relay",
        **changes,
    }


def refused(body: Any, policy: SendPolicy = GMAIL, provider: str = "gmail") -> SendError:
    with pytest.raises(SendError) as caught:
        validate_params(body, policy, provider)
    return caught.value


def addresses(count: int) -> list[str]:
    return [f"user{i}@example.com" for i in range(count)]


# --- valid payloads ------------------------------------------------------------------------


def test_minimal_payload_becomes_a_message():
    message = validate_params(payload(), GMAIL, "gmail")
    assert message.to == ("anna@example.com",)
    assert (message.cc, message.bcc, message.attachments) == ((), (), ())
    assert (message.subject, message.text, message.html) == ("Hello", "Hi Anna", None)
    assert message.sender == ""


def test_sender_comes_from_the_argument_then_the_policy():
    policy = SendPolicy(sender="relay@example.com")
    assert validate_params(payload(), policy, "gmail").sender == "relay@example.com"
    assert validate_params(payload(), policy, "gmail", sender="x@example.org").sender == (
        "x@example.org"
    )


def test_non_ascii_addresses_keep_the_local_part_and_get_an_idna_domain():
    message = validate_params(
        payload(to=["Anna@BÜCHER.example"], cc=["josé@bücher.example"], bcc=["zoë@example.com"]),
        GMAIL,
        "gmail",
    )
    assert message.to == ("Anna@xn--bcher-kva.example",)
    assert message.cc == ("josé@xn--bcher-kva.example",)
    assert message.bcc == ("zoë@example.com",)
    assert message.recipients == (*message.to, *message.cc, *message.bcc)


def test_non_ascii_subject_and_file_names_are_kept_nfc():
    decomposed = "Re\u0301sume\u0301 - Ünïcode.pdf"
    message = validate_params(
        payload(subject="Grüße - 你好\tzusammen", attachments=[attachment(filename=decomposed)]),
        GMAIL,
        "gmail",
    )
    assert message.subject == "Grüße - 你好\tzusammen"
    assert message.attachments[0].filename == "Résumé - Ünïcode.pdf"


def test_attachments_and_inline_images_become_attachments():
    message = validate_params(
        payload(
            html='<p>Hi</p><img src="cid:logo@relay">',
            attachments=[attachment(content_type="Application/PDF")],
            inline=[image()],
        ),
        OUTLOOK,
        "outlook",
    )
    assert message.files == (Attachment("report.pdf", "application/pdf", b"%PDF-1.7 a small file"),)
    assert message.inline == (
        Attachment("logo.png", "image/png", b"\x89PNG\r\n\x1a\n tiny", True, "logo@relay"),
    )


def test_line_wrapped_base64_is_accepted():
    wrapped = base64.encodebytes(b"x" * 200).decode()
    assert "\n" in wrapped
    message = validate_params(payload(attachments=[attachment(data=wrapped)]), GMAIL, "gmail")
    assert message.attachments[0].data == b"x" * 200


def test_subject_of_998_characters_and_empty_text_are_fine():
    message = validate_params(payload(subject="s" * 998, text=""), GMAIL, "gmail")
    assert len(message.subject) == 998


def test_policy_limits_hold_exactly_at_the_boundary():
    policy = SendPolicy(max_attachment_bytes=8, max_total_bytes=16)
    eight = base64.b64encode(b"12345678").decode()
    body = payload(attachments=[attachment(data=eight)], html="<p/>", inline=[image(data=eight)])
    assert len(validate_params(body, policy, "gmail").attachments) == 2


def test_wildcard_content_types_in_the_policy_allow_a_family():
    policy = SendPolicy(allowed_content_types=("image/*",))
    body = payload(attachments=[attachment(filename="scan.bmp", content_type="image/bmp")])
    assert validate_params(body, policy, "outlook").attachments[0].content_type == "image/bmp"


# --- recipients ------------------------------------------------------------------------------


def test_gmail_refuses_101_recipients_and_outlook_takes_150():
    everyone = addresses(101)
    body = payload(to=everyone[:60], cc=everyone[60:100], bcc=everyone[100:])
    failure = refused(body).error
    assert (failure.error_code, failure.field) == (ErrorCode.VALIDATION_FAILED, "bcc")
    assert "101 recipients" in failure.message and "gmail accepts at most 100" in failure.message
    assert len(validate_params(payload(to=addresses(100)), GMAIL, "gmail").to) == 100
    assert len(validate_params(payload(to=addresses(150)), OUTLOOK, "outlook").to) == 150
    failure = refused(payload(to=addresses(151)), OUTLOOK, "outlook").error
    assert failure.field == "to" and "at most 150" in failure.message


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"to": ["anna@example.com", "ANNA@Example.com"]}, "to[1]"),
        ({"cc": ["bob@example.com"], "bcc": ["Anna@EXAMPLE.COM"]}, "bcc[0]"),
        ({"cc": ["anna@example.com"]}, "cc[0]"),
    ],
)
def test_repeated_recipients_are_refused_not_dropped(changes, field):
    failure = refused(payload(**changes)).error
    assert failure.field == field
    assert "repeats to[0]" in failure.message


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"to": []}, "to", "at least one recipient"),
        ({"to": "anna@example.com"}, "to", "must be a list"),
        ({"to": [42]}, "to[0]", "must be a string"),
        ({"to": ["Anna Smith <anna@example.com>"]}, "to[0]", "display name"),
        ({"to": ['"Anna" anna@example.com']}, "to[0]", "bare address"),
        ({"cc": ["anna@example.com\r\nBcc: evil@example.net"]}, "cc[0]", "bare address"),
        ({"cc": ["not-an-address"]}, "cc[0]", "@-sign"),
        ({"bcc": ["anna@-bad.example"]}, "bcc[0]", "bare address"),
        ({"bcc": ["anna@localhost"]}, "bcc[0]", "period"),
    ],
)
def test_bad_recipients_name_the_field(changes, field, words):
    failure = refused(payload(**changes)).error
    assert (failure.error_code, failure.field) == (ErrorCode.VALIDATION_FAILED, field)
    assert words in failure.message


def test_to_is_required():
    body = payload()
    del body["to"]
    assert refused(body).error.field == "to"


# --- subject, body, shape ------------------------------------------------------------------


@pytest.mark.parametrize(
    "subject",
    ["Hello\r\nBcc: evil@example.net", "Hello\nthere", "Hello\rthere", "nul\x00byte", "\x7f"],
)
def test_subject_header_injection_is_refused(subject):
    failure = refused(payload(subject=subject)).error
    assert failure.field == "subject" and "control or invisible" in failure.message


def test_subject_longer_than_998_characters_is_refused():
    failure = refused(payload(subject="s" * 999)).error
    assert failure.field == "subject" and "at most 998" in failure.message


def test_policy_can_lower_the_subject_limit():
    failure = refused(payload(subject="s" * 11), SendPolicy(max_subject_chars=10)).error
    assert failure.field == "subject" and "at most 10" in failure.message


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({"to": ["anna@example.com"], "text": "x"}, "subject", "required"),
        (payload(text=None), "text", "must be a string"),
        (payload(html=b"<p>"), "html", "must be a string"),
        (payload(subjct="typo"), "subjct", "unknown field"),
        (payload(attachments=[attachment(size=3)]), "attachments[0].size", "unknown field"),
        (payload(attachments=["report.pdf"]), "attachments[0]", "must be an object"),
        (["anna@example.com"], "payload", "must be an object"),
    ],
)
def test_shape_errors_name_the_field(body, field, words):
    failure = refused(body).error
    assert failure.field == field and words in failure.message


# --- attachments -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "words"),
    [
        ("this is not base64!", "not valid base64"),
        ("QUJD=", "not valid base64"),
        ("QUJ", "not valid base64"),
        ("QUJD-_==", "not valid base64"),
        ("", "empty (0 bytes)"),
        ("  \n", "empty (0 bytes)"),
        (12345, "base64 string"),
    ],
)
def test_bad_base64_and_empty_files_are_refused(data, words):
    failure = refused(payload(attachments=[attachment(data=data)])).error
    assert (failure.error_code, failure.field) == (
        ErrorCode.VALIDATION_FAILED,
        "attachments[0].data",
    )
    assert words in failure.message


@pytest.mark.parametrize(
    ("filename", "words"),
    [
        ("setup.exe", "type .exe are blocked"),
        ("invoice.pdf.exe", "type .exe are blocked"),
        ("INVOICE.PDF.EXE", "type .exe are blocked"),
        ("macro.vbs", "type .vbs are blocked"),
        ("run.Ps1", "type .ps1 are blocked"),
        ("../../etc/passwd", "path separators"),
        ("..\\..\\boot.ini", "path separators"),
        ("C:report.pdf", "path separators"),
        ("/etc/passwd", "path separators"),
        ("..", "start with a dot"),
        (".bashrc", "start with a dot"),
        ("report.pdf.", "end with a dot or a space"),
        ("report.pdf ", "end with a dot or a space"),
        ("bad\x00name.pdf", "control or invisible"),
        ("line\nbreak.pdf", "control or invisible"),
        ("invoice\u202efdp.txt", "control or invisible"),
        ("", "must not be empty"),
        ("   ", "must not be empty"),
        ("a" * 252 + ".pdf", "longer than 255"),
    ],
)
def test_unsafe_or_blocked_file_names_are_refused(filename, words):
    failure = refused(payload(attachments=[attachment(), attachment(filename=filename)])).error
    assert (failure.error_code, failure.field) == (
        ErrorCode.VALIDATION_FAILED,
        "attachments[1].filename",
    )
    assert words in failure.message


def test_file_name_of_255_characters_is_fine():
    name = "a" * 251 + ".pdf"
    message = validate_params(payload(attachments=[attachment(filename=name)]), GMAIL, "gmail")
    assert message.attachments[0].filename == name


@pytest.mark.parametrize(
    ("content_type", "words"),
    [
        ("application/x-msdownload", "not an allowed attachment type"),
        ("image/svg+xml", "not an allowed attachment type"),
        ("text/html", "not an allowed attachment type"),
        ("pdf", "bare media type"),
        ("text/plain; charset=utf-8", "bare media type"),
        ("application/pdf\r\nX-Evil: 1", "bare media type"),
    ],
)
def test_content_types_outside_the_allow_list_are_refused(content_type, words):
    failure = refused(payload(attachments=[attachment(content_type=content_type)])).error
    assert failure.field == "attachments[0].content_type" and words in failure.message


def test_a_file_over_the_per_file_limit_is_too_large():
    policy = SendPolicy(max_attachment_bytes=10, max_total_bytes=100)
    eleven = base64.b64encode(b"x" * 11).decode()
    failure = refused(payload(attachments=[attachment(data=eleven)]), policy, "outlook").error
    assert (failure.error_code, failure.field) == (ErrorCode.TOO_LARGE, "attachments[0].data")
    assert "per-file limit of outlook" in failure.message


def test_a_huge_file_is_refused_before_decoding():
    huge = "A" * (26 * 1024 * 1024 * 4 // 3)
    failure = refused(payload(attachments=[attachment(data=huge)])).error
    assert (failure.error_code, failure.field) == (ErrorCode.TOO_LARGE, "attachments[0].data")
    assert "25.0MiB" in failure.message


def test_files_over_the_total_limit_are_too_large_where_the_total_is_crossed():
    policy = SendPolicy(max_attachment_bytes=8, max_total_bytes=15)
    eight = base64.b64encode(b"12345678").decode()
    body = payload(html="<p/>", attachments=[attachment(data=eight)], inline=[image(data=eight)])
    failure = refused(body, policy, "gmail").error
    assert (failure.error_code, failure.field) == (ErrorCode.TOO_LARGE, "inline[0]")
    assert "total 16B" in failure.message and "at most 15B per message" in failure.message


# --- inline images ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"content_type": "application/pdf"}, "inline[0].content_type", "inline image type"),
        ({"content_type": "image/svg+xml"}, "inline[0].content_type", "inline image type"),
        ({"content_type": "image/bmp"}, "inline[0].content_type", "inline image type"),
        ({"content_id": "<logo@relay>"}, "inline[0].content_id", "angle brackets"),
        ({"content_id": "logo relay"}, "inline[0].content_id", "without spaces"),
        ({"content_id": ""}, "inline[0].content_id", "1 to 250"),
        ({"content_id": "logo\r\nX: y"}, "inline[0].content_id", "printable ASCII"),
        ({"filename": "logo.exe"}, "inline[0].filename", "blocked"),
    ],
)
def test_bad_inline_images_are_refused(changes, field, words):
    failure = refused(payload(html="<p/>", inline=[image(**changes)])).error
    assert failure.field == field and words in failure.message


def test_inline_image_without_content_id_is_refused():
    bare = image()
    del bare["content_id"]
    failure = refused(payload(html="<p/>", inline=[bare])).error
    assert failure.field == "inline[0].content_id" and "required" in failure.message


def test_inline_images_need_an_html_body():
    failure = refused(payload(inline=[image()])).error
    assert failure.field == "inline" and "html body" in failure.message


def test_content_ids_must_be_unique():
    body = payload(html="<p/>", inline=[image(), image(filename="other.png")])
    failure = refused(body).error
    assert failure.field == "inline[1].content_id" and "repeats inline[0]" in failure.message


def test_every_allowed_inline_type_passes():
    images = [
        image(content_type=kind, content_id=f"img{i}", filename=f"img{i}.{kind[6:]}")
        for i, kind in enumerate(GMAIL.inline_content_types)
    ]
    message = validate_params(payload(html="<p/>", inline=images), GMAIL, "gmail")
    assert [a.content_type for a in message.inline] == list(GMAIL.inline_content_types)


# --- the structured error --------------------------------------------------------------------


def test_every_violation_is_listed_and_the_first_names_the_field():
    body = payload(
        to=["Anna <anna@example.com>"],
        subject="Hi\r\nBcc: x@example.net",
        attachments=[
            attachment(data="@@@", filename="../x.pdf"),
            attachment(content_type="application/x-sh"),
        ],
        inline=[image(content_type="application/pdf")],
        extra=True,
    )
    failure = refused(body).error
    fields = [d["field"] for d in failure.details]
    assert fields == [
        "to[0]",
        "subject",
        "attachments[0].data",
        "attachments[0].filename",
        "attachments[1].content_type",
        "inline[0].content_type",
        "extra",
    ]
    assert failure.field == "to[0]" and failure.error_code is ErrorCode.VALIDATION_FAILED
    assert failure.message.startswith("to[0]: ") and "6 more in details" in failure.message
    assert {d["error_code"] for d in failure.details} == {"validation_failed"}
    assert all(d["message"] for d in failure.details)


def test_cross_field_rules_are_all_listed_too():
    body = payload(to=addresses(99), cc=["user0@example.com"], inline=[image()])
    failure = refused(body).error
    assert [d["field"] for d in failure.details] == ["cc[0]", "inline"]


def test_mixed_codes_keep_their_own_code_in_details():
    policy = SendPolicy(max_attachment_bytes=4, max_total_bytes=4)
    body = payload(subject="a\nb", attachments=[attachment()])
    failure = refused(body, policy).error
    assert failure.error_code is ErrorCode.VALIDATION_FAILED
    assert [(d["field"], d["error_code"]) for d in failure.details] == [
        ("subject", "validation_failed"),
        ("attachments[0].data", "too_large"),
    ]


def test_structured_error_carries_taxonomy_fields_and_the_correlation_id():
    with pytest.raises(SendError) as caught:
        validate_params(payload(to=[]), GMAIL, "gmail", correlation_id="req-7")
    shape = caught.value.error.to_dict()
    assert shape["correlation_id"] == "req-7"
    assert (shape["source"], shape["retriable"]) == ("validation", False)
    assert shape["remediation"]


def test_send_params_validate_without_a_policy_using_the_defaults():
    params = SendParams.model_validate(payload(attachments=[attachment()]))
    assert params.attachments[0].data == b"%PDF-1.7 a small file"
