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

from adapters.errors import ErrorCode, SendError, error
from adapters.idempotency import HEADER, KEY_PATTERN, KEY_RULE
from adapters.message import Attachment, Message
from relayops.spec.errors import format_loc
from relayops.spec.send import SendPolicy, normalize_address

MAX_FILENAME_CHARS = 255  # NTFS and most file systems; Graph attachment names alike
_MEDIA_TYPE = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]*/[a-z0-9][a-z0-9!#$&^_.+-]*$")
_CONTENT_ID = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.@-]{1,250}$")
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
        name = unicodedata.normalize("NFC", value)
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
        if not _CONTENT_ID.match(value):
            raise ValueError(
                "must be 1 to 250 printable ASCII characters without spaces, such as logo@relay"
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
        if any(unicodedata.category(c) == "Cc" and c != "\t" for c in value):
            raise ValueError("must be one line: no CR, LF or other control characters")
        limit = _policy(info).max_subject_chars
        if len(value) > limit:
            raise ValueError(f"{len(value)} characters; at most {limit} are allowed")
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
    found = []
    seen: dict[str, str] = {}
    count, crossed = 0, None
    for name in ("to", "cc", "bcc"):
        for i, address in enumerate(getattr(params, name)):
            where = f"{name}[{i}]"
            first = seen.setdefault(address.casefold(), where)
            if first != where:
                found.append(
                    Violation(
                        where,
                        ErrorCode.VALIDATION_FAILED,
                        f"repeats {first}; list each recipient once",
                    )
                )
            count += 1
            if count == policy.max_recipients + 1:
                crossed = name
    if crossed is not None:
        found.append(
            Violation(
                crossed,
                ErrorCode.VALIDATION_FAILED,
                f"{count} recipients over to, cc and bcc; {provider} accepts at most "
                f"{policy.max_recipients}",
            )
        )
    return found


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
    first = violations[0]
    more = f" (and {len(violations) - 1} more in details)" if len(violations) > 1 else ""
    raise SendError(
        error(
            first.code,
            f"{first.field}: {first.message}{more}",
            field=first.field,
            details=[v.to_dict() for v in violations],
            correlation_id=correlation_id,
        )
    )
