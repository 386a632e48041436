"""What the on-call engineer does by hand: pause, resume, set the percentage. Each is a
compare-and-set on the state and an entry in the audit stream (and file). On state that does
not parse, each is also the repair: values that do not parse are replaced by safe ones
(`RolloutStore.read_for_repair`), and the audit entry lists what was replaced."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from relayops.controller.audit_file import append_audit
from relayops.controller.policy import RolloutState
from relayops.controller.state import CorruptState, RolloutStore


def _apply(
    store: RolloutStore,
    action: str,
    change,
    reason: str,
    who: str,
    now: float,
    audit_log: Path | None,
) -> tuple[RolloutState, tuple[str, ...]]:
    """The new state, and the stored values that did not parse and were replaced."""
    try:
        before = store.read()
    except CorruptState:
        before, repaired, snapshot = store.read_for_repair(now)
        after = change(before)
        store.overwrite(snapshot, after)
    else:
        repaired = ()
        after = change(before)
        store.write(before, after)
    entry = {
        "at": now,
        "provider": store.provider,
        "who": who,
        "dry_run": False,
        "status": "manual",
        "result": action,
        "old": before.percent,
        "new": after.percent,
        "reason": reason,
        "inputs": [],
        **({"repaired": list(repaired)} if repaired else {}),
    }
    store.audit(entry, changed=True)
    if audit_log is not None:
        append_audit(audit_log, entry)
    return after, repaired


def set_percent(
    store: RolloutStore, percent: float, reason: str, who: str, now: float, audit_log: Path | None
) -> tuple[RolloutState, tuple[str, ...]]:
    """A manual override; lowering the percentage counts as a rollback (the cooldown starts)."""

    def change(state: RolloutState) -> RolloutState:
        lower = percent < state.percent
        return replace(
            state,
            percent=percent,
            previous_percent=state.percent,
            last_change_at=now,
            last_rollback_at=now if lower else state.last_rollback_at,
            consecutive_errors=0,
        )

    return _apply(store, "set-percent", change, reason, who, now, audit_log)


def set_paused(
    store: RolloutStore, paused: bool, reason: str, who: str, now: float, audit_log: Path | None
) -> tuple[RolloutState, tuple[str, ...]]:
    action = "pause" if paused else "resume"
    return _apply(store, action, lambda s: replace(s, paused=paused), reason, who, now, audit_log)
