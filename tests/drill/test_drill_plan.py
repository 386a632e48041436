"""Drill expectations: which alerts a scenario must fire within a time-scaled run."""

from __future__ import annotations

import pytest

from relayops.cli import main
from relayops.drill.plan import plan_drill
from relayops.drill.run import Phases
from tests.drill_util import drill_plan, shipped_world
from tests.specs_util import SPECS


@pytest.fixture(scope="module")
def world(specs):
    return shipped_world(specs)


def test_fast_burn_expects_the_page_tiers_in_workbook_time(specs, world):
    plan = drill_plan(specs, "fast-burn-outage", "gmail", world)
    assert (plan.rate, plan.pushed_rate) == (20.0, 1200.0)
    fires = {e.ref: e for e in plan.fires}
    page_fast = fires["GmailAvailabilityBudgetBurn/page_fast"]
    # 14.4% failures burn the 0.1% budget 144×: 1m window × 14.4 / 144 + 2s for = 8 s (the
    # healthy traffic's own 0.01% failures in the window make it a touch sooner)
    assert page_fast.detection == pytest.approx(8.0, abs=0.1)
    assert page_fast.receiver == "relay-critical-pagerduty"
    assert fires["GmailAvailabilityBudgetBurn/page_slow"].detection == pytest.approx(30.0, abs=0.5)
    assert "GmailAvailabilityBudgetBurn/ticket_slow" in plan.too_slow
    # the outage (60% of the run after a 10% lead) outlasts every detection with room for
    # the pipeline and the tolerance
    assert plan.fault_start == pytest.approx(plan.run_seconds * 0.1)
    assert plan.run_seconds * 0.6 >= max(
        e.detection + world.pipeline.delay(e.alert) + plan.tolerance for e in plan.fires
    )
    # the healthy tail and recovery outlast the slowest clearing (ticket_fast's 2m window)
    assert plan.run_seconds * 0.3 + plan.recovery_seconds > 115
    assert "GmailLatencyBudgetBurn/page_fast" in plan.silent


def test_metrics_missing_is_judged_from_the_stale_marker(specs, world):
    plan = drill_plan(specs, "metrics-missing", "outlook", world)
    (missing,) = plan.fires
    # the deleted group's series go stale at the next scrape, then `for` (5m / 60)
    assert missing.ref == "OutlookMetricsMissing/critical" and missing.detection == 5.0
    assert world.pipeline.delay(missing.alert) == 1.0  # half a scrape and half an evaluation


def test_slower_alerts_are_not_judged_but_named(specs, world):
    plan = drill_plan(specs, "slow-burn", "gmail", world)
    assert plan.fires == ()
    assert plan.too_slow == ("GmailAvailabilityBudgetBurn/ticket_slow",)


def test_a_healthy_run_expects_nothing_and_silences_everything(specs, world):
    plan = drill_plan(specs, "healthy", "gmail", world)
    assert plan.fires == () and plan.too_slow == ()
    assert len(plan.silent) == 21  # every Gmail alert rule and tier
    # silence is proven over a full page_fast window (1h / 60), the longest that fits
    assert plan.run_seconds == 65


def test_low_traffic_keeps_three_requests_per_compressed_hour(specs, world):
    plan = drill_plan(specs, "low-traffic-noise", "gmail", world)
    assert plan.rate == pytest.approx(3 / 3600) and plan.pushed_rate == pytest.approx(3 / 60)
    assert plan.fires == ()


def test_scenario_for_another_provider_is_refused(world):
    with pytest.raises(ValueError, match="applies to: outlook"):
        plan_drill(world, "upload-failures", "gmail", rate=20.0, max_seconds=120)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["drill", "run", "nope"], "no scenario 'nope'"),
        (
            ["drill", "run", "upload-failures", "--provider", "gmail"],
            "applies to outlook, not gmail",
        ),
    ],
)
def test_drill_cli_refuses_bad_arguments(argv, message, capsys):
    assert main([*argv, "--specs", str(SPECS)]) == 2
    assert message in capsys.readouterr().err


