"""What a provider's send path accepts: recipients, subject, attachments, internal-only mode.

Defaults (a provider file may omit `send:` entirely):

- 100 recipients over to + cc + bcc (Gmail's figure; Outlook sets 150);
- subjects up to 998 characters, the RFC 5322 line limit;
- 25 MiB per file and 25 MiB in total, decoded bytes. That is Gmail's attachment limit: base64
  makes it about 33.5 MiB, inside the 35 MB of the upload endpoint. Outlook sets 150 MiB, the limit
  of Graph upload sessions; whether a message goes as one JSON request (under ~3 MB) or through
  upload sessions is the sender's choice, not a validation rule;
- an allow-list of common image, document, Office and archive types (no SVG: it can carry script);
- executables and scripts blocked by extension;
- png, jpeg, gif and webp as inline images;
- internal-only mode off; Outlook keeps a copy in Sent Items;
- https images in the HTML load (`remote_images: allow`; `block`, or `allow_hosts: [...]`).
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from email_validator import EmailNotValidError, validate_email
from pydantic import (
    AfterValidator,
    ByteSize,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from relayops.spec.base import SpecModel

MIB = 1024 * 1024
_TOKEN = r"[a-z0-9][a-z0-9!#$&^_.+-]*"
_MEDIA_TYPE = re.compile(rf"^{_TOKEN}/{_TOKEN}$")
_MEDIA_PATTERN = re.compile(rf"^{_TOKEN}/({_TOKEN}|\*)$")
_EXTENSION = re.compile(r"^\.[a-z0-9]+$")


def normalize_address(text: str) -> str:
    """A bare address as local@domain, the domain lower-cased in its ASCII (IDNA) form.

    Display names, quoted local parts and domain literals are refused. No DNS look-up.
    """
    try:
        found = validate_email(text, check_deliverability=False)
    except EmailNotValidError as exc:
        raise ValueError(f"not a bare address such as name@example.com: {exc}") from None
    return f"{found.local_part}@{found.ascii_domain}"


def _domain(text: str) -> str:
    try:
        return normalize_address(f"postmaster@{text}").partition("@")[2]
    except ValueError:
        raise ValueError("not a valid domain name such as example.com") from None


def _media_pattern(text: str) -> str:
    if not _MEDIA_PATTERN.match(text.lower()):
        raise ValueError("must be a media type such as application/pdf, or image/* for a family")
    return text.lower()


def _image_type(text: str) -> str:
    if not _MEDIA_TYPE.match(text.lower()) or not text.lower().startswith("image/"):
        raise ValueError("inline content types must be image types such as image/png")
    return text.lower()


def _extension(text: str) -> str:
    if not _EXTENSION.match(text.lower()):
        raise ValueError("must be a file extension with its dot, such as .exe")
    return text.lower()


Address = Annotated[str, AfterValidator(normalize_address)]
Domain = Annotated[str, AfterValidator(_domain)]
MediaPattern = Annotated[str, AfterValidator(_media_pattern)]
ImageType = Annotated[str, AfterValidator(_image_type)]
Extension = Annotated[str, AfterValidator(_extension)]

OFFICE = "application/vnd.openxmlformats-officedocument"
DEFAULT_CONTENT_TYPES = (
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/webp",
    "application/pdf",
    "text/plain",
    "text/csv",
    "text/calendar",
    "application/zip",
    "application/msword",
    "application/vnd.ms-excel",
    "application/vnd.ms-powerpoint",
    f"{OFFICE}.wordprocessingml.document",
    f"{OFFICE}.spreadsheetml.sheet",
    f"{OFFICE}.presentationml.presentation",
    "application/vnd.oasis.opendocument.text",
    "application/vnd.oasis.opendocument.spreadsheet",
    "application/vnd.oasis.opendocument.presentation",
)
# fmt: off
DEFAULT_BLOCKED_EXTENSIONS = (
    ".bat", ".cmd", ".com", ".cpl", ".dll", ".exe", ".hta", ".img", ".iso", ".jar", ".js", ".jse",
    ".lnk", ".msi", ".msp", ".pif", ".ps1", ".psm1", ".reg", ".scr", ".vb", ".vbe", ".vbs", ".ws",
    ".wsc", ".wsf", ".wsh",
)
# fmt: on
DEFAULT_INLINE_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp")


def _unique(values: tuple[str, ...]) -> tuple[str, ...]:
    repeated = sorted({v for v in values if values.count(v) > 1})
    if repeated:
        raise ValueError(f"{repeated} appear more than once; list each once")
    return values


class InternalOnly(SpecModel):
    """Internal-only mode: send only to these domains and test recipients."""

    enabled: bool = False
    allowed_domains: tuple[Domain, ...] = ()
    include_subdomains: bool = Field(
        default=False, description="Also allow any subdomain of an allowed domain."
    )
    test_recipients: tuple[Address, ...] = ()

    @field_validator("allowed_domains", "test_recipients")
    @classmethod
    def _no_repeats(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        return _unique(values)

    @model_validator(mode="after")
    def _reachable(self) -> InternalOnly:
        if self.enabled and not self.allowed_domains and not self.test_recipients:
            raise ValueError(
                "enabled internal-only mode allows no one: list allowed_domains or "
                "test_recipients, or set enabled: false"
            )
        return self


class RemoteImageHosts(SpecModel):
    """Load https images from these hosts only."""

    allow_hosts: tuple[Domain, ...] = Field(min_length=1)

    @field_validator("allow_hosts")
    @classmethod
    def _no_repeats(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        return _unique(values)


class SendPolicy(SpecModel):
    """Validation limits of one provider's send path."""

    sender: Address | None = Field(
        default=None, description="The adapter's From mailbox; None: the authenticated one."
    )
    max_recipients: int = Field(default=100, ge=1, description="Over to + cc + bcc.")
    max_subject_chars: int = Field(default=998, ge=1, le=998)
    max_attachment_bytes: ByteSize = Field(default=ByteSize(25 * MIB), gt=0)
    max_total_bytes: ByteSize = Field(
        default=ByteSize(25 * MIB),
        gt=0,
        validate_default=True,  # a raised max_attachment_bytes must not exceed the default
        description="Attachments and inline images together.",
    )
    allowed_content_types: tuple[MediaPattern, ...] = Field(
        default=DEFAULT_CONTENT_TYPES, min_length=1
    )
    blocked_extensions: tuple[Extension, ...] = DEFAULT_BLOCKED_EXTENSIONS
    inline_content_types: tuple[ImageType, ...] = DEFAULT_INLINE_TYPES
    internal_only: InternalOnly = Field(default_factory=InternalOnly)
    save_to_sent_items: bool = Field(
        default=True, description="Outlook only (Graph saveToSentItems); Gmail always saves."
    )
    remote_images: Literal["allow", "block"] | RemoteImageHosts = Field(
        default="allow",
        description="Which https images in the HTML may load: allow (all; Gmail and Outlook "
        "proxy them anyway), block, or {allow_hosts: [...]}. Plain http images never load.",
    )

    @field_validator("remote_images", mode="before")
    @classmethod
    def _one_of_three(cls, value: object) -> object:
        """One message naming the three forms, instead of one per member of the union."""
        if value in ("allow", "block") or isinstance(value, RemoteImageHosts):
            return value
        if isinstance(value, dict) and set(value) == {"allow_hosts"}:
            return value
        raise ValueError("must be allow, block or {allow_hosts: [host, ...]}")

    @property
    def allows_every_remote_image(self) -> bool:
        return self.remote_images == "allow"

    @property
    def remote_image_hosts(self) -> frozenset[str]:
        """The hosts images may load from when not every one may."""
        if isinstance(self.remote_images, RemoteImageHosts):
            return frozenset(self.remote_images.allow_hosts)
        return frozenset()

    @field_validator("allowed_content_types", "blocked_extensions", "inline_content_types")
    @classmethod
    def _no_repeats(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        return _unique(values)

    @field_validator("max_total_bytes")
    @classmethod
    def _total_holds_one_file(cls, total: ByteSize, info: ValidationInfo) -> ByteSize:
        per_file = info.data.get("max_attachment_bytes")
        if per_file is not None and total < per_file:
            raise ValueError(
                f"max_total_bytes ({total.human_readable()}) is smaller than "
                f"max_attachment_bytes ({per_file.human_readable()}); raise it to at least "
                "max_attachment_bytes"
            )
        return total

    def allows_content_type(self, content_type: str) -> bool:
        """Whether a lower-case type/subtype matches an allowed pattern (exact or type/*)."""
        family = content_type.partition("/")[0]
        return any(p in (content_type, f"{family}/*") for p in self.allowed_content_types)

    def blocked_extension(self, filename: str) -> str | None:
        """The blocked extension of `filename`, case-insensitive, or None.

        Only the last extension runs, so report.pdf.exe is caught; trailing dots and spaces
        are dropped first, as Windows does.
        """
        name = filename.rstrip(". ").lower()
        extension = name[name.rfind(".") :] if "." in name else ""
        return extension if extension in self.blocked_extensions else None
