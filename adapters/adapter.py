"""`execute` and `preview` of `gmail.send` and `outlook.send`: gate, validate, restrict,
sanitize, build, send with retries, and count it all under the catalog's names.

Order of `execute`: the rollout gate first (nothing else runs for a unit that is not in), then
the payload (SendParams), internal-only mode, HTML sanitizing and cid checks, building, and the
HTTP send (adapters/transport.py). Each execute counts exactly one request, one latency
observation, and for a failure one coarse error and one structured error.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import httpx

from adapters.digest import message_digest
from adapters.errors import ErrorCode, SendError, StructuredError, error, new_correlation_id
from adapters.graph import SEND_MAIL_LIMIT_BYTES, graph_body
from adapters.internal_only import blocked_by
from adapters.message import Message
from adapters.mime import mime_bytes
from adapters.params import validate_params
from adapters.retry import Backoff, Outcome
from adapters.sanitize import MissingInlineImage, sanitize
from adapters.telemetry import AdapterMetrics, adapter_metrics
from adapters.transport import Attempted, TokenSource, send
from relayops.spec import SpecSet
from relayops.spec.metrics import Role

GMAIL_API = "https://gmail.googleapis.com"
GRAPH_API = "https://graph.microsoft.com"
# The JSON endpoint fails somewhere between 1 and 6.5 MB of `raw`; above 1 MB the message
# goes to the media upload endpoint (up to 35 MB) as plain RFC 5322 bytes.
GMAIL_JSON_LIMIT = 1_000_000
MESSAGE_ID_DOMAIN = "relay.invalid"  # when no sender address gives one (RFC 2606 name)
_BUILD_ROLE = {"gmail": "mime_build", "outlook": "graph_payload_build"}
DEFAULT_BACKOFF = Backoff()


class Gate(Protocol):
    def allows(self, workspace_id: str, actor_id: str) -> bool: ...


@dataclass(frozen=True)
class Built:
    message: Message
    body: bytes
    content_type: str
    path: str
    warnings: tuple[str, ...]


@dataclass(frozen=True)
class SendResult:
    ok: bool
    correlation_id: str
    digest: str | None = None
    provider_id: str | None = None  # Gmail's message id; Graph returns none
    attempts: int = 0
    error: StructuredError | None = None


@dataclass(frozen=True)
class Preview:
    ok: bool
    summary: dict[str, Any] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    digest: str | None = None
    error: StructuredError | None = None


class SendAdapter:
    """One provider's send action (`gmail` or `outlook` spec), one pooled HTTP client."""

    def __init__(
        self,
        specs: SpecSet,
        provider: str,
        gate: Gate,
        tokens: TokenSource,
        *,
        base_url: str | None = None,
        client: httpx.Client | None = None,
        metrics: AdapterMetrics | None = None,
        backoff: Backoff = DEFAULT_BACKOFF,
        timeout: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.specs = specs
        self.spec = specs.provider(provider)
        if self.spec.name not in _BUILD_ROLE:
            raise ValueError(f"no send adapter for provider spec {provider!r}")
        self.gate = gate
        self.tokens = tokens
        default = GMAIL_API if self.spec.name == "gmail" else GRAPH_API
        self.base_url = (base_url or default).rstrip("/")
        self.client = client or httpx.Client(timeout=timeout)
        self.metrics = metrics or adapter_metrics(specs, self.spec)
        self.backoff = backoff
        self.sleep = sleep

    # -- building --------------------------------------------------------------------------
    def _prepare(
        self, action: str, params: dict, correlation_id: str, metrics: AdapterMetrics | None
    ) -> tuple[Message, list[str]]:
        """Validated, internal-only checked and sanitized message and notes about what was
        changed; SendError otherwise. `metrics` None (a preview) counts nothing."""
        if action != self.spec.action:
            raise SendError(
                error(
                    ErrorCode.VALIDATION_FAILED,
                    f"this adapter sends {self.spec.action}, not {action!r}",
                    field="action",
                    correlation_id=correlation_id,
                )
            )
        policy = self.spec.send
        message = validate_params(params, policy, self.spec.name, correlation_id=correlation_id)
        blocked = blocked_by(policy.internal_only, message.recipients)
        if blocked:
            raise SendError(
                error(
                    ErrorCode.INTERNAL_ONLY_BLOCKED,
                    f"internal-only mode: {', '.join(blocked)} may not receive mail",
                    field="to",
                    details=[{"blocked": address} for address in blocked],
                    correlation_id=correlation_id,
                )
            )
        return self._sanitized(message, correlation_id, metrics)

    def _sanitized(
        self, message: Message, correlation_id: str, metrics: AdapterMetrics | None
    ) -> tuple[Message, list[str]]:
        if message.html is None:
            return message, []
        inline_ids = {a.content_id for a in message.inline if a.content_id}
        try:
            clean = sanitize(message.html, inline_ids=inline_ids)
        except MissingInlineImage as exc:
            raise SendError(
                error(
                    ErrorCode.VALIDATION_FAILED,
                    str(exc),
                    field="html",
                    correlation_id=correlation_id,
                )
            ) from exc
        if metrics is not None:
            for change, count in clean.changes.items():
                metrics.count("sanitize_changes", count, change=str(change))
            for result, count in clean.reference_counts.items():
                metrics.count("inline_references", count, result=str(result))
        notes = [
            f"sanitizer: {count} × {change}" for change, count in sorted(clean.changes.items())
        ]
        orphans = set(clean.orphans)
        notes += [
            f"inline image cid:{cid} is never referenced: sent as an attachment"
            for cid in clean.orphans
        ]
        attachments = tuple(
            replace(a, inline=False, content_id=None) if a.content_id in orphans else a
            for a in message.attachments
        )
        return replace(message, html=clean.html, attachments=attachments), notes

    def _build(self, message: Message, notes: list[str], metrics: AdapterMetrics | None) -> Built:
        started = time.perf_counter()
        if self.spec.name == "gmail":
            body = mime_bytes(message, domain=_domain(message))
            if len(body) * 4 // 3 > GMAIL_JSON_LIMIT:
                built = Built(
                    message,
                    body,
                    "message/rfc822",
                    "/upload/gmail/v1/users/me/messages/send?uploadType=media",
                    (*notes, "sent through the media upload endpoint (over the JSON limit)"),
                )
            else:
                raw = base64.urlsafe_b64encode(body).decode("ascii")
                built = Built(
                    message,
                    encode_json({"raw": raw}),
                    "application/json",
                    "/gmail/v1/users/me/messages/send",
                    tuple(notes),
                )
        else:
            body = graph_body(message, save_to_sent_items=self.spec.send.save_to_sent_items)
            built = Built(
                message,
                body,
                "application/json",
                "/v1.0/me/sendMail",
                tuple(notes),
            )
        if metrics is not None:
            metrics.observe(_BUILD_ROLE[self.spec.name], time.perf_counter() - started)
        if self.spec.name == "outlook" and len(built.body) > SEND_MAIL_LIMIT_BYTES:
            raise SendError(
                error(
                    ErrorCode.TOO_LARGE,
                    f"the Graph sendMail request would be {len(built.body)} bytes, over its "
                    f"{SEND_MAIL_LIMIT_BYTES}-byte limit",
                    field="attachments",
                )
            )
        return built

    # -- the two actions ---------------------------------------------------------------------
    def preview(
        self, action: str, params: dict, workspace_id: str = "", actor_id: str = ""
    ) -> Preview:
        """Validate, sanitize and build the whole payload, with no network and no counting."""
        correlation_id = new_correlation_id()
        try:
            built = self._build(*self._prepare(action, params, correlation_id, None), None)
        except SendError as exc:
            return Preview(False, error=exc.error)
        message = built.message
        summary = {
            "action": self.spec.action,
            "to": len(message.to),
            "cc": len(message.cc),
            "bcc": len(message.bcc),
            "subject": message.subject,
            "html": message.html is not None,
            "attachments": [a.filename for a in message.files],
            "inline": [a.content_id for a in message.inline],
            "payload_bytes": len(built.body),
            "endpoint": built.path,
        }
        return Preview(True, summary, built.warnings, message_digest(message))

    def execute(self, action: str, params: dict, workspace_id: str, actor_id: str) -> SendResult:
        started = time.perf_counter()
        correlation_id = new_correlation_id()
        status = "rejected"
        try:
            if not self.gate.allows(workspace_id, actor_id):
                raise SendError(
                    error(
                        ErrorCode.ROLLOUT_GATE_CLOSED,
                        f"{self.spec.action} is not rolled out to this "
                        f"{self.spec.rollout.bucketing_unit} yet",
                        correlation_id=correlation_id,
                    )
                )
            prepared = self._prepare(action, params, correlation_id, self.metrics)
            built = self._build(*prepared, self.metrics)
            status = "error"
            attempted = self._send(built)
            result = self._result(attempted, built, correlation_id)
        except SendError as exc:
            result = SendResult(False, correlation_id, error=_with_id(exc.error, correlation_id))
        if result.ok:
            status = "success"
            for attachment in built.message.attachments:
                disposition = "inline" if attachment.inline else "attachment"
                self.metrics.count(
                    "attachment_bytes", len(attachment.data), disposition=disposition
                )
        else:
            failure = result.error
            self.metrics.count(Role.ERRORS, reason=failure.reason)
            self.metrics.count(
                Role.STRUCTURED_ERRORS, code=str(failure.error_code), source=failure.source
            )
        self.metrics.count(Role.REQUESTS, status=status)
        self.metrics.observe(Role.LATENCY, time.perf_counter() - started, status=status)
        return result

    # -- the network -------------------------------------------------------------------------
    def _send(self, built: Built) -> Attempted:
        def request(token: str) -> httpx.Request:
            return self.client.build_request(
                "POST",
                self.base_url + built.path,
                content=built.body,
                headers={"Authorization": f"Bearer {token}", "Content-Type": built.content_type},
            )

        return send(
            self.client, self.spec.name, request, self.tokens, self.backoff, sleep=self.sleep
        )

    def _result(self, attempted: Attempted, built: Built, correlation_id: str) -> SendResult:
        digest = message_digest(built.message)
        if attempted.outcome is Outcome.SENT:
            provider_id = (attempted.body or {}).get("id")
            return SendResult(True, correlation_id, digest, provider_id, attempted.attempts)
        failure = provider_error(attempted, correlation_id)
        return SendResult(False, correlation_id, digest, None, attempted.attempts, failure)


def encode_json(value: dict) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode("ascii")


def _domain(message: Message) -> str:
    return message.sender.rpartition("@")[2] if "@" in message.sender else MESSAGE_ID_DOMAIN


def _with_id(failure: StructuredError, correlation_id: str) -> StructuredError:
    return replace(failure, correlation_id=correlation_id)


_PERMANENT_CODES = {
    401: ErrorCode.AUTH_RECONNECT_REQUIRED,
    403: ErrorCode.PERMISSION_DENIED,
    413: ErrorCode.TOO_LARGE,
}
_QUOTA_REASONS = frozenset({"dailyLimitExceeded", "quotaExceeded", "ErrorQuotaExceeded"})
_RECIPIENT_REASONS = frozenset({"ErrorInvalidRecipients", "ErrorInvalidRecipientsFormat"})


def provider_error(attempted: Attempted, correlation_id: str) -> StructuredError:
    """The structured error of a send that did not end in SENT."""
    outcome, status = attempted.outcome, attempted.status
    detail = attempted.detail or f"HTTP {status}, reasons {sorted(attempted.reasons)}"
    details = [
        {"status": status, "reasons": sorted(attempted.reasons), "attempts": attempted.attempts}
    ]
    if outcome is Outcome.AMBIGUOUS:
        code = ErrorCode.AMBIGUOUS_MAY_HAVE_SENT
    elif outcome is Outcome.THROTTLED:
        code = ErrorCode.THROTTLED
    elif outcome is Outcome.TRANSIENT:
        code = ErrorCode.PROVIDER_UNAVAILABLE
    elif outcome is Outcome.AUTH:
        code = ErrorCode.AUTH_RECONNECT_REQUIRED
    elif attempted.reasons & _QUOTA_REASONS:
        code = ErrorCode.QUOTA_EXCEEDED
    elif status in _PERMANENT_CODES:
        code = _PERMANENT_CODES[status]
    elif attempted.reasons & _RECIPIENT_REASONS:
        code = ErrorCode.INVALID_RECIPIENT
    elif status is not None and 400 <= status < 500:
        code = ErrorCode.VALIDATION_FAILED  # the provider refused this payload as it is
    else:
        code = ErrorCode.PROVIDER_UNAVAILABLE
    failure = error(
        code,
        f"the provider did not take the message: {detail}",
        details=details,
        correlation_id=correlation_id,
    )
    return replace(failure, source="provider")  # whatever the code, the provider said so
