"""Drills side by side: longest first, outcomes in order, a start gate, errors kept apart;
and the summary page built from their outcomes."""

from __future__ import annotations

import signal
import threading
import time
from types import SimpleNamespace

import pytest

from relayops.drill.parallel import DrillError, Outcome, run_drills
from relayops.drill.run import Check, DrillResult, Phases, Timeline
from relayops.drill.stopping import Cancelled, StopRequest
from relayops.drill.summary import summary_markdown
from relayops.spec import load_specs
from tests.specs_util import SPECS


def fake_plan(name: str, seconds: float, provider: str = "gmail"):
    return SimpleNamespace(
        scenario=SimpleNamespace(name=name),
        provider=provider,
        run_seconds=seconds,
        recovery_seconds=0.0,
        fires=(),
        scale=60,
        rate=20.0,
        pushed_rate=1200.0,
        tolerance=2.0,
        pager="relay-critical-pagerduty",
    )


def passed(plan) -> DrillResult:
    return DrillResult(plan, Timeline(), (Check("ok", True, "fake"),), Phases(0.0, 1.0, 1.0))


def test_longest_first_outcomes_in_order_and_errors_kept_apart():
    plans = [fake_plan("short", 5), fake_plan("broken", 10), fake_plan("long", 50)]
    started: list[str] = []
    lock = threading.Lock()

    def work(plan, emit, ready):
        with lock:
            started.append(plan.scenario.name)
        ready()
        emit("running")
        if plan.scenario.name == "broken":
            raise DrillError("the drill stack did not start: port taken")
        return passed(plan), None

    lines: list[str] = []
    outcomes = run_drills(plans, work, jobs=1, out=lines.append)
    assert started == ["long", "broken", "short"]
    assert [o.name for o in outcomes] == ["short/gmail", "broken/gmail", "long/gmail"]
    assert [o.passed for o in outcomes] == [True, False, True]
    assert outcomes[1].error == "the drill stack did not start: port taken"
    assert "[broken/gmail] ERROR the drill stack did not start: port taken" in lines
    assert "[long/gmail] running" in lines
    assert lines[-1].endswith("0 running, 3 done (2 passed, 1 not), 0 waiting")


def test_all_at_once_waits_for_every_stack_and_a_failed_start_does_not_block():
    plans = [fake_plan("quick", 5), fake_plan("slow-start", 5), fake_plan("no-stack", 5)]
    ready_at: dict[str, float] = {}
    went_on: dict[str, float] = {}

    def work(plan, emit, ready):
        name = plan.scenario.name
        if name == "no-stack":
            time.sleep(0.2)
            raise DrillError("no stack")
        if name == "slow-start":
            time.sleep(0.4)
        ready_at[name] = time.monotonic()
        ready()
        went_on[name] = time.monotonic()
        return passed(plan), None

    outcomes = run_drills(plans, work, jobs=3, out=lambda line: None)
    assert [o.passed for o in outcomes] == [True, True, False]
    # the quick drill was held until the slow stack was up
    assert went_on["quick"] >= ready_at["slow-start"]


def test_summary_lists_every_drill_detection_and_low_traffic_pages():
    specs = load_specs(SPECS)
    low = fake_plan("low-traffic-noise", 65)
    low.rate = 3 / 3600
    timeline = Timeline(
        firing={"GmailErrorRatioHigh/warning": 3.0},
        notified={("GmailMetricsMissing/critical", "firing", "relay-critical-pagerduty"): 2.0},
        notifications=[
            (2.0, "relay-critical-pagerduty", "g1", "firing"),
            (3.0, "relay-warning-slack", "g2", "firing"),
            (4.0, "relay-critical-pagerduty", "g1", "firing"),
            (9.0, "relay-critical-pagerduty", "g1", "resolved"),
        ],
    )
    result = DrillResult(low, timeline, (Check("silent", False, "loud"),), Phases(0.0, 1.0, 1.0))

    text = summary_markdown(specs, [Outcome(low, 80.0, result)], 95.0)
    assert "0 of 1 drills passed in 95s of wall time" in text
    assert "| low-traffic-noise/gmail | FAIL: silent | 80s | none | — |" in text
    assert "- low-traffic-noise/gmail: 3 requests an hour" in text
    assert "pages to `relay-critical-pagerduty`: GmailMetricsMissing/critical." in text
    assert "| low-traffic-noise/gmail | `relay-critical-pagerduty` | 2 | 1 | 1 |" in text
    assert "| low-traffic-noise/gmail | `relay-warning-slack` | 1 | 1 | 0 |" in text


def test_a_stop_request_releases_the_start_gate_and_starts_nothing_more():
    """One drill waits at the start gate for a stack that never comes; the stop request lets
    it go with Cancelled, and with one job at a time the queued drills never start."""
    stop = StopRequest()
    started: list[str] = []

    def work(plan, emit, ready):
        started.append(plan.scenario.name)
        if plan.scenario.name == "first":
            threading.Timer(0.2, stop.request, args=(signal.SIGTERM,)).start()
            stop.sleep(30)
        ready()
        return passed(plan), None

    plans = [fake_plan("first", 50), fake_plan("queued", 5)]
    began = time.monotonic()
    with pytest.raises(Cancelled, match="stopped by SIGTERM"):
        run_drills(plans, work, jobs=1, out=lambda line: None, stop=stop)
    assert started == ["first"] and time.monotonic() - began < 5

    waiting = StopRequest()
    threading.Timer(0.2, waiting.request, args=(signal.SIGINT,)).start()
    never_ready = [fake_plan("ready", 5), fake_plan("never", 5)]

    def hold(plan, emit, ready):
        if plan.scenario.name == "never":
            waiting.sleep(30)
        ready()
        return passed(plan), None

    with pytest.raises(Cancelled, match="stopped by SIGINT"):
        run_drills(never_ready, hold, jobs=2, out=lambda line: None, stop=waiting)
