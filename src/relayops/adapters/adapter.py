"""`execute` and `preview` of a provider's send action (`gmail.send`, `outlook.send`): gate,
validate, restrict, sanitize, build, send with retries, and count it all under the catalog's
names. This module is the flow only; what differs between email APIs (where they live, the
request, its routes by size, uploads, look-ups, how answers read) is the provider's, behind
relayops.adapters.provider.Provider.

Order of `execute`: the rollout gate first (nothing else runs for a unit that is not in), then
the payload (SendParams), internal-only mode, HTML sanitizing and cid checks, building, and the
HTTP send (relayops.adapters.transport). Each execute counts exactly one request, one latency
observation, and for a failure one coarse error and one structured error. Whatever fails below
it, `execute` returns a structured error and never raises.

The flow is written once, as steps (relayops.adapters.effects); SendAdapter performs them with
blocking I/O, AsyncSendAdapter with httpx.AsyncClient under anyio.
"""

from __future__ import annotations

import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Any, Generic, Protocol, TypeVar

import anyio
import httpx

from relayops.adapters.built_check import BuiltMismatch
from relayops.adapters.digest import message_digest
from relayops.adapters.effects import Offload, Sleep, Steps, run_async, run_sync
from relayops.adapters.errors import (
    ErrorCode,
    SendError,
    StructuredError,
    error,
    new_correlation_id,
)
from relayops.adapters.idempotency import (
    HEADER,
    LookupFailed,
    LookupPolicy,
    derived_key,
    key_of,
    with_key,
)
from relayops.adapters.internal_only import blocked_by
from relayops.adapters.message import Message
from relayops.adapters.message_id import MessageId
from relayops.adapters.params import validate_params
from relayops.adapters.provider import Built, Provider
from relayops.adapters.providers import provider_for
from relayops.adapters.retry import Backoff, Outcome
from relayops.adapters.sanitize import MissingInlineImage, UnexpectedMarkup, sanitize
from relayops.adapters.telemetry import AdapterMetrics, adapter_metrics
from relayops.adapters.transport import Attempted, TokenSource
from relayops.oauth.token_error import TokenError
from relayops.spec import SpecSet
from relayops.spec.metrics import Role

LOG = logging.getLogger(__name__)
DEFAULT_BACKOFF = Backoff()
DEFAULT_LOOKUP = LookupPolicy()


class Gate(Protocol):
    """The rollout gate; for the AsyncSendAdapter `allows` may also be a coroutine."""

    def allows(self, workspace_id: str, actor_id: str) -> bool: ...


@dataclass(frozen=True)
class SendResult:
    ok: bool
    correlation_id: str
    digest: str | None = None
    provider_id: str | None = None  # Gmail's message id; Graph returns none
    attempts: int = 0
    error: StructuredError | None = None
    idempotency_key: str | None = None
    deduplicated: bool = False  # found already sent after an ambiguous outcome: not resent


@dataclass(frozen=True)
class Preview:
    ok: bool
    summary: dict[str, Any] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    digest: str | None = None
    error: StructuredError | None = None


ClientT = TypeVar("ClientT", httpx.Client, httpx.AsyncClient)
SleepT = TypeVar("SleepT")


