"""The send payload both actions accept, validated against the provider's send policy.

`validate_params` turns a caller's payload into a `Message` or raises a `SendError` whose
`details` list every violation (field, error_code, message) and whose `field` names the first.
Rules of one field run together; rules spanning fields (duplicate recipients, the recipient
count, the total size, content ids) run once every field is valid on its own.

Decisions: a recipient is a bare address (no display name), its domain lower-cased in IDNA
form; a recipient listed twice, in one field or across to/cc/bcc, is refused, not dropped;
content types are a bare type/subtype; base64 is the standard alphabet, line breaks allowed;
only a file's last extension decides whether it is blocked (report.pdf.exe is).
"""

from __future__ import annotations

import binascii
import re
import unicodedata
from dataclasses import dataclass, replace
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ByteSize,
    ConfigDict,
    StrictStr,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic_core import PydanticCustomError

from relayops.adapters.errors import ErrorCode, SendError, StructuredError, error
from relayops.adapters.header_text import (
    ENCODED_WORD_START,
    decode_checked,
    decoded_parameter,
    decoded_text,
)
from relayops.adapters.idempotency import HEADER, KEY_PATTERN, KEY_RULE
from relayops.adapters.message import Attachment, Message
from relayops.spec.errors import format_loc
from relayops.spec.send import SendPolicy, normalize_address

MAX_DETAILS = 50  # violations listed in an error's details; the message gives the count
MAX_FILENAME_CHARS = 255  # NTFS and most file systems; Graph attachment names alike
_MEDIA_TYPE = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]*/[a-z0-9][a-z0-9!#$&^_.+-]*$")
_CONTENT_ID = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.@-]{1,250}")
_PATH_CHARS = ("/", "\\", ":")
_INVISIBLE = {"Cc", "Cf", "Zl", "Zp"}  # controls, bidi overrides, line and paragraph separators
_HINTS = {
    "missing": "required: add it",
    "extra_forbidden": "unknown field: remove it or fix its spelling",
    "string_type": "must be a string",
    "tuple_type": "must be a list",
    "model_type": "must be an object",
}


def _policy(info: ValidationInfo) -> SendPolicy:
    return (info.context or {}).get("policy") or SendPolicy()


def _provider(info: ValidationInfo) -> str:
    return (info.context or {}).get("provider", "the provider")


def _size(n: int) -> str:
    return ByteSize(n).human_readable()


def _too_large(message: str) -> PydanticCustomError:
    """Size violations carry their own error type, reported as too_large."""
    return PydanticCustomError(ErrorCode.TOO_LARGE.value, message)


Address = Annotated[StrictStr, AfterValidator(normalize_address)]


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FileParams(_Params):
    """An attachment: base64 data, a safe file name, an allowed content type."""

    data: bytes
    filename: StrictStr
    content_type: StrictStr

    @field_validator("data", mode="before")
    @classmethod
    def _decode(cls, value: Any, info: ValidationInfo) -> bytes:
        if not isinstance(value, str):
            raise ValueError("must be a base64 string")
        text = "".join(value.split())
        limit = _policy(info).max_attachment_bytes
        if len(text) * 3 // 4 > limit + 2:
            raise _too_large(f"larger than {_size(limit)}, the per-file limit of {_provider(info)}")
        try:
            if len(text) % 4:
                raise ValueError
            data = binascii.a2b_base64(text, strict_mode=True)
        except ValueError:
            raise ValueError("not valid base64 (standard alphabet, with padding)") from None
        if not data:
            raise ValueError("the file is empty (0 bytes); attach a file with content")
        if len(data) > limit:
            raise _too_large(
                f"{_size(len(data))} is larger than {_size(limit)}, the per-file limit of "
                f"{_provider(info)}"
            )
        return data

    @field_validator("filename")
    @classmethod
    def _safe_filename(cls, value: str, info: ValidationInfo) -> str:
        """Judged, and sent, as the recipient's client decodes it (RFC 2047 encoded words)."""
        name = unicodedata.normalize("NFC", decode_checked(value, decoded_parameter))
        if not name.strip():
            raise ValueError("must not be empty")
        if len(name) > MAX_FILENAME_CHARS:
            raise ValueError(f"longer than {MAX_FILENAME_CHARS} characters; shorten it")
        if any(c in name for c in _PATH_CHARS):
            raise ValueError("must be a bare file name: no path separators (/, \\ or :)")
        if any(unicodedata.category(c) in _INVISIBLE for c in name):
            raise ValueError("contains control or invisible formatting characters; remove them")
        if name.startswith("."):
            raise ValueError("must not start with a dot")
        if name.endswith((".", " ")):
            raise ValueError("must not end with a dot or a space")
        blocked = _policy(info).blocked_extension(name)
        if blocked:
            raise ValueError(f"files of type {blocked} are blocked (executables and scripts)")
        return name

    @field_validator("content_type")
    @classmethod
    def _allowed_type(cls, value: str, info: ValidationInfo) -> str:
        kind = value.strip().lower()
        if not _MEDIA_TYPE.match(kind):
            raise ValueError("must be a bare media type such as application/pdf, no parameters")
        if not cls._allows(_policy(info), kind):
            raise ValueError(f"{kind} is not an allowed {cls._what()} type")
        return kind

    @classmethod
    def _allows(cls, policy: SendPolicy, content_type: str) -> bool:
        return policy.allows_content_type(content_type)

    @classmethod
    def _what(cls) -> str:
        return "attachment"


