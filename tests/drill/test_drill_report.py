"""The drill report and its tabletop score, on a fake run and a fake Prometheus (no stack)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest

from relayops.dashboards import render_dashboards
from relayops.drill.plan import DrillPlan
from relayops.drill.plots import Window, plot_timeline
from relayops.drill.report import write_report
from relayops.drill.run import Check, DrillResult, Phases, Timeline
from relayops.drill.score import OVERVIEW_DASHBOARD, Point, tabletop_score
from relayops.runbooks import render_runbooks
from relayops.spec import SpecSet
from relayops.stack.state import Component, Stack
from tests.drill_util import drill_plan

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
PAGER = "relay-critical-pagerduty"
SLACK = "relay-warning-slack"
FAST = "GmailAvailabilityBudgetBurn/page_fast"
SLOW = "GmailAvailabilityBudgetBurn/page_slow"
TICKET = "GmailAvailabilityBudgetBurn/ticket_fast"
WARN = "GmailErrorRatioHigh/warning"
CRIT = "GmailErrorRatioHigh/critical"
PROM_URL = "http://prometheus.test:9090"
PHASES = Phases(fault_start=20.0, fault_end=120.0, prefix=10.0)


@pytest.fixture(scope="module")
def plan(specs: SpecSet) -> DrillPlan:
    """fast-burn-outage on Gmail at ×60 (the runs below put the fault at 20 s to 120 s)."""
    return drill_plan(specs, "fast-burn-outage", "gmail")


@pytest.fixture(scope="module")
def rendered(specs: SpecSet) -> tuple[dict[str, str], dict[str, str]]:
    return render_dashboards(specs), render_runbooks(specs)


def detected(plan: DrillPlan, ref: str) -> float:
    """When the run below sees `ref` fire: 0.5 s after theory, rounded to a tenth."""
    expected = next(e for e in plan.fires if e.ref == ref)
    return round(PHASES.fault_start + plan.expected_detection(expected, PHASES.prefix) + 0.5, 1)


def good_timeline(plan: DrillPlan) -> Timeline:
    firing = {ref: detected(plan, ref) for ref in (FAST, SLOW, WARN, CRIT, TICKET)}
    return Timeline(
        pending={ref: t - 2.0 for ref, t in firing.items()},
        firing=firing,
        resolved={FAST: 125.0, SLOW: 126.0, WARN: 126.0, CRIT: 125.0, TICKET: 239.0},
        suppressed={SLOW: firing[SLOW] + 1, WARN: firing[WARN] + 1, TICKET: firing[TICKET] + 1},
        notified={
            (FAST, "firing", PAGER): firing[FAST] + 1,
            (CRIT, "firing", PAGER): firing[CRIT] + 1,
            (FAST, "resolved", PAGER): 128.0,
            (CRIT, "resolved", PAGER): 128.0,
        },
    )


def result_of(plan: DrillPlan, timeline: Timeline, started_at: float = 0.0) -> DrillResult:
    return DrillResult(
        plan, timeline, (Check("alerts fire", True, "fake run"),), PHASES, started_at
    )


def score(specs, plan, rendered, timeline: Timeline, **files) -> tuple[Point, ...]:
    dashboards, runbooks = files.get("dashboards", rendered[0]), files.get("runbooks", rendered[1])
    return tabletop_score(specs, result_of(plan, timeline), dashboards, runbooks)


def test_a_clean_run_scores_six(specs, plan, rendered) -> None:
    points = score(specs, plan, rendered, good_timeline(plan))
    assert [p.ok for p in points] == [True] * 6, points
    assert "suppressed by" in points[4].evidence


def test_late_firing_fails_point_one(specs, plan, rendered) -> None:
    timeline = good_timeline(plan)
    timeline.firing[FAST] += 2.0  # 2.5 s after theory: more than two evaluation intervals
    points = score(specs, plan, rendered, timeline)
    assert not points[0].ok and FAST in points[0].evidence
    timeline.firing[FAST] -= 5.0  # as far before theory
    assert not score(specs, plan, rendered, timeline)[0].ok
    timeline.firing.pop(SLOW)
    assert "never fired" in score(specs, plan, rendered, timeline)[0].evidence


def test_a_warning_paging_fails_point_two(specs, plan, rendered) -> None:
    timeline = good_timeline(plan)
    timeline.notified[(WARN, "firing", PAGER)] = 60.0
    point = score(specs, plan, rendered, timeline)[1]
    assert not point.ok and f"went to {PAGER}, not {SLACK}" in point.evidence


def test_an_unnotified_uninhibited_alert_fails_point_two(specs, plan, rendered) -> None:
    timeline = good_timeline(plan)
    del timeline.notified[(CRIT, "firing", PAGER)]
    point = score(specs, plan, rendered, timeline)[1]
    assert not point.ok and CRIT in point.evidence


def test_a_dashboard_without_the_error_ratio_fails_point_three(specs, plan, rendered) -> None:
    board = json.loads(rendered[0][OVERVIEW_DASHBOARD])
    board["panels"] = [
        p
        for p in board["panels"]
        if not any("error:ratio" in t.get("expr", "") for t in p.get("targets", []))
    ]
    dashboards = {**rendered[0], OVERVIEW_DASHBOARD: json.dumps(board)}
    point = score(specs, plan, rendered, good_timeline(plan), dashboards=dashboards)[2]
    assert not point.ok and "error ratio" in point.evidence
    missing = {k: v for k, v in rendered[0].items() if k != OVERVIEW_DASHBOARD}
    assert not score(specs, plan, rendered, good_timeline(plan), dashboards=missing)[2].ok


def test_a_missing_runbook_or_section_fails_point_four(specs, plan, rendered) -> None:
    path = "runbooks/GmailErrorRatioHigh.md"
    without = {k: v for k, v in rendered[1].items() if k != path}
    point = score(specs, plan, rendered, good_timeline(plan), runbooks=without)[3]
    assert not point.ok and f"{path} is not rendered" in point.evidence
    renamed = {**rendered[1], path: rendered[1][path].replace("warning", "warn")}
    point = score(specs, plan, rendered, good_timeline(plan), runbooks=renamed)[3]
    assert not point.ok and "no heading #warning" in point.evidence


def test_a_warning_not_inhibited_fails_point_five(specs, plan, rendered) -> None:
    timeline = good_timeline(plan)
    del timeline.suppressed[WARN]
    point = score(specs, plan, rendered, timeline)[4]
    assert not point.ok and f"{WARN} was not suppressed while {CRIT} fired" in point.evidence


def test_no_pair_counts_point_five_as_passed(specs, plan, rendered) -> None:
    timeline = Timeline(firing={WARN: 28.0}, resolved={WARN: 126.0})
    point = score(specs, plan, rendered, timeline)[4]
    assert point.ok and point.evidence.startswith("N/A")


def test_an_unresolved_alert_fails_point_six(specs, plan, rendered) -> None:
    timeline = good_timeline(plan)
    del timeline.resolved[FAST]
    point = score(specs, plan, rendered, timeline)[5]
    assert not point.ok and FAST in point.evidence


def test_resolving_long_after_theory_fails_point_six(specs, plan, rendered) -> None:
    timeline = good_timeline(plan)
    timeline.resolved[CRIT] = PHASES.fault_end + 15.0  # theory: about 6.5 s after the fault
    point = score(specs, plan, rendered, timeline)[5]
    assert not point.ok and f"{CRIT} resolved 15.0s after the fault" in point.evidence


class FakePrometheus:
    """query_range answers: 20 req/s, error ratio 1 during the fault, burn ratios likewise."""

    def __init__(self, started_at: float, empty: str = "", fail: int = 0):
        self.started_at = started_at
        self.empty = empty
        self.fail = fail
        self.queries: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        query = request.url.params["query"]
        self.queries.append(query)
        if self.fail:
            return httpx.Response(self.fail, json={"status": "error", "error": "boom"})
        start, end = float(request.url.params["start"]), float(request.url.params["end"])
        times = [start + s for s in range(int(end - start) + 1)]
        value = (lambda t: 20.0) if ":rate" in query else (lambda t: float(50 <= t - start < 150))
        values = [[t, str(value(t))] for t in times]
        series = [] if self.empty and self.empty in query else [{"metric": {}, "values": values}]
        return httpx.Response(
            200, json={"status": "success", "data": {"resultType": "matrix", "result": series}}
        )


def fake_stack(tmp_path: Path) -> Stack:
    prometheus = Component("prometheus", PROM_URL, 9090, 1, "fake", tmp_path / "prom.log")
    return Stack(tmp_path, tmp_path, 0.0, {"prometheus": prometheus})


def report(specs, plan, tmp_path: Path, prometheus: FakePrometheus, out: str = "out") -> Path:
    client = httpx.Client(transport=httpx.MockTransport(prometheus))
    result = result_of(plan, good_timeline(plan), prometheus.started_at)
    return write_report(specs, fake_stack(tmp_path), result, tmp_path / out, client=client)


def test_report_markdown_and_plots(specs, plan, tmp_path: Path) -> None:
    started = time.time() - 290
    prometheus = FakePrometheus(started)
    path = report(specs, plan, tmp_path, prometheus)
    text = path.read_text()
    assert path.name == "fast-burn-outage-gmail.md"
    assert "## Tabletop score: 6/6" in text
    assert "| 1 | fired in time | pass |" in text
    fast = next(e for e in plan.fires if e.ref == FAST)
    theory = plan.expected_detection(fast, PHASES.prefix)
    measured = detected(plan, FAST) - PHASES.fault_start
    reset = plan.expected_clearing(fast, 100.0, PHASES.prefix)
    row = (
        f"| `{FAST}` | {theory:.1f}s | {measured:.1f}s | {measured - theory:+.1f}s (±2s) | "
        f"{reset:.1f}s | 5.0s | `{PAGER}` | `{PAGER}` | — |"
    )
    assert row in text, text
    warn = f"| `{SLACK}` | none | `{CRIT}` (suppressed at {detected(plan, WARN) + 1:.1f}s) |"
    assert warn in text
    assert f"| {detected(plan, FAST) + 1:.1f}s | `{FAST}` | firing | `{PAGER}` |" in text
    assert "with the 10.0s of healthy data" in text
    assert "No data" not in text
    images = [line[line.index("(") + 1 : -1] for line in text.splitlines() if line.startswith("![")]
    # the signal plot shows the quantity of each non-burn alert expected: the error ratio
    assert any("action_exec_error:ratio_rate5s" in q for q in prometheus.queries)
    assert images == [
        "fast-burn-outage-gmail-timeline.png",
        "fast-burn-outage-gmail-signal.png",
        "fast-burn-outage-gmail-burn-availability.png",
    ]
    for name in images:
        assert (path.parent / name).read_bytes().startswith(PNG_MAGIC)
    assert 'provider_action:action_exec:rate5s{action="gmail.send",provider="google"}' in (
        prometheus.queries
    )
    assert any(
        "slo_errors:ratio_rate1m" in q and 'slo="availability"' in q for q in prometheus.queries
    )
    again = report(specs, plan, tmp_path, FakePrometheus(started), out="again")
    assert again.read_text() == text


def test_an_empty_series_is_reported_as_no_data(specs, plan, tmp_path: Path) -> None:
    path = report(specs, plan, tmp_path, FakePrometheus(time.time() - 60, empty="error:ratio"))
    text = path.read_text()
    assert "No data (plotted as such):" in text
    assert "- `provider_action:action_exec_error:ratio_rate5s{" in text
    assert (path.parent / "fast-burn-outage-gmail-signal.png").read_bytes().startswith(PNG_MAGIC)


def test_a_prometheus_error_names_the_url_and_query(specs, plan, tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match=rf"{PROM_URL}/api/v1/query_range query '.*rate5s"):
        report(specs, plan, tmp_path, FakePrometheus(time.time() - 60, fail=503))


def test_a_failed_query_status_is_an_error(specs, plan, tmp_path: Path) -> None:
    class Failing(FakePrometheus):
        def __call__(self, request: httpx.Request) -> httpx.Response:
            return httpx.Response(200, json={"status": "error", "error": "bad query"})

    with pytest.raises(RuntimeError, match=r"query_range query .*unexpected answer"):
        report(specs, plan, tmp_path, Failing(time.time() - 60))


def test_a_timeline_without_alerts_still_plots(tmp_path: Path) -> None:
    path = plot_timeline(tmp_path / "t.png", Timeline(), Window(0.0, 20.0, 35.0))
    assert path.read_bytes().startswith(PNG_MAGIC)
