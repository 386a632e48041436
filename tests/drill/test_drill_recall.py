"""What a drill reads back from Prometheus after the run. Its record of what fired (ALERTS,
ALERTS_FOR_STATE) completes the timeline: a firing that no poll saw is added, and resolutions
take the evaluation after the last firing one. The push time of the data each expected alert
could read when it went pending gives that data's age. On fakes for each case, and against a
real Prometheus."""

from __future__ import annotations

import time
from collections.abc import Callable
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from relayops.drill.observe import ObserveError, PromReader, active_alerts, firing_records, poll
from relayops.drill.run import Timeline, _measure_data_age, _recall
from relayops.render import DRILL_MANAGED, render_time_scaled
from relayops.rules.output import write_tree
from relayops.stack import running_stack
from relayops.synth.driver import Driver
from relayops.synth.scenarios import scenarios
from tests.daemons import require_binary
from tests.drill_util import drill_plan
from tests.specs_util import SPECS

PROM = "http://prometheus.test:9090"
MATCHERS = 'provider="microsoft"'
START = 1_800_000_000.0
SLOW = "OutlookGraphPayloadBuildSlow/warning"
SLOW_LABELS = {
    "alertname": "OutlookGraphPayloadBuildSlow",
    "severity": "warning",
    "provider": "microsoft",
}


def matrix(*series: tuple[dict[str, str], list[tuple[float, float]]]) -> dict:
    return {
        "status": "success",
        "data": {
            "resultType": "matrix",
            "result": [
                {"metric": labels, "values": [[t, str(v)] for t, v in samples]}
                for labels, samples in series
            ],
        },
    }


def fake_prometheus(
    alerts_history: dict, for_state: dict
) -> Callable[[httpx.Request], httpx.Response]:
    """Answers the two history queries; anything else is a test error."""

    def answer(request: httpx.Request) -> httpx.Response:
        query = parse_qs(urlsplit(str(request.url)).query)["query"][0]
        if query.startswith('ALERTS{provider="microsoft"}['):
            return httpx.Response(200, json=alerts_history)
        if query.startswith('ALERTS_FOR_STATE{provider="microsoft"}['):
            return httpx.Response(200, json=for_state)
        return httpx.Response(400, json={"status": "error", "error": f"unexpected {query}"})

    return answer


def history(
    active_at: float, first: float, last: float, earlier: tuple[float, float] | None = None
) -> tuple[dict, dict]:
    """ALERTS pending from `active_at` (and over `earlier`, a stretch that never fired) and
    firing from `first` to `last`, one evaluation a second at .25 past it; ALERTS_FOR_STATE
    holding activeAt in whole seconds, as Prometheus writes it."""
    pending = [(t + 0.25, 1.0) for t in range(int(active_at), int(first))]
    if earlier is not None:
        pending = [(t + 0.25, 1.0) for t in range(int(earlier[0]), int(earlier[1]))] + pending
    firing = [(t + 0.25, 1.0) for t in range(int(first), int(last) + 1)]
    state = [(t + 0.25, float(int(active_at))) for t in range(int(active_at), int(last) + 1)]
    return (
        matrix(
            ({"__name__": "ALERTS", "alertstate": "firing", **SLOW_LABELS}, firing),
            ({"__name__": "ALERTS", "alertstate": "pending", **SLOW_LABELS}, pending),
        ),
        matrix(({"__name__": "ALERTS_FOR_STATE", **SLOW_LABELS}, state)),
    )


def test_firing_records_pair_each_firing_series_with_when_it_became_active() -> None:
    alerts, state = history(START + 3, START + 13, START + 22)
    client = httpx.Client(transport=httpx.MockTransport(fake_prometheus(alerts, state)))
    with client:
        records = firing_records(PromReader(client, PROM), MATCHERS, START, START + 40)
    assert len(records) == 1
    record = records[0]
    assert record.labels == SLOW_LABELS
    assert (record.active_at, record.first, record.last) == (
        START + 3.25,
        START + 13.25,
        START + 22.25,
    )


def test_an_earlier_pending_stretch_that_never_fired_is_not_taken_for_activeat() -> None:
    alerts, state = history(START + 6, START + 13, START + 22, earlier=(START + 1, START + 4))
    client = httpx.Client(transport=httpx.MockTransport(fake_prometheus(alerts, state)))
    with client:
        records = firing_records(PromReader(client, PROM), MATCHERS, START, START + 40)
    assert [r.active_at for r in records] == [START + 6.25]