class InlineParams(FileParams):
    """An inline image, referenced from the HTML body as cid:<content_id>."""

    content_id: StrictStr

    @field_validator("content_id")
    @classmethod
    def _content_id(cls, value: str) -> str:
        if value.startswith("<") and value.endswith(">"):
            raise ValueError("give the content id without angle brackets")
        if not _CONTENT_ID.fullmatch(value) or ENCODED_WORD_START in value:
            raise ValueError(
                "must be 1 to 250 printable ASCII characters without spaces and without '=?', "
                "such as logo@relay"
            )
        return value

    @classmethod
    def _allows(cls, policy: SendPolicy, content_type: str) -> bool:
        return content_type in policy.inline_content_types

    @classmethod
    def _what(cls) -> str:
        return "inline image"


class SendParams(_Params):
    """The payload of gmail.send and outlook.send alike."""

    to: tuple[Address, ...]
    cc: tuple[Address, ...] = ()
    bcc: tuple[Address, ...] = ()
    subject: StrictStr
    text: StrictStr
    html: StrictStr | None = None
    attachments: tuple[FileParams, ...] = ()
    inline: tuple[InlineParams, ...] = ()
    idempotency_key: StrictStr | None = None  # the same for every retry of one send

    @field_validator("to")
    @classmethod
    def _someone(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("at least one recipient is required")
        return value

    @field_validator("subject")
    @classmethod
    def _subject(cls, value: str, info: ValidationInfo) -> str:
        """The subject as the recipient's client shows it: encoded words decoded, leading
        white space dropped (every mail parser drops it after the colon)."""
        subject = decode_checked(value, decoded_text).lstrip(" \t")
        limit = _policy(info).max_subject_chars
        if len(subject) > limit:
            raise ValueError(f"{len(subject)} characters; at most {limit} are allowed")
        return subject

    @field_validator("text", "html")
    @classmethod
    def _no_nul(cls, value: str | None) -> str | None:
        if value is not None and "\x00" in value:
            raise ValueError(
                "contains NUL (U+0000) characters, which mail cannot carry; remove them"
            )
        return value

    @field_validator("idempotency_key")
    @classmethod
    def _key(cls, value: str | None) -> str | None:
        if value is not None and not KEY_PATTERN.fullmatch(value):
            raise ValueError(f"must be {KEY_RULE}")
        return value


@dataclass(frozen=True)
class Violation:
    field: str
    code: Literal[ErrorCode.VALIDATION_FAILED, ErrorCode.TOO_LARGE]
    message: str

    def to_dict(self) -> dict[str, str]:
        return {"field": self.field, "error_code": self.code.value, "message": self.message}


def _from_pydantic(exc: ValidationError) -> list[Violation]:
    found = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        code = ErrorCode.TOO_LARGE if err["type"] == "too_large" else ErrorCode.VALIDATION_FAILED
        message = _HINTS.get(err["type"]) or err["msg"].removeprefix("Value error, ")
        found.append(Violation(format_loc(loc) if loc else "payload", code, message))
    return found


def _recipient_rules(params: SendParams, policy: SendPolicy, provider: str) -> list[Violation]:
    """A recipient listed more than once is one violation naming every place it appears."""
    places: dict[str, list[str]] = {}
    for name in ("to", "cc", "bcc"):
        for i, address in enumerate(getattr(params, name)):
            places.setdefault(address.casefold(), []).append(f"{name}[{i}]")
    return [
        Violation(
            where[1],
            ErrorCode.VALIDATION_FAILED,
            f"repeats {where[0]}{_places(where[2:])}; list each recipient once",
        )
        for where in places.values()
        if len(where) > 1
    ]


def _places(more: list[str]) -> str:
    if not more:
        return ""
    shown = ", ".join(more[:3])
    return f" (also at {shown}{', …' if len(more) > 3 else ''})"


def _too_many_recipients(
    payload: dict[str, Any], policy: SendPolicy, provider: str
) -> Violation | None:
    """Counted on the raw payload before any address is parsed, so a payload of ten thousand
    recipients is refused at once."""
    if not isinstance(payload, dict):
        return None
    count, crossed = 0, None
    for name in ("to", "cc", "bcc"):
        value = payload.get(name)
        count += len(value) if isinstance(value, list | tuple) else 0
        if crossed is None and count > policy.max_recipients:
            crossed = name
    if crossed is None:
        return None
    return Violation(
        crossed,
        ErrorCode.VALIDATION_FAILED,
        f"{count} recipients over to, cc and bcc; {provider} accepts at most "
        f"{policy.max_recipients}",
    )


def _file_rules(params: SendParams, policy: SendPolicy, provider: str) -> list[Violation]:
    found = []
    if params.inline and params.html is None:
        found.append(
            Violation(
                "inline",
                ErrorCode.VALIDATION_FAILED,
                "inline images need an html body that shows them as cid:<content_id>",
            )
        )
    ids: dict[str, int] = {}
    for i, image in enumerate(params.inline):
        first = ids.setdefault(image.content_id, i)
        if first != i:
            found.append(
                Violation(
                    f"inline[{i}].content_id",
                    ErrorCode.VALIDATION_FAILED,
                    f"repeats inline[{first}].content_id; give each inline image its own",
                )
            )
    files = [(f"attachments[{i}]", a) for i, a in enumerate(params.attachments)]
    files += [(f"inline[{i}]", a) for i, a in enumerate(params.inline)]
    total = sum(len(f.data) for _, f in files)
    running = 0
    for where, item in files:
        running += len(item.data)
        if running > policy.max_total_bytes:
            found.append(
                Violation(
                    where,
                    ErrorCode.TOO_LARGE,
                    f"attachments and inline images total {_size(total)}; {provider} accepts "
                    f"at most {_size(policy.max_total_bytes)} per message",
                )
            )
            break
    return found


def _to_message(params: SendParams, sender: str) -> Message:
    files = tuple(
        Attachment(filename=a.filename, content_type=a.content_type, data=a.data)
        for a in params.attachments
    )
    images = tuple(
        Attachment(
            filename=a.filename,
            content_type=a.content_type,
            data=a.data,
            inline=True,
            content_id=a.content_id,
        )
        for a in params.inline
    )
    message = Message(
        sender=sender,
        to=params.to,
        cc=params.cc,
        bcc=params.bcc,
        subject=params.subject,
        text=params.text,
        html=params.html,
        attachments=files + images,
    )
    if params.idempotency_key is None:
        return message
    return replace(message, headers={HEADER: params.idempotency_key})


def validate_params(
    payload: dict[str, Any],
    policy: SendPolicy,
    provider_name: str,
    *,
    sender: str | None = None,
    correlation_id: str | None = None,
) -> Message:
    """The payload as a Message, or SendError listing every violation.

    The From is `sender`, else the policy's sender, else empty: the provider then uses the
    authenticated mailbox. The HTML is not sanitized here.
    """
    crowd = _too_many_recipients(payload, policy, provider_name)
    if crowd is not None:
        raise SendError(_refusal([crowd], correlation_id))
    try:
        params = SendParams.model_validate(
            payload, context={"policy": policy, "provider": provider_name}
        )
    except ValidationError as exc:
        violations = _from_pydantic(exc)
    else:
        violations = _recipient_rules(params, policy, provider_name)
        violations += _file_rules(params, policy, provider_name)
        if not violations:
            return _to_message(params, sender or policy.sender or "")
    raise SendError(_refusal(violations, correlation_id))


def _refusal(violations: list[Violation], correlation_id: str | None) -> StructuredError:
    """One error for all violations; details list at most MAX_DETAILS of them."""
    first = violations[0]
    more = f" (and {len(violations) - 1} more in details)" if len(violations) > 1 else ""
    details = [v.to_dict() for v in violations[:MAX_DETAILS]]
    if len(violations) > MAX_DETAILS:
        details.append(
            {
                "field": "payload",
                "error_code": ErrorCode.VALIDATION_FAILED.value,
                "message": f"{len(violations) - MAX_DETAILS} more problems not listed; fix "
                "the ones above and send again",
            }
        )
    return error(
        first.code,
        f"{first.field}: {first.message}{more}",
        field=first.field,
        details=details,
        correlation_id=correlation_id,
    )
