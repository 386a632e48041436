"""The rollout decision, tick by tick: a pure function of state, measurements and the clock."""

from __future__ import annotations

import pytest

from relayops.controller.policy import (
    Decision,
    Measurement,
    Result,
    RolloutState,
    Verdict,
    decide,
    next_step,
    step_back,
)
from relayops.spec import load_specs
from tests.specs_util import SPECS

MINUTE = 60
TICK = 5 * MINUTE  # the cron period
RATE_WINDOW = 5 * MINUTE


@pytest.fixture(scope="module")
def policy():
    return load_specs(SPECS).provider("gmail").rollout


def checks(verdict: Verdict = Verdict.PASS, which: str = "error_ratio") -> list[Measurement]:
    names = ["request_rate", "error_ratio", "latency_p95", "oauth_refresh_failures"]
    return [Measurement(n, verdict if n == which else Verdict.PASS, 0.0) for n in names]


QUIET = Measurement("page_alerts", Verdict.PASS, 0.0)


def run(policy, state: RolloutState, now: float, **kw) -> Decision:
    return decide(
        policy, RATE_WINDOW, state, kw.get("checks", checks()), kw.get("severe", QUIET), now
    )


def test_healthy_ramps_through_every_step_after_each_dwell(policy):
    state, now, seen = RolloutState(percent=1.0), 10_000.0, []
    for _ in range(40):
        decision = run(policy, state, now)
        seen.append((now - 10_000.0, decision.result, decision.new))
        state, now = decision.state, now + TICK
    promotions = [(t, new) for t, result, new in seen if result is Result.PROMOTE]
    # the first tick promotes (no change yet), then every 15-minute dwell: 3 ticks apart
    assert promotions == [(0.0, 10.0), (900.0, 25.0), (1800.0, 50.0), (2700.0, 100.0)]
    assert seen[-1][1:] == (Result.HOLD, 100.0)
    assert "fully rolled out" in run(policy, state, now).reason


def test_a_breach_steps_back_once_then_waits_out_the_cooldown(policy):
    state = RolloutState(percent=50.0, last_change_at=0.0, previous_percent=25.0)
    now = 3600.0
    back = run(policy, state, now, checks=checks(Verdict.FAIL))
    assert (back.result, back.new) == (Result.ROLLBACK, 25.0)
    assert "breach: " in back.reason and "error_ratio fail" in back.reason
    assert back.state.last_rollback_at == now and back.state.previous_percent == 50.0
    state, ticks = back.state, []
    for tick in range(1, 14):
        decision = run(policy, state, now + tick * TICK)
        ticks.append(decision.result)
        state = decision.state
    # healthy again: no promotion for an hour after the rollback, then one step up
    assert ticks[:11] == [Result.HOLD] * 11 and ticks[11] is Result.PROMOTE
    assert state.percent == 50.0


def test_a_severe_breach_goes_to_zero_at_once_even_right_after_a_change(policy):
    state = RolloutState(percent=50.0, last_change_at=1000.0)
    severe = Measurement("page_alerts", Verdict.FAIL, 1.0, detail="GmailAvailabilityBudgetBurn")
    decision = run(policy, state, 1010.0, severe=severe)
    assert (decision.result, decision.new) == (Result.ROLLBACK, 0.0)
    assert decision.reason.startswith("severe breach: page_alerts fail")
    again = run(policy, decision.state, 1300.0, severe=severe)
    assert (again.result, again.new) == (Result.HOLD, 0.0)


def test_errors_hold_and_count_but_never_roll_back(policy):
    state = RolloutState(percent=25.0, last_change_at=0.0)
    broken = checks(Verdict.ERROR, "latency_p95")
    counts = []
    for tick in range(1, 6):
        decision = run(policy, state, 5000.0 + tick * TICK, checks=broken)
        assert (decision.result, decision.new) == (Result.HOLD, 25.0)
        counts.append(decision.state.consecutive_errors)
        state = decision.state
    assert counts == [1, 2, 3, 4, 5]
    assert "5 in a row" in decision.reason
    healed = run(policy, state, 9000.0)
    assert healed.result is Result.PROMOTE and healed.state.consecutive_errors == 0


def test_an_unreadable_alert_state_is_an_error_too(policy):
    unknown = Measurement("page_alerts", Verdict.ERROR, detail="HTTP 503")
    decision = run(policy, RolloutState(percent=10.0), 5000.0, severe=unknown)
    assert decision.result is Result.HOLD and decision.state.consecutive_errors == 1


@pytest.mark.parametrize("which", ["request_rate", "error_ratio", "latency_p95"])
def test_inconclusive_never_promotes(policy, which):
    state = RolloutState(percent=10.0, last_change_at=0.0)
    decision = run(policy, state, 100_000.0, checks=checks(Verdict.INCONCLUSIVE, which))
    assert (decision.result, decision.new) == (Result.HOLD, 10.0)
    assert decision.reason.startswith("inconclusive, never a promotion")


def test_within_a_rate_window_of_a_change_nothing_is_judged(policy):
    state = RolloutState(percent=25.0, last_change_at=1000.0)
    decision = run(policy, state, 1000.0 + RATE_WINDOW - 1, checks=checks(Verdict.FAIL))
    assert decision.result is Result.HOLD and "rate window" in decision.reason
    later = run(policy, state, 1000.0 + RATE_WINDOW, checks=checks(Verdict.FAIL))
    assert later.result is Result.ROLLBACK


def test_the_floor_stops_a_step_back(policy):
    floored = policy.model_copy(update={"floor": 10.0})
    at_floor = decide(
        floored, RATE_WINDOW, RolloutState(percent=10.0), checks(Verdict.FAIL), QUIET, 1e6
    )
    assert at_floor.result is Result.HOLD and "at the floor 10%" in at_floor.reason
    above = decide(
        floored, RATE_WINDOW, RolloutState(percent=25.0), checks(Verdict.FAIL), QUIET, 1e6
    )
    assert (above.result, above.new) == (Result.ROLLBACK, 10.0)
    assert step_back(floored, 1.0) == 10.0  # below the floor after a manual override: up to it


def test_paused_moves_nothing_even_under_a_severe_breach(policy):
    state = RolloutState(percent=50.0, paused=True)
    severe = Measurement("page_alerts", Verdict.FAIL, 1.0)
    decision = run(policy, state, 1e6, severe=severe)
    assert (decision.result, decision.new, decision.state) == (Result.PAUSE, 50.0, state)


def test_a_manual_percentage_between_steps_moves_to_the_neighbouring_steps(policy):
    assert next_step(policy, 30.0) == 50.0 and step_back(policy, 30.0) == 25.0
    assert next_step(policy, 100.0) is None
    promoted = run(policy, RolloutState(percent=30.0), 1e6)
    assert (promoted.result, promoted.new) == (Result.PROMOTE, 50.0)