def test_an_answer_that_is_not_a_range_of_samples_is_an_error_naming_the_query() -> None:
    vector = {"status": "success", "data": {"resultType": "vector", "result": [{"metric": {}}]}}
    client = httpx.Client(transport=httpx.MockTransport(fake_prometheus(vector, vector)))
    with client, pytest.raises(ObserveError, match=r"ALERTS\{provider=.*not a range"):
        firing_records(PromReader(client, PROM), MATCHERS, START, START + 40)


@pytest.fixture(scope="module")
def plan(specs):
    return drill_plan(specs, "build-slow", "outlook")


def recall_with(
    monkeypatch: pytest.MonkeyPatch, plan, timeline: Timeline, still_firing: set[str]
) -> list[str]:
    """Run _recall against the fake, at START + 40, and return what it printed."""
    history_answer, state = history(START + 3, START + 13, START + 22)
    transport = httpx.MockTransport(fake_prometheus(history_answer, state))
    monkeypatch.setattr(time, "time", lambda: START + 40)
    lines: list[str] = []
    with httpx.Client(transport=transport) as client:
        reader = PromReader(client, PROM)
        _recall(reader, "microsoft", plan, timeline, START, still_firing, lines.append)
    return lines


def test_recall_adds_a_firing_no_poll_saw_and_resolves_it_after_its_last_evaluation(
    monkeypatch, plan
) -> None:
    timeline = Timeline(pending={SLOW: 3.3})
    lines = recall_with(monkeypatch, plan, timeline, still_firing=set())
    held = plan.for_seconds[SLOW]
    assert timeline.firing == {SLOW: pytest.approx(3.25 + held)}
    assert timeline.pending == {SLOW: 3.3}  # what the polls saw is kept
    assert timeline.resolved == {SLOW: pytest.approx(22.25 + plan.pipeline.evaluation)}
    assert lines == [f"{3.25 + held:6.1f}s firing    {SLOW} (no poll saw it; Prometheus did)"]


def test_recall_keeps_a_polled_firing_and_leaves_a_still_firing_alert_unresolved(
    monkeypatch, plan
) -> None:
    timeline = Timeline(pending={SLOW: 3.0}, firing={SLOW: 12.9})
    lines = recall_with(monkeypatch, plan, timeline, still_firing={SLOW})
    assert timeline.firing == {SLOW: 12.9}
    assert timeline.resolved == {}
    assert lines == []


def test_firing_records_match_what_a_real_prometheus_reports_live(specs, tmp_path) -> None:
    """On a time-scaled stack, Gmail's series are pushed and then deleted, so metrics-missing
    goes pending and fires; its record agrees with the alerts API: the same labels and
    activeAt, and the first firing evaluation `for` later. (Prometheus writes no ALERTS sample
    before its first evaluations have restored the alert state, so the stack's first moments
    are not the place to compare.)"""
    for binary, package in (
        ("prometheus", "prometheus"),
        ("prometheus-alertmanager", "prometheus-alertmanager"),
        ("prometheus-pushgateway", "prometheus-pushgateway"),
    ):
        require_binary(binary, package)
    tree = tmp_path / "tree"
    write_tree(tree, render_time_scaled(specs, SPECS, 60, "http://127.0.0.1:9/x"), DRILL_MANAGED)
    missing = "GmailMetricsMissing"
    gmail = specs.provider("gmail")

    def missing_is(state: str) -> Callable[[list], bool]:
        return lambda alerts: any(
            a.labels["alertname"] == missing and a.state == state for a in alerts
        )

    with (
        running_stack(SPECS, tmp_path, rendered=tree, redis=False) as stack,
        httpx.Client() as client,
    ):
        driver = Driver(specs, gmail, stack.pushgateway_url, client=client)
        driver.run(scenarios(specs)["healthy"], 6, 20.0, tick_s=0.5, time_scale=60)
        quiet = poll(
            lambda: active_alerts(client, stack.prometheus_url),
            lambda a: not any(x.labels["alertname"] == missing for x in a),
            timeout=30,
        )
        assert not any(a.labels["alertname"] == missing for a in quiet), quiet
        since = time.time()
        driver.delete()
        alerts = poll(lambda: active_alerts(client, stack.prometheus_url), missing_is("firing"), 60)
        assert missing_is("firing")(alerts), alerts
        live = next(a for a in alerts if a.labels["alertname"] == missing)
        time.sleep(2)
        reader = PromReader(client, stack.prometheus_url)
        matchers = f'provider="{gmail.provider}"'
        records = firing_records(reader, matchers, since, time.time())
    record = next(r for r in records if r.labels["alertname"] == missing)
    assert record.labels == live.labels
    assert record.active_at == pytest.approx(live.active_at, abs=0.01)
    assert record.last > record.first
    # the first evaluation at which it fired is the first at or after activeAt + for
    missing_plan = drill_plan(specs, "metrics-missing", "gmail")
    held = missing_plan.for_seconds[f"{missing}/critical"]
    evaluation = missing_plan.pipeline.evaluation
    assert record.active_at + held <= record.first <= record.active_at + held + evaluation + 0.01


