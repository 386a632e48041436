"""Drill expectations: which alerts a scenario must fire within a time-scaled run."""

from __future__ import annotations

import pytest

from relayops.cli import main
from relayops.drill.plan import LOOKBACK_SECONDS, plan_drill
from relayops.spec import load_specs
from synth.scenarios import scenarios
from tests.specs_util import SPECS


@pytest.fixture(scope="module")
def specs():
    return load_specs(SPECS)


@pytest.fixture(scope="module")
def catalog(specs):
    return scenarios(specs)


def test_fast_burn_expects_the_page_tiers_in_workbook_time(specs, catalog):
    plan = plan_drill(specs, catalog["fast-burn-outage"], "gmail", 60, 20.0, 120)
    fires = {e.ref: e for e in plan.fires}
    page_fast = fires["GmailAvailabilityBudgetBurn/page_fast"]
    # 14.4% failures burn the 0.1% budget 144×: 1m window × 14.4 / 144 + 2s for = 8 s
    assert page_fast.detection == pytest.approx(8.0)
    assert page_fast.receiver == "relay-critical-pagerduty"
    assert fires["GmailAvailabilityBudgetBurn/page_slow"].detection == pytest.approx(30.0)
    assert "GmailAvailabilityBudgetBurn/ticket_slow" in plan.too_slow
    # the outage is the middle half of the run, long enough for every expected detection
    assert plan.run_seconds * 0.5 >= max(e.detection for e in plan.fires)
    assert "GmailLatencyBudgetBurn/page_fast" in plan.silent


def test_slower_alerts_are_not_judged_but_named(specs, catalog):
    plan = plan_drill(specs, catalog["metrics-missing"], "outlook", 60, 20.0, 120)
    assert plan.fires == ()
    assert plan.too_slow == ("OutlookMetricsMissing/critical",)
    roomy = plan_drill(
        specs, catalog["metrics-missing"], "outlook", 60, 20.0, LOOKBACK_SECONDS + 60
    )
    assert [e.ref for e in roomy.fires] == ["OutlookMetricsMissing/critical"]


def test_a_healthy_run_expects_nothing_and_silences_everything(specs, catalog):
    plan = plan_drill(specs, catalog["healthy"], "gmail", 60, 20.0, 120)
    assert plan.fires == () and plan.too_slow == ()
    assert len(plan.silent) == 19


def test_scenario_for_another_provider_is_refused(specs, catalog):
    with pytest.raises(ValueError, match="applies to: outlook"):
        plan_drill(specs, catalog["oauth-refresh-failures"], "gmail", 60, 20.0, 120)


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


def test_judge_requires_fire_route_or_inhibit_resolve_and_silence(specs, catalog):
    from relayops.drill.run import Timeline, _judge

    plan = plan_drill(specs, catalog["error-rate-crit"], "gmail", 60, 20.0, 120)
    warning, critical = "GmailErrorRatioHigh/warning", "GmailErrorRatioHigh/critical"
    timeline = Timeline()
    for expected in plan.fires:
        timeline.firing[expected.ref] = 10.0
        timeline.resolved[expected.ref] = 90.0
        timeline.notified[(expected.ref, "firing", expected.receiver)] = 11.0
    assert all(c.ok for c in _judge(plan, timeline))

    del timeline.notified[(warning, "firing", "relay-warning-slack")]
    timeline.suppressed[warning] = 12.0
    assert all(c.ok for c in _judge(plan, timeline)), "inhibited instead of notified is fine"

    del timeline.resolved[critical]
    timeline.firing["GmailLatencyHigh/warning"] = 30.0
    failed = {c.name: c.evidence for c in _judge(plan, timeline) if not c.ok}
    assert failed == {
        f"{critical} resolves": "still firing at the end",
        "alerts meant to stay silent stay silent": "GmailLatencyHigh/warning",
    }
