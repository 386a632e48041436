"""The rollout decision: a pure function of the state, the measurements and the clock.

Order of precedence, each rule explained in the decision's reason:
1. paused: nothing moves;
2. a severe breach (a page-tier burn alert firing) goes to 0 at once;
3. a measurement that could not be taken (error) holds and is counted, never rolls back;
4. within one rate window of the last change the measurements still describe the old
   percentage: hold;
5. a breach (a check failed) steps back one step, never below the floor;
6. an inconclusive check (no data, NaN, too little traffic) holds: it never promotes;
7. all checks pass: promote one step once the dwell time has passed since the last change and
   the cooldown since the last rollback.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from enum import StrEnum

from relayops.spec.rollout import Rollout


class Verdict(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    INCONCLUSIVE = "inconclusive"
    ERROR = "error"


class Result(StrEnum):
    """Decision results, as the catalog's controller_decisions `result` values name them."""

    PROMOTE = "promote"
    HOLD = "hold"
    ROLLBACK = "rollback"
    PAUSE = "pause"


@dataclass(frozen=True)
class Measurement:
    name: str
    verdict: Verdict
    value: float | None = None
    limit: float | None = None
    detail: str = ""

    def describe(self) -> str:
        shown = "—" if self.value is None else f"{self.value:.4g}"
        limit = "" if self.limit is None else f" (limit {self.limit:g})"
        detail = f": {self.detail}" if self.detail else ""
        return f"{self.name} {self.verdict} {shown}{limit}{detail}"


@dataclass(frozen=True)
class RolloutState:
    percent: float = 0.0
    last_change_at: float | None = None
    previous_percent: float | None = None
    last_rollback_at: float | None = None
    paused: bool = False
    consecutive_errors: int = 0


@dataclass(frozen=True)
class Decision:
    result: Result
    old: float
    new: float
    reason: str
    state: RolloutState  # the state to store after this decision

    @property
    def changes(self) -> bool:
        return self.new != self.old


def next_step(policy: Rollout, percent: float) -> float | None:
    return min((s for s in policy.steps if s > percent), default=None)


def step_back(policy: Rollout, percent: float) -> float:
    """The step below `percent`, never below the floor."""
    below = [s for s in policy.steps if s < percent]
    return max([policy.floor, *below[-1:]])


def _ago(now: float, then: float | None) -> float:
    return float("inf") if then is None else now - then


def _move(state: RolloutState, result: Result, new: float, reason: str, now: float) -> Decision:
    moved = replace(
        state,
        percent=new,
        previous_percent=state.percent,
        last_change_at=now,
        last_rollback_at=now if result is Result.ROLLBACK else state.last_rollback_at,
        consecutive_errors=0,
    )
    return Decision(result, state.percent, new, reason, moved)


def _hold(state: RolloutState, reason: str, errors: int = 0) -> Decision:
    return Decision(
        Result.HOLD, state.percent, state.percent, reason, replace(state, consecutive_errors=errors)
    )


def _list(measurements: Sequence[Measurement]) -> str:
    return "; ".join(m.describe() for m in measurements)


def decide(
    policy: Rollout,
    rate_window: int,
    state: RolloutState,
    checks: Sequence[Measurement],
    severe: Measurement,
    now: float,
) -> Decision:
    """What to do now. `checks` are the health checks (error ratio, latency, failure counts,
    traffic); `severe` says whether a page-tier burn alert is firing (FAIL if one is)."""
    percent = state.percent
    if state.paused:
        return Decision(
            Result.PAUSE, percent, percent, "paused: nothing moves until resumed", state
        )
    if severe.verdict is Verdict.FAIL and percent > 0:
        return _move(state, Result.ROLLBACK, 0.0, f"severe breach: {severe.describe()}", now)
    errors = [m for m in (*checks, severe) if m.verdict is Verdict.ERROR]
    if errors:
        count = state.consecutive_errors + 1
        return _hold(
            state,
            f"measurement error ({count} in a row), holding rather than guessing: {_list(errors)}",
            count,
        )
    since_change = _ago(now, state.last_change_at)
    if since_change < rate_window:
        return _hold(
            state,
            f"changed {since_change:.0f}s ago; the {rate_window}s rate window still shows the "
            "previous percentage",
        )
    failed = [m for m in checks if m.verdict is Verdict.FAIL]
    if failed:
        back = step_back(policy, percent)
        if back >= percent:
            return _hold(state, f"breach at the floor {policy.floor:g}%: {_list(failed)}")
        return _move(state, Result.ROLLBACK, back, f"breach: {_list(failed)}", now)
    unsure = [m for m in (*checks, severe) if m.verdict is Verdict.INCONCLUSIVE]
    if unsure:
        return _hold(state, f"inconclusive, never a promotion: {_list(unsure)}")
    target = next_step(policy, percent)
    if target is None:
        return _hold(state, "fully rolled out and healthy")
    if since_change < policy.dwell:
        return _hold(state, f"healthy; dwell {policy.dwell}s not over ({since_change:.0f}s)")
    since_rollback = _ago(now, state.last_rollback_at)
    if since_rollback < policy.rollback_cooldown:
        return _hold(
            state,
            f"healthy; {since_rollback:.0f}s since the last rollback, waiting "
            f"{policy.rollback_cooldown}s before promoting",
        )
    return _move(state, Result.PROMOTE, target, f"healthy: {_list(checks)}", now)
