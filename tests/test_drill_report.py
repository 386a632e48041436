"""The drill report and its tabletop score, on a fake run and a fake Prometheus (no stack)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest

from dashboards import render_dashboards
from relayops.drill.plan import DrillPlan, plan_drill
from relayops.drill.plots import Window, plot_timeline
from relayops.drill.report import write_report
from relayops.drill.run import Check, DrillResult, Timeline
from relayops.drill.score import OVERVIEW_DASHBOARD, Point, fault_end, tabletop_score
from relayops.spec import SpecSet, load_specs
from relayops.stack.state import Component, Stack
from runbooks import render_runbooks
from synth.scenarios import scenarios

REPO = Path(__file__).resolve().parent.parent
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
PAGER = "relay-critical-pagerduty"
SLACK = "relay-warning-slack"
FAST = "GmailAvailabilityBudgetBurn/page_fast"
SLOW = "GmailAvailabilityBudgetBurn/page_slow"
TICKET = "GmailAvailabilityBudgetBurn/ticket_fast"
WARN = "GmailErrorRatioHigh/warning"
CRIT = "GmailErrorRatioHigh/critical"
PROM_URL = "http://prometheus.test:9090"


@pytest.fixture(scope="module")
def specs() -> SpecSet:
    return load_specs(REPO / "specs")


@pytest.fixture(scope="module")
def plan(specs: SpecSet) -> DrillPlan:
    """fast-burn-outage on Gmail at ×60: fault from 50 s to 150 s of a 200 s scenario."""
    return plan_drill(specs, scenarios(specs)["fast-burn-outage"], "gmail", 60, 20.0, 120.0)


@pytest.fixture(scope="module")
def rendered(specs: SpecSet) -> tuple[dict[str, str], dict[str, str]]:
    return render_dashboards(specs), render_runbooks(specs)


def good_timeline() -> Timeline:
    return Timeline(
        pending={FAST: 52.0, SLOW: 60.0, WARN: 53.0, CRIT: 53.0, TICKET: 120.0},
        firing={FAST: 57.0, SLOW: 75.0, WARN: 58.0, CRIT: 58.0, TICKET: 135.0},
        resolved={FAST: 160.0, SLOW: 170.0, WARN: 158.0, CRIT: 158.0, TICKET: 175.0},
        suppressed={SLOW: 76.0, WARN: 59.0, TICKET: 136.0},
        notified={
            (FAST, "firing", PAGER): 60.0,
            (CRIT, "firing", PAGER): 61.0,
            (FAST, "resolved", PAGER): 165.0,
            (CRIT, "resolved", PAGER): 163.0,
        },
    )


def result_of(plan: DrillPlan, timeline: Timeline) -> DrillResult:
    return DrillResult(plan, timeline, (Check("alerts fire", True, "fake run"),))


def score(specs, plan, rendered, timeline: Timeline, **files) -> tuple[Point, ...]:
    dashboards, runbooks = files.get("dashboards", rendered[0]), files.get("runbooks", rendered[1])
    return tabletop_score(specs, result_of(plan, timeline), dashboards, runbooks)


def test_fault_end_is_the_end_of_the_fault_phase(plan: DrillPlan) -> None:
    assert (plan.fault_start, fault_end(plan)) == (50.0, 150.0)


def test_a_clean_run_scores_six(specs, plan, rendered) -> None:
    points = score(specs, plan, rendered, good_timeline())
    assert [p.ok for p in points] == [True] * 6, points
    assert "suppressed by" in points[4].evidence


def test_late_firing_fails_point_one(specs, plan, rendered) -> None:
    timeline = good_timeline()
    timeline.firing[FAST] = 50.0 + 8.0 + 10.0 + 0.5
    points = score(specs, plan, rendered, timeline)
    assert not points[0].ok and FAST in points[0].evidence
    timeline.firing.pop(SLOW)
    assert "never fired" in score(specs, plan, rendered, timeline)[0].evidence


def test_a_warning_paging_fails_point_two(specs, plan, rendered) -> None:
    timeline = good_timeline()
    timeline.notified[(WARN, "firing", PAGER)] = 60.0
    point = score(specs, plan, rendered, timeline)[1]
    assert not point.ok and f"went to {PAGER}, not {SLACK}" in point.evidence


def test_an_unnotified_uninhibited_alert_fails_point_two(specs, plan, rendered) -> None:
    timeline = good_timeline()
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
    point = score(specs, plan, rendered, good_timeline(), dashboards=dashboards)[2]
    assert not point.ok and "error ratio" in point.evidence
    missing = {k: v for k, v in rendered[0].items() if k != OVERVIEW_DASHBOARD}
    assert not score(specs, plan, rendered, good_timeline(), dashboards=missing)[2].ok


def test_a_missing_runbook_or_section_fails_point_four(specs, plan, rendered) -> None:
    path = "runbooks/GmailErrorRatioHigh.md"
    without = {k: v for k, v in rendered[1].items() if k != path}
    point = score(specs, plan, rendered, good_timeline(), runbooks=without)[3]
    assert not point.ok and f"{path} is not rendered" in point.evidence
    renamed = {**rendered[1], path: rendered[1][path].replace("warning", "warn")}
    point = score(specs, plan, rendered, good_timeline(), runbooks=renamed)[3]
    assert not point.ok and "no heading #warning" in point.evidence


def test_a_warning_not_inhibited_fails_point_five(specs, plan, rendered) -> None:
    timeline = good_timeline()
    del timeline.suppressed[WARN]
    point = score(specs, plan, rendered, timeline)[4]
    assert not point.ok and f"{WARN} was not suppressed while {CRIT} fired" in point.evidence


def test_no_pair_counts_point_five_as_passed(specs, plan, rendered) -> None:
    timeline = Timeline(firing={WARN: 58.0}, resolved={WARN: 158.0})
    point = score(specs, plan, rendered, timeline)[4]
    assert point.ok and point.evidence.startswith("N/A")


def test_an_unresolved_alert_fails_point_six(specs, plan, rendered) -> None:
    timeline = good_timeline()
    del timeline.resolved[FAST]
    point = score(specs, plan, rendered, timeline)[5]
    assert not point.ok and FAST in point.evidence


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
    result = result_of(plan, good_timeline())
    return write_report(
        specs, fake_stack(tmp_path), result, prometheus.started_at, tmp_path / out, client=client
    )


def test_report_markdown_and_plots(specs, plan, tmp_path: Path) -> None:
    started = time.time() - 290
    prometheus = FakePrometheus(started)
    path = report(specs, plan, tmp_path, prometheus)
    text = path.read_text()
    assert path.name == "fast-burn-outage-gmail.md"
    assert "## Tabletop score: 6/6" in text
    assert "| 1 | fired in time | pass |" in text
    assert f"| `{FAST}` | 8.0s | 7.0s | ≤ 5.0s | 10.0s | `{PAGER}` | `{PAGER}` | — |" in text, text
    warn = f"| `{WARN}` | 10.0s | 8.0s | ≤ 5.0s | 8.0s | `{SLACK}` | none | `{CRIT}` (suppressed"
    assert warn + " at 59.0s) |" in text
    assert f"| 60.0s | `{FAST}` | firing | `{PAGER}` |" in text
    assert "No data" not in text
    images = [line[line.index("(") + 1 : -1] for line in text.splitlines() if line.startswith("![")]
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
