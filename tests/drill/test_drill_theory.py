"""The drill theory against the rules themselves: the Prometheus 2.42 evaluator runs the
time-scaled rules over the traffic a drill pushes, and the theory must call the moment each
alert fires and clears to within the one-second evaluation grid."""

from __future__ import annotations

import math

import pytest

from relayops.drill.theory import Pipeline, evaluation_hops, first_true, theory_for
from relayops.promql import SeriesDB
from relayops.promql.simulate import Simulation
from relayops.promtest.closure import prune
from relayops.render import render_time_scaled
from relayops.rules.alerts import alert_defs, alert_groups
from relayops.rules.recording import recording_groups
from relayops.spec import SpecSet
from relayops.spec.timescale import time_scaled
from relayops.synth.scenarios import scenarios
from relayops.synth.state import GroupState
from relayops.synth.traffic import RequestTraffic
from tests.drill_util import scaled_pipeline
from tests.specs_util import SPECS

SCALE = 60
RATE = 1200.0  # 20 req/s in production, ×60
PREFIX = 12  # seconds of healthy traffic before the fault


def simulated(specs: SpecSet, provider: str, ref: str, segments: list[tuple[object, int]]):
    """Per-second firing state of `ref` while the traffic of `segments` (shape, seconds) is
    scraped every second and the rules are evaluated every second."""
    scaled = time_scaled(specs, SCALE)
    spec = scaled.provider(provider)
    traffic = RequestTraffic(specs, specs.provider(provider))
    state = GroupState(specs)
    for shape, _ in segments:
        state.add(traffic.per_request(shape), 0.0)
    db = SeriesDB()
    t = 0
    for shape, seconds in segments:
        for _ in range(seconds):
            for _, keys in state.series():
                for key in keys:
                    db.add(key, t, state.exposed(key))
            state.add(traffic.per_request(shape), RATE * shape.rate)
            t += 1
    name = ref.split("/", 1)[0]
    groups = recording_groups(scaled, spec) + alert_groups(scaled, spec)
    sim = Simulation(prune(groups, {name}), db, 1)
    on = []
    for second in range(t):
        firing = sim.firing(second)
        on.append(
            any(
                a.labels["alertname"] == name
                and ref.split("/", 1)[1] in (a.labels.get("burn_tier"), a.labels["severity"])
                for a in firing
            )
        )
    return on


CASES = [
    ("validation-spike", "gmail", "GmailValidationErrorSpike/warning"),
    ("error-rate-crit", "outlook", "OutlookAvailabilityBudgetBurn/page_fast"),
    ("error-rate-crit", "outlook", "OutlookAvailabilityBudgetBurn/page_slow"),
    ("error-rate-crit", "gmail", "GmailErrorRatioHigh/critical"),
    ("latency-crit", "gmail", "GmailLatencyHigh/critical"),
    ("sanitization-spike", "outlook", "OutlookSanitizationSpike/warning"),
    ("upload-failures", "outlook", "OutlookUploadSessionsFailing/warning"),
    ("build-slow", "outlook", "OutlookGraphPayloadBuildSlow/warning"),
]


def slower_hops(specs: SpecSet, provider: str, ref: str) -> float:
    """Seconds the alert's hops wait beyond one evaluation each, by the rendered files."""
    files = render_time_scaled(specs, SPECS, SCALE, "http://127.0.0.1:9/x")
    hops = evaluation_hops(
        (text for path, text in files.items() if path.startswith(f"prometheus/{provider}")), 1.0
    )
    return sum(hops[ref]) - len(hops[ref])


@pytest.mark.parametrize(("scenario", "provider", "ref"), CASES)
def test_theory_calls_firing_and_clearing_on_the_evaluation_grid(specs, scenario, provider, ref):
    catalog = scenarios(specs)
    healthy = catalog["healthy"].plans[provider].phases[0].shape
    plan = catalog[scenario].plans[provider]
    fault = (plan.phases[1] if len(plan.phases) > 1 else plan.phases[0]).shape
    scaled = time_scaled(specs, SCALE)
    theory = theory_for(scaled, provider, healthy, fault, RATE)
    alert = next(a for a in alert_defs(scaled, scaled.provider(provider)) if a.ref == ref)
    detection = theory.detection(alert, PREFIX)
    assert detection is not None
    fault_seconds = math.ceil(detection) + 3
    clearing = theory.clearing(alert, fault_seconds, PREFIX)
    assert clearing is not None
    after = math.ceil(clearing) + 3
    on = simulated(
        specs, provider, ref, [(healthy, PREFIX), (fault, fault_seconds), (healthy, after)]
    )
    # sample t holds the traffic up to t and is evaluated at t: no delay but the grid's, and
    # for a window derived from the period group's tiles (each the events of one period
    # interval, here recorded every second) up to one period interval more
    late = slower_hops(specs, provider, ref)
    fired = on.index(True) - PREFIX
    assert detection <= fired + 0.05 and fired < detection + 1.05 + late, (fired, detection)
    assert not any(on[:PREFIX]), "silent before the fault"
    cleared = on.index(False, PREFIX + fired) - PREFIX - fault_seconds
    assert clearing <= cleared + 0.05 and cleared < clearing + 1.05, (cleared, clearing)