class _SendCore(ABC, Generic[ClientT, SleepT]):
    """One provider's send action (the spec named `provider`): everything but the I/O, which
    the sync SendAdapter and the AsyncSendAdapter perform (relayops.adapters.effects). `client`
    and `sleep` default to the front's own kind (`_new_client`, `_default_sleep`); `api`
    defaults to the provider registered under the spec's name (relayops.adapters.providers)."""

    def __init__(
        self,
        specs: SpecSet,
        provider: str,
        gate: Gate,
        tokens: TokenSource,
        *,
        base_url: str | None = None,
        client: ClientT | None = None,
        metrics: AdapterMetrics | None = None,
        backoff: Backoff = DEFAULT_BACKOFF,
        lookup: LookupPolicy = DEFAULT_LOOKUP,
        timeout: float = 30.0,
        sleep: SleepT | None = None,
        api: Provider | None = None,
    ):
        self.specs = specs
        self.spec = specs.provider(provider)
        self.api = api or provider_for(self.spec)
        self.gate = gate
        self.tokens = tokens
        self.base_url = (base_url or self.api.api_base).rstrip("/")
        self.client: ClientT = client or self._new_client(timeout)
        self.metrics = metrics or adapter_metrics(specs, self.spec)
        self.backoff = backoff
        self.lookup = lookup
        self.sleep: SleepT = sleep or self._default_sleep()

    @abstractmethod
    def _new_client(self, timeout: float) -> ClientT: ...

    @abstractmethod
    def _default_sleep(self) -> SleepT: ...

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
        policy = self.spec.send
        try:
            clean = sanitize(
                message.html,
                inline_ids=inline_ids,
                allow_remote_images=policy.allows_every_remote_image,
                allowed_remote_hosts=policy.remote_image_hosts,
            )
        except (MissingInlineImage, UnexpectedMarkup) as exc:
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
        """The message keyed (the caller's idempotency key or a derived one) and built for the
        route its size calls for; TOO_LARGE before any network call when no route takes it."""
        started = time.perf_counter()
        digest = message_digest(message)
        key = key_of(message) or derived_key(digest)
        message = with_key(message, key)
        try:
            built = self.api.build(message, digest, tuple(notes))
        except BuiltMismatch as exc:
            raise SendError(error(ErrorCode.VALIDATION_FAILED, str(exc), field=exc.field)) from exc
        if metrics is not None:
            metrics.observe(self.api.build_role, time.perf_counter() - started)
        return built

    # -- the two actions, as steps ------------------------------------------------------------
    def _preview_steps(self, action: str, params: dict) -> Steps[Preview]:
        """Validate, sanitize and build the whole payload, with no network and no counting."""
        correlation_id = new_correlation_id()
        try:
            prepared = yield Offload(self._prepare, (action, params, correlation_id, None))
            built = yield Offload(self._build, (*prepared, None))
        except SendError as exc:
            return Preview(False, error=exc.error)
        except Exception as exc:  # the caller gets a structured error, never a traceback
            return Preview(False, error=_internal_error(exc, correlation_id, "preview"))
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
            "payload_bytes": len(built.body) or sum(len(a.data) for a in message.attachments),
            "route": str(built.route),
            "endpoint": built.path,
        }
        return Preview(True, summary, built.warnings, built.digest)

    def _execute_steps(
        self, action: str, params: dict, workspace_id: str, actor_id: str
    ) -> Steps[SendResult]:
        started = time.perf_counter()
        correlation_id = new_correlation_id()
        status = "rejected"
        built = None
        try:
            allowed = yield Offload(self.gate.allows, (workspace_id, actor_id))
            if not allowed:
                raise SendError(
                    error(
                        ErrorCode.ROLLOUT_GATE_CLOSED,
                        f"{self.spec.action} is not rolled out to this "
                        f"{self.spec.rollout.bucketing_unit} yet",
                        correlation_id=correlation_id,
                    )
                )
            prepared = yield Offload(self._prepare, (action, params, correlation_id, self.metrics))
            built = yield Offload(self._build, (*prepared, self.metrics))
            status = "error"
            try:
                delivered = yield from self._deliver(
                    built, caller_key=HEADER in prepared[0].headers
                )
            except TokenError as exc:
                raise SendError(_token_error(exc)) from exc
            result = self._result(delivered, built, correlation_id)
        except SendError as exc:
            key = key_of(built.message) if built else None
            failure = _with_id(exc.error, correlation_id)
            result = SendResult(False, correlation_id, error=failure, idempotency_key=key)
        except Exception as exc:  # the caller gets a structured error, never a traceback
            key = key_of(built.message) if built else None
            failure = _internal_error(exc, correlation_id, "execute")
            result = SendResult(False, correlation_id, error=failure, idempotency_key=key)
        if result.ok and built is not None:
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

    def count_refresh(self, result: str) -> None:
        """OAuth refresh outcome ("success" or "failure") under the catalog's counter; pass as
        the token manager's on_refresh."""
        self.metrics.count("oauth_refresh", result=result)

    # -- the network, as steps -----------------------------------------------------------------
    def _deliver(self, built: Built, *, caller_key: bool) -> Steps[Delivered]:
        """Send once, and after an ambiguous outcome look for the message before any resend.

        A caller's own key may have been sent by an earlier call: it is looked up once first.
        A look-up that fails leaves the outcome ambiguous: nothing is sent again.
        """
        can_look_up = self.api.can_look_up()
        if caller_key and can_look_up:
            try:
                found = yield from self._look_up(built, waits=())
            except LookupFailed:
                found = None  # no proof either way; the first send goes ahead as without a key
            if found:
                return Delivered(Attempted(Outcome.SENT, 0), found, deduplicated=True)
        attempted = yield from self._send(built)
        resends = 0
        while attempted.outcome is Outcome.AMBIGUOUS and can_look_up:
            try:
                found = yield from self._look_up(built, waits=self.lookup.waits)
            except LookupFailed as exc:
                detail = f"{what_happened(attempted)}; the look-up for it failed: {exc}"
                return Delivered(replace(attempted, detail=detail), None, deduplicated=False)
            if found:
                return Delivered(replace(attempted, outcome=Outcome.SENT), found, True)
            if resends >= self.lookup.max_resends:
                break
            resends += 1
            attempted = yield from self._send(built)
        return Delivered(attempted, None, deduplicated=False)

    def _send(self, built: Built) -> Steps[Attempted]:
        return (yield from self.api.send(self.base_url, built, self.backoff, self._upload_event))

    def _upload_event(self, event: str, amount: int) -> None:
        if event == "bytes":
            self.metrics.count("upload_bytes", amount)
        else:
            self.metrics.count("upload_sessions", amount, result=event)

    def _look_up(self, built: Built, *, waits: tuple[float, ...]) -> Steps[str | None]:
        """The provider id of an already sent copy of this message, looking again after each
        wait; None when every look found none. Raises LookupFailed."""
        message_id = built.message.message_id
        if message_id is None:  # _build keys every message; nothing to look for without one
            raise LookupFailed("the message has no Message-ID to look for")
        for wait in (0.0, *waits):
            if wait:
                yield Sleep(wait)
            found = yield from self._find_again_if_unanswered(message_id, key_of(built.message))
            if found:
                return found
        yield from self.api.discard_unsent(self.base_url, self.backoff, built)
        return None

    def _find_again_if_unanswered(
        self, message_id: MessageId, key: str | None
    ) -> Steps[str | None]:
        """The provider's `find`, asked again after a jittered wait when it got no answer, up
        to the look-up policy's retries; LookupFailed once every try went unanswered."""
        attempt = 1
        while True:
            try:
                return (yield from self.api.find(self.base_url, self.backoff, message_id, key))
            except LookupFailed:
                if attempt > self.lookup.retries:
                    raise
            yield Sleep(self.backoff.wait(attempt))
            attempt += 1

    def _result(self, delivered: Delivered, built: Built, correlation_id: str) -> SendResult:
        attempted, key = delivered.attempted, key_of(built.message)
        if attempted.outcome is Outcome.SENT:
            provider_id = delivered.found or (attempted.body or {}).get("id")
            return SendResult(
                True,
                correlation_id,
                built.digest,
                provider_id,
                attempted.attempts,
                idempotency_key=key,
                deduplicated=delivered.deduplicated,
            )
        failure = provider_error(attempted, correlation_id)
        return SendResult(
            False, correlation_id, built.digest, None, attempted.attempts, failure, key
        )


