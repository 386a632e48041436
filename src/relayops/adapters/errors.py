"""Structured errors returned to callers, and the taxonomy of their codes.

The codes are those of the metric catalog's structured_errors counter (specs/service.yaml);
tests/adapters/test_structured_errors.py holds the taxonomy equal to the catalog. Each code
fixes its `source` label, the coarse `reason` of action_error_total, whether a retry can
succeed and what the caller should do.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import Any, Literal

Source = Literal["validation", "policy", "provider", "internal"]
Reason = Literal["validation", "policy", "throttled", "provider", "auth", "internal"]


class ErrorCode(StrEnum):
    VALIDATION_FAILED = "validation_failed"
    INTERNAL_ONLY_BLOCKED = "internal_only_blocked"
    ROLLOUT_GATE_CLOSED = "rollout_gate_closed"
    THROTTLED = "throttled"
    PROVIDER_UNAVAILABLE = "provider_unavailable"
    AUTH_RECONNECT_REQUIRED = "auth_reconnect_required"
    PERMISSION_DENIED = "permission_denied"
    INVALID_RECIPIENT = "invalid_recipient"
    TOO_LARGE = "too_large"
    QUOTA_EXCEEDED = "quota_exceeded"
    AMBIGUOUS_MAY_HAVE_SENT = "ambiguous_may_have_sent"
    INTERNAL_ERROR = "internal_error"

    @property
    def kind(self) -> CodeKind:
        return TAXONOMY[self]


@dataclass(frozen=True)
class CodeKind:
    source: Source
    reason: Reason  # the reason label of action_error_total
    retriable: bool  # the same request, unchanged, may succeed later
    remediation: str


TAXONOMY: Mapping[ErrorCode, CodeKind] = MappingProxyType(
    {
        ErrorCode.VALIDATION_FAILED: CodeKind(
            "validation",
            "validation",
            False,
            "Fix the fields listed in details and send again.",
        ),
        ErrorCode.INTERNAL_ONLY_BLOCKED: CodeKind(
            "policy",
            "policy",
            False,
            "Internal-only mode is on: send only to allowed domains or test recipients.",
        ),
        ErrorCode.ROLLOUT_GATE_CLOSED: CodeKind(
            "policy",
            "policy",
            False,
            "This send path is not enabled for you yet; use the previous path meanwhile.",
        ),
        ErrorCode.THROTTLED: CodeKind(
            "provider",
            "throttled",
            True,
            "The provider is rate limiting: retry after the delay in details, with backoff.",
        ),
        ErrorCode.PROVIDER_UNAVAILABLE: CodeKind(
            "provider",
            "provider",
            True,
            "The provider failed or timed out: retry with exponential backoff.",
        ),
        ErrorCode.AUTH_RECONNECT_REQUIRED: CodeKind(
            "provider",
            "auth",
            False,
            "The mailbox authorization expired or was revoked: reconnect the account.",
        ),
        ErrorCode.PERMISSION_DENIED: CodeKind(
            "provider",
            "auth",
            False,
            "The account lacks a permission this send needs: reconnect granting it, or ask "
            "an administrator.",
        ),
        ErrorCode.INVALID_RECIPIENT: CodeKind(
            "provider",
            "provider",
            False,
            "The provider refused a recipient: correct or remove it and send again.",
        ),
        ErrorCode.TOO_LARGE: CodeKind(
            "validation",
            "validation",
            False,
            "Make the attachments smaller or fewer, or share large files as links.",
        ),
        ErrorCode.QUOTA_EXCEEDED: CodeKind(
            "provider",
            "throttled",
            False,
            "The mailbox used up its sending quota: send again after the quota resets.",
        ),
        ErrorCode.AMBIGUOUS_MAY_HAVE_SENT: CodeKind(
            "provider",
            "provider",
            False,
            "The message may have been sent: check Sent Items before sending again, or a "
            "recipient may get it twice.",
        ),
        ErrorCode.INTERNAL_ERROR: CodeKind(
            "internal",
            "internal",
            False,
            "An unexpected failure inside the send path: report the correlation id to the "
            "Relay team, and check Sent Items before sending again.",
        ),
    }
)


def new_correlation_id() -> str:
    return uuid.uuid4().hex


@dataclass(frozen=True)
class StructuredError:
    """What a failed send returns; `to_dict()` is its JSON shape."""

    error_code: ErrorCode
    message: str
    source: Source
    retriable: bool
    remediation: str
    field: str | None = None  # the (first) offending field, e.g. attachments[1].content_type
    details: tuple[Mapping[str, Any], ...] = ()
    correlation_id: str = dataclasses.field(default_factory=new_correlation_id)

    @property
    def reason(self) -> Reason:
        """The reason label of action_error_total for this error."""
        return self.error_code.kind.reason

    def to_dict(self) -> dict[str, Any]:
        return {
            "error_code": self.error_code.value,
            "message": self.message,
            "field": self.field,
            "details": [dict(d) for d in self.details],
            "remediation": self.remediation,
            "retriable": self.retriable,
            "correlation_id": self.correlation_id,
            "source": self.source,
        }


def error(
    code: ErrorCode | str,
    message: str,
    *,
    field: str | None = None,
    details: Sequence[Mapping[str, Any]] = (),
    correlation_id: str | None = None,
) -> StructuredError:
    """A StructuredError whose source, retriable flag and remediation come from the taxonomy.

    A new correlation id (uuid4 hex) is made unless one is given. Raises ValueError for a code
    outside the taxonomy.
    """
    kind = ErrorCode(code).kind
    return StructuredError(
        error_code=ErrorCode(code),
        message=message,
        source=kind.source,
        retriable=kind.retriable,
        remediation=kind.remediation,
        field=field,
        details=tuple(details),
        correlation_id=correlation_id or new_correlation_id(),
    )


class SendError(Exception):
    """Carries a StructuredError up to the caller of a send action."""

    def __init__(self, error: StructuredError):
        super().__init__(error)
        self.error = error

    def __str__(self) -> str:
        return f"{self.error.error_code}: {self.error.message}"