def test_a_longer_healthy_history_delays_a_long_window_alert(specs):
    catalog = scenarios(specs)
    healthy = catalog["healthy"].plans["gmail"].phases[0].shape
    fault = catalog["error-rate-warn"].plans["gmail"].phases[0].shape
    scaled = time_scaled(specs, SCALE)
    theory = theory_for(scaled, "gmail", healthy, fault, RATE)
    page_slow = next(
        a
        for a in alert_defs(scaled, scaled.provider("gmail"))
        if a.tier and a.tier.name == "page_slow"
    )
    # 360 s window: with 10 s of history the fault dominates at once, with a full window of
    # healthy history it must outweigh six minutes of it
    assert theory.detection(page_slow, 10) < 20 < 80 < theory.detection(page_slow)


def test_never_crossing_is_none_and_first_true_bisects():
    assert first_true(lambda t: False, 10) is None
    assert first_true(lambda t: True, 10) == 0.0
    assert first_true(lambda t: t >= 3.3, 10) == pytest.approx(3.3, abs=0.01)


def test_hops_count_evaluations_between_raw_series_and_alert(specs):
    files = render_time_scaled(specs, SPECS, SCALE, "http://127.0.0.1:9/x")
    hops = evaluation_hops(
        (text for path, text in files.items() if path.startswith("prometheus/")), 1.0
    )
    assert hops["GmailMetricsMissing/critical"] == (1.0,)  # absent() on the raw counter
    assert hops["GmailErrorRatioHigh/critical"] == (1.0, 1.0)  # a ratio from another group
    # the 6h window of page_slow is derived in the period group, every 5m / 60; page_fast
    # reads only windows of the raw counters
    assert hops["GmailAvailabilityBudgetBurn/page_slow"] == (5.0, 1.0)
    assert hops["GmailAvailabilityBudgetBurn/page_fast"] == (1.0, 1.0)
    # no recorded ratio pairs a rate with one another group recorded at another moment
    assert max(len(h) for h in hops.values()) == 2
    text = """groups:
- name: a
  rules:
  - record: x:one
    expr: sum(raw)
  - record: x:two
    expr: x:one * 2
  - alert: SamePass
    expr: x:two > 1
    labels: {severity: warning}
- name: b
  rules:
  - alert: NextGroup
    expr: x:two > 1
    labels: {severity: warning}
"""
    assert evaluation_hops([text], 30.0) == {
        "SamePass/warning": (30.0,),
        "NextGroup/warning": (30.0, 30.0),
    }
    slow = text.replace("- name: a\n", "- name: a\n  interval: 5m\n")
    assert evaluation_hops([slow], 30.0) == {
        "SamePass/warning": (300.0,),
        "NextGroup/warning": (300.0, 30.0),
    }


def test_pipeline_delay_is_half_of_each_wait(specs):
    scaled = time_scaled(specs, SCALE)
    defs = {a.ref: a for a in alert_defs(scaled, scaled.provider("outlook"))}
    pipeline = Pipeline(0.25, 1.0, 1.0, {"OutlookSanitizationSpike/warning": (1.0, 1.0, 1.0)})
    assert pipeline.delay(defs["OutlookSanitizationSpike/warning"]) == pytest.approx(2.125)
    slow = Pipeline(0.25, 1.0, 1.0, {"OutlookSanitizationSpike/warning": (5.0, 1.0)})
    assert slow.delay(defs["OutlookSanitizationSpike/warning"]) == pytest.approx(3.625)
    # the 5 s hop may wait 0-5 s: 2 s more either way than a 1 s hop
    assert slow.spread(defs["OutlookSanitizationSpike/warning"]) == pytest.approx(2.0)
    assert pipeline.spread(defs["OutlookSanitizationSpike/warning"]) == 0.0
    assert pipeline.delay(defs["OutlookMetricsMissing/critical"]) == pytest.approx(1.0)
    assert pipeline.delay(defs["OutlookRolloutControllerStalled/warning"]) == pytest.approx(0.5)
    drill = scaled_pipeline(specs)
    assert (drill.scrape, drill.evaluation) == (1.0, 1.0)


def test_a_measured_data_age_replaces_the_scrape_and_last_evaluation_waits(specs):
    scaled = time_scaled(specs, SCALE)
    defs = {a.ref: a for a in alert_defs(scaled, scaled.provider("outlook"))}
    pipeline = Pipeline(0.25, 1.0, 1.0, {"OutlookSanitizationSpike/warning": (1.0, 1.0, 1.0)})
    spike = defs["OutlookSanitizationSpike/warning"]
    # half the tick, half of each of the two earlier hops, then the data's age: 6.5 s late
    assert pipeline.delay(spike, data_age=7.5) == pytest.approx(0.125 + 1.0 + 7.5)
    # an age of a scrape and an evaluation, halved, is the mean again
    assert pipeline.delay(spike, data_age=1.0) == pytest.approx(pipeline.delay(spike))
    # absence and staleness alerts have no pushed data to age: the mean stands
    for ref in ("OutlookMetricsMissing/critical", "OutlookRolloutControllerStalled/warning"):
        assert pipeline.delay(defs[ref], data_age=7.5) == pipeline.delay(defs[ref])