@dataclass(frozen=True)
class Delivered:
    attempted: Attempted
    found: str | None  # provider id of a copy found by look-up
    deduplicated: bool


class SendAdapter(_SendCore[httpx.Client, Callable[[float], None]]):
    """The send action for sync callers: one pooled httpx.Client, blocking sleeps."""

    def _new_client(self, timeout: float) -> httpx.Client:
        return httpx.Client(timeout=timeout)

    def _default_sleep(self) -> Callable[[float], None]:
        return time.sleep

    def preview(
        self, action: str, params: dict, workspace_id: str = "", actor_id: str = ""
    ) -> Preview:
        """Validate, sanitize and build the whole payload, with no network and no counting."""
        return run_sync(self._preview_steps(action, params), self.client, self.tokens)

    def execute(self, action: str, params: dict, workspace_id: str, actor_id: str) -> SendResult:
        steps = self._execute_steps(action, params, workspace_id, actor_id)
        return run_sync(steps, self.client, self.tokens, self.sleep)


class AsyncSendAdapter(_SendCore[httpx.AsyncClient, Callable[[float], Awaitable[None]]]):
    """The same send action for async callers (`await adapter.execute(...)` under anyio):
    one pooled httpx.AsyncClient. Network waits never block the event loop; the gate, the token
    source and building the message run in a worker thread, unless the gate's `allows` or the
    token source's methods are coroutines, which are awaited."""

    def _new_client(self, timeout: float) -> httpx.AsyncClient:
        return httpx.AsyncClient(timeout=timeout)

    def _default_sleep(self) -> Callable[[float], Awaitable[None]]:
        return anyio.sleep

    async def preview(
        self, action: str, params: dict, workspace_id: str = "", actor_id: str = ""
    ) -> Preview:
        """Validate, sanitize and build the whole payload, with no network and no counting."""
        return await run_async(self._preview_steps(action, params), self.client, self.tokens)

    async def execute(
        self, action: str, params: dict, workspace_id: str, actor_id: str
    ) -> SendResult:
        steps = self._execute_steps(action, params, workspace_id, actor_id)
        return await run_async(steps, self.client, self.tokens, self.sleep)

    async def aclose(self) -> None:
        await self.client.aclose()