def push_times_reader(asked: list[tuple[str, float]], age: float) -> PromReader:
    """A Prometheus whose latest push, at any evaluation, is `age` seconds old."""

    def answer(request: httpx.Request) -> httpx.Response:
        params = parse_qs(urlsplit(str(request.url)).query)
        query, at = params["query"][0], float(params["time"][0])
        asked.append((query, at))
        value = [at, str(at - age)]
        return httpx.Response(
            200,
            json={
                "status": "success",
                "data": {
                    "resultType": "vector",
                    "result": [{"metric": {"job": "relay-synth"}, "value": value}],
                },
            },
        )

    return PromReader(httpx.Client(transport=httpx.MockTransport(answer)), PROM)


def test_data_age_is_the_pending_evaluation_minus_the_push_time_it_could_read(plan, specs) -> None:
    pushed_at = Driver(specs, specs.provider("outlook"), "http://pushgateway.test").pushed_at_series
    asked: list[tuple[str, float]] = []
    reader = push_times_reader(asked, 6.5)
    held = plan.for_seconds[SLOW]
    # an earlier pending stretch (at 1.0 s) never fired: the age is taken where the firing
    # stretch became pending
    timeline = Timeline(pending={SLOW: 1.0}, firing={SLOW: 3.25 + held})
    _measure_data_age(reader, pushed_at, plan, timeline, START)
    assert asked == [(pushed_at, pytest.approx(START + 3.25))]
    assert timeline.data_age == {SLOW: pytest.approx(6.5)}
    # metrics-missing expects an alert on absent data: there is no push to age
    missing_plan = drill_plan(specs, "metrics-missing", "outlook")
    assert [e.ref for e in missing_plan.fires] == ["OutlookMetricsMissing/critical"]
    absent = Timeline(firing={"OutlookMetricsMissing/critical": 4.0})
    _measure_data_age(reader, pushed_at, missing_plan, absent, START)
    assert absent.data_age == {} and len(asked) == 1
    expected = next(e for e in plan.fires if e.ref == SLOW)
    late = plan.expected_detection(expected, 3.0, timeline.data_age[SLOW])
    assert late - plan.expected_detection(expected, 3.0) == pytest.approx(6.5 - 1.0)


def test_a_too_slow_tier_that_fired_is_judged_on_its_measured_data_age(specs) -> None:
    """A slow tier can fire on the windows a short fault left behind; its timing is judged with
    the data age measured like an expected alert's (CI once saw one fire 2.0 s before a theory
    that used the mean wait, with the pipeline running fast)."""
    plan = drill_plan(specs, "fast-burn-outage", "gmail")
    slow = plan.too_slow[0]
    pushed_at = Driver(specs, specs.provider("gmail"), "http://pushgateway.test").pushed_at_series
    asked: list[tuple[str, float]] = []
    timeline = Timeline(firing={slow: 2.0 + plan.for_seconds[slow]})
    _measure_data_age(push_times_reader(asked, 0.25), pushed_at, plan, timeline, START)
    assert asked == [(pushed_at, pytest.approx(START + 2.0))]
    assert timeline.data_age == {slow: pytest.approx(0.25)}
    alert = plan.alerts[slow]
    assert plan.pipeline.delay(alert, 0.25) < plan.pipeline.delay(alert)