def test_judge_requires_fire_in_time_route_or_inhibit_resolve_and_silence(specs, world):
    from relayops.drill.run import Timeline, _judge

    plan = drill_plan(specs, "error-rate-crit", "gmail", world)
    warning, critical = "GmailErrorRatioHigh/warning", "GmailErrorRatioHigh/critical"
    phases = Phases(fault_start=0.0, fault_end=110.0, prefix=8.0, end=40.0)
    timeline = Timeline()
    for expected in plan.fires:
        timeline.firing[expected.ref] = plan.expected_detection(expected, phases.prefix) + 1.5
        timeline.resolved[expected.ref] = 200.0
        timeline.notified[(expected.ref, "firing", expected.receiver)] = 11.0
    timeline.notifications = [
        (11.0, plan.pager, "{}:{provider=google}", "firing"),
        (200.0, plan.pager, "{}:{provider=google}", "resolved"),
    ]
    assert all(c.ok for c in _judge(plan, timeline, phases))

    del timeline.notified[(warning, "firing", "relay-warning-slack")]
    timeline.suppressed[warning] = 12.0
    assert all(c.ok for c in _judge(plan, timeline, phases)), "inhibited, not notified, is fine"

    del timeline.resolved[critical]
    timeline.firing["GmailLatencyHigh/warning"] = 30.0
    timeline.firing[warning] += 1.0  # 2.5 s late: more than two evaluation intervals
    failed = {c.name: c.evidence for c in _judge(plan, timeline, phases) if not c.ok}
    assert set(failed) == {
        f"{critical} resolves",
        f"{warning} fires in time",
        "alerts meant to stay silent stay silent",
    }
    assert failed[f"{critical} resolves"] == "still firing at the end"
    assert failed["alerts meant to stay silent stay silent"] == "GmailLatencyHigh/warning"
    assert "allowed ±2s" in failed[f"{warning} fires in time"]


def test_a_page_is_a_firing_notification_for_a_group_not_already_open():
    from relayops.drill.run import Timeline, page_tally

    timeline = Timeline()
    timeline.notifications = [
        (1.0, "pager", "g1", "firing"),
        (2.0, "pager", "g1", "firing"),  # the group changed: PagerDuty dedups it
        (3.0, "slack", "g2", "firing"),
        (4.0, "pager", "g1", "resolved"),
        (5.0, "pager", "g1", "firing"),  # the same group again after it resolved: a new page
        (6.0, "pager", "g3", "firing"),
    ]
    assert page_tally(timeline, "pager") == (4, 3)
    assert page_tally(timeline, "slack") == (1, 1)
    assert page_tally(timeline, "nobody") == (0, 0)


def test_judge_wants_one_page_none_after_the_fault_and_slow_tiers_judged_on_the_run(specs, world):
    from relayops.drill.run import Timeline, _judge

    plan = drill_plan(specs, "error-rate-crit", "gmail", world)
    assert plan.too_slow, "the error-rate drill has tiers too slow for its planned fault"
    slow = plan.too_slow[0]
    timeline = Timeline()
    for expected in plan.fires:
        timeline.firing[expected.ref] = plan.expected_detection(expected, 8.0) + 1.5
        timeline.resolved[expected.ref] = 200.0
        timeline.notified[(expected.ref, "firing", expected.receiver)] = 11.0
    group = "{}:{provider=google}"
    timeline.notifications = [
        (11.0, plan.pager, group, "firing"),
        (150.0, plan.pager, group, "resolved"),
        (160.0, plan.pager, group, "firing"),
    ]
    timeline.firing[slow] = 150.0

    # A run too short for the slow tier: it must stay silent, and it fired.
    short = Phases(fault_start=0.0, fault_end=110.0, prefix=8.0, end=40.0)
    failed = {c.name: c.evidence for c in _judge(plan, timeline, short) if not c.ok}
    assert failed[f"1 page at {plan.pager}"] == "2 incident(s) opened by 2 firing notification(s)"
    assert failed["alerts too slow for this run stay silent"].startswith(slow)
    if plan.receivers[slow] == plan.pager:
        assert slow in failed["no page starts after the fault ended"]

    # A run long enough for it: judged against the windows the run left, not silenced.
    long = Phases(fault_start=0.0, fault_end=110.0, prefix=8.0, end=400.0)
    fires = plan.theory.firing_in_run(plan.alerts[slow], 110.0, 8.0, 400.0, 1.0)
    assert fires is not None and fires > 110.0, "the tier fires on what the fault left behind"
    timeline.firing[slow] = fires + plan.pipeline.delay(plan.alerts[slow]) + 0.5
    checks = {c.name: c for c in _judge(plan, timeline, long)}
    assert checks[f"{slow} fires in time on the windows of this run"].ok
    assert checks["alerts too slow for this run stay silent"].ok
    # 0.5 s late so far; past the tier's tolerance (two evaluations, and 2 s more for the
    # period group's 5 s hop: 4 s) it fails
    assert plan.allowed(slow) == 4.0
    timeline.firing[slow] += plan.allowed(slow)
    assert not _judge_check(
        plan, timeline, long, f"{slow} fires in time on the windows of this run"
    )


def _judge_check(plan, timeline, phases, name):
    from relayops.drill.run import _judge

    return next(c for c in _judge(plan, timeline, phases) if c.name == name).ok


def test_the_note_on_a_slow_alert_says_where_its_production_timing_is_judged(specs, world):
    plan = drill_plan(specs, "error-rate-crit", "gmail", world)
    burn = plan.too_slow_note("GmailAvailabilityBudgetBurn/ticket_slow")
    other = plan.too_slow_note("GmailErrorRatioHigh/warning")
    assert "tests/scenarios/" in burn and "NOT JUDGED" not in burn
    assert "NOT JUDGED by any drill" in other
    assert "run's own windows" in burn and "run's own windows" in other
