"""One controller cycle for one provider: lock, read, measure, decide, write, audit, push.

A dry run reads and measures, and prints the same decision, but writes nothing anywhere: no
lock, no state, no audit stream or file, no telemetry.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from enum import StrEnum
from pathlib import Path

import redis

from relayops.controller.audit_file import append_audit, last_known_note
from relayops.controller.measure import Query, measure
from relayops.controller.policy import Decision, Measurement, Result, RolloutState, Verdict, decide
from relayops.controller.state import (
    CorruptState,
    LockHeld,
    MissingState,
    RolloutStore,
    StateChanged,
)
from relayops.controller.telemetry import push, registry_for
from relayops.spec import SpecSet

LOCK_SECONDS = 120


class Status(StrEnum):
    DECIDED = "decided"  # a decision was taken (hold included) and stored
    FAILED = "failed"  # something could not be read, measured or written
    LOCKED = "locked"  # another run holds the lock


@dataclass(frozen=True)
class RunOutcome:
    provider: str
    status: Status
    message: str
    decision: Decision | None = None
    checks: tuple[Measurement, ...] = ()
    severe: Measurement | None = None
    warnings: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class Sinks:
    """Where a real run writes besides Redis: the audit file and the Pushgateway."""

    audit_log: Path | None
    pushgateway_url: str | None


def _entry(outcome: RunOutcome, who: str, dry_run: bool, at: float) -> dict:
    decision = outcome.decision
    return {
        "at": at,
        "provider": outcome.provider,
        "who": who,
        "dry_run": dry_run,
        "status": str(outcome.status),
        "result": None if decision is None else str(decision.result),
        "old": None if decision is None else decision.old,
        "new": None if decision is None else decision.new,
        "reason": decision.reason if decision is not None else outcome.message,
        "inputs": [asdict(m) for m in (*outcome.checks, *filter(None, [outcome.severe]))],
    }


def _record(
    specs: SpecSet,
    store: RolloutStore,
    outcome: RunOutcome,
    state: RolloutState,
    entry: dict | None,
    who: str,
    now: float,
    sinks: Sinks,
) -> list[str]:
    """Audit and telemetry of a real run; problems with them are warnings, not failures.
    `entry` is the audit record already stored with the state, None when nothing was stored
    (the run's record is appended to the stream here then)."""
    warnings = []
    decision = outcome.decision
    if entry is None:
        entry = _entry(outcome, who, False, now)
        store.audit(entry, changed=False)
    if sinks.audit_log is not None:
        try:
            append_audit(sinks.audit_log, entry)
        except OSError as exc:
            warnings.append(f"audit file {sinks.audit_log} not written: {exc}")
    succeeded = outcome.status is Status.DECIDED
    result = Result.HOLD if decision is None else decision.result  # unreadable state: a hold
    counted = [f"runs:{'success' if succeeded else 'failure'}", f"decisions:{result}"]
    totals = store.count(*counted)
    if sinks.pushgateway_url is not None:
        label = specs.provider(outcome.provider).provider
        registry = registry_for(
            specs,
            label,
            totals,
            state.percent,
            state.consecutive_errors,
            now if succeeded else None,
        )
        try:
            push(sinks.pushgateway_url, label, registry)
        except OSError as exc:
            warnings.append(f"telemetry not pushed to {sinks.pushgateway_url}: {exc}")
    return warnings


def _evaluate(
    specs: SpecSet,
    provider: str,
    store: RolloutStore,
    query: Query,
    now: float,
    measure_fn: Callable,
    audit_log: Path | None,
) -> tuple[RunOutcome, RolloutState | None]:
    """Read, measure and decide; the outcome and the state it started from (None when the
    stored state could not be read: a hold, nothing to write)."""
    spec = specs.provider(provider)
    try:
        state = store.read()
    except MissingState as exc:
        message = f"holding: {exc}{last_known_note(audit_log, provider)}"
        return RunOutcome(provider, Status.FAILED, message), None
    except CorruptState as exc:
        return RunOutcome(provider, Status.FAILED, f"holding: {exc}"), None
    if state.paused:
        checks: tuple[Measurement, ...] = ()
        severe = Measurement("page_alerts", Verdict.INCONCLUSIVE, detail="not measured: paused")
    else:
        measured, severe = measure_fn(specs, spec, query, now)
        checks = tuple(measured)
    decision = decide(spec.rollout, specs.service.rate_window, state, checks, severe, now)
    errors = [m for m in (*checks, severe) if m.verdict is Verdict.ERROR]
    status = Status.FAILED if errors else Status.DECIDED
    return RunOutcome(provider, status, decision.reason, decision, checks, severe), state


def run_cycle(
    specs: SpecSet,
    provider: str,
    query: Query,
    client: redis.Redis,
    now: float,
    *,
    dry_run: bool,
    who: str,
    sinks: Sinks,
    measure_fn: Callable = measure,
) -> RunOutcome:
    """One cycle; Redis errors propagate (redis.RedisError) for the caller to report."""
    store = RolloutStore(client, provider)
    if dry_run:
        return _evaluate(specs, provider, store, query, now, measure_fn, sinks.audit_log)[0]
    try:
        with store.locked(LOCK_SECONDS):
            outcome, start = _evaluate(
                specs, provider, store, query, now, measure_fn, sinks.audit_log
            )
            stored, entry = start, None
            decision = outcome.decision
            if decision is not None and start is not None:
                entry = _entry(outcome, who, False, now)
                try:
                    store.write(start, decision.state, audit=entry, changed=decision.changes)
                    stored = decision.state
                except StateChanged as exc:
                    entry = None
                    outcome = replace(
                        outcome, status=Status.FAILED, message=str(exc), decision=None
                    )
            state = stored or RolloutState()
            warnings = _record(specs, store, outcome, state, entry, who, now, sinks)
    except LockHeld as exc:
        return RunOutcome(provider, Status.LOCKED, str(exc))
    return replace(outcome, warnings=tuple(warnings))