def _token_error(exc: TokenError) -> StructuredError:
    code = ErrorCode.AUTH_RECONNECT_REQUIRED if exc.reconnect else ErrorCode.PROVIDER_UNAVAILABLE
    return error(code, f"no access token: {exc}")


def _internal_error(exc: Exception, correlation_id: str, during: str) -> StructuredError:
    """An unexpected exception as a structured error; the traceback goes to the log only,
    under the correlation id, never to the caller."""
    LOG.exception("%s failed unexpectedly (correlation id %s)", during, correlation_id)
    return error(
        ErrorCode.INTERNAL_ERROR,
        f"unexpected {type(exc).__name__} in the send path; correlation id {correlation_id}",
        correlation_id=correlation_id,
    )


def _with_id(failure: StructuredError, correlation_id: str) -> StructuredError:
    return replace(failure, correlation_id=correlation_id)


_PERMANENT_CODES = {
    401: ErrorCode.AUTH_RECONNECT_REQUIRED,
    403: ErrorCode.PERMISSION_DENIED,
    413: ErrorCode.TOO_LARGE,
}
_QUOTA_REASONS = frozenset({"dailyLimitExceeded", "quotaExceeded", "ErrorQuotaExceeded"})
_RECIPIENT_REASONS = frozenset({"ErrorInvalidRecipients", "ErrorInvalidRecipientsFormat"})


def what_happened(attempted: Attempted) -> str:
    """A never-empty account of an attempt: its detail, else its HTTP status and reasons."""
    if attempted.detail:
        return attempted.detail
    if attempted.status is None:
        return f"no answer after {attempted.attempts} attempt(s)"
    reasons = f" ({', '.join(sorted(attempted.reasons))})" if attempted.reasons else ""
    return f"HTTP {attempted.status}{reasons} after {attempted.attempts} attempt(s)"


def provider_error(attempted: Attempted, correlation_id: str) -> StructuredError:
    """The structured error of a send that did not end in SENT."""
    outcome, status = attempted.outcome, attempted.status
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
    verdict = (
        "the provider may have taken the message"
        if outcome is Outcome.AMBIGUOUS
        else "the provider did not take the message"
    )
    failure = error(
        code,
        f"{verdict}: {what_happened(attempted)}",
        details=details,
        correlation_id=correlation_id,
    )
    return replace(failure, source="provider")  # whatever the code, the provider said so
