"""Measurements are classified, never guessed: no data, NaN and thin traffic are inconclusive;
an HTTP error, a timeout or a malformed answer is an error naming the URL."""

from __future__ import annotations

import json
import math
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest

from relayops.controller.measure import QueryError, measure, prometheus_query, queries
from relayops.controller.policy import Verdict
from relayops.controller.state import CorruptState, format_percent, parse_percent


def answering(specs, **values):
    """A Query answering each measurement by name (a value, None, or an exception)."""
    q = queries(specs, specs.provider("gmail"))
    by_query = {
        q.request_rate: values.get("request_rate", 5.0),
        q.error_ratio: values.get("error_ratio", 0.001),
        q.latency_p95: values.get("latency_p95", 0.2),
        q.failures[0][1]: values.get("failures", 0.0),
        q.page_alerts: values.get("page_alerts"),
    }

    def query(promql: str, at: float):
        assert at == 1234.0, "every query is evaluated at the same explicit time"
        answer = by_query[promql]
        if isinstance(answer, Exception):
            raise answer
        return answer

    return query


def verdicts(specs, **values):
    checks, severe = measure(specs, specs.provider("gmail"), answering(specs, **values), 1234.0)
    return {m.name: m.verdict for m in (*checks, severe)}


def test_healthy_measurements_pass(specs):
    assert set(verdicts(specs).values()) == {Verdict.PASS}


@pytest.mark.parametrize("provider", ["gmail", "outlook"])
def test_an_absent_failure_counter_is_inconclusive_not_zero(specs, provider):
    """The adapters report every counter from zero: no series means the telemetry is not
    arriving, so it can never be read as "no failures, pass" (it was, for Gmail's OAuth
    refreshes)."""
    q = queries(specs, specs.provider(provider))
    answers = {q.request_rate: 5.0, q.error_ratio: 0.001, q.latency_p95: 0.2, q.page_alerts: None}
    checks, _ = measure(
        specs, specs.provider(provider), lambda promql, at: answers.get(promql), 1234.0
    )
    failures = {m.name: m for m in checks if m.name.endswith("_failure")}
    assert failures and all(m.verdict is Verdict.INCONCLUSIVE for m in failures.values())
    assert all("not reported" in m.detail for m in failures.values())


def test_no_traffic_makes_the_ratios_inconclusive(specs):
    got = verdicts(specs, request_rate=None, error_ratio=None)
    assert got["request_rate"] is Verdict.INCONCLUSIVE
    assert got["error_ratio"] is Verdict.INCONCLUSIVE and got["latency_p95"] is Verdict.INCONCLUSIVE
    thin = verdicts(specs, request_rate=0.01, error_ratio=0.5)
    assert thin["error_ratio"] is Verdict.INCONCLUSIVE, "a bad ratio on 0.01 req/s is not a breach"


def test_nan_is_inconclusive_never_a_healthy_zero(specs):
    assert verdicts(specs, error_ratio=math.nan)["error_ratio"] is Verdict.INCONCLUSIVE


def test_limits_from_the_spec_fail(specs):
    got = verdicts(specs, error_ratio=0.02, latency_p95=0.6, failures=6.0, page_alerts=1.0)
    assert [got[n] for n in ("error_ratio", "latency_p95", "oauth_refresh_failure")] == [
        Verdict.FAIL
    ] * 3
    assert got["page_alerts"] is Verdict.FAIL
    assert verdicts(specs, failures=5.0)["oauth_refresh_failure"] is Verdict.PASS


def test_a_query_error_is_an_error(specs):
    got = verdicts(specs, latency_p95=QueryError("http://p: 503"))
    assert got["latency_p95"] is Verdict.ERROR and got["error_ratio"] is Verdict.PASS


def test_queries_come_from_the_spec_series_and_aggregate_to_one(specs):
    q = queries(specs, specs.provider("outlook"))
    assert q.error_ratio.startswith("sum(provider_action:action_exec_error:rate5m{")
    assert q.page_alerts.startswith('count(ALERTS{alertstate="firing",provider="microsoft"')
    assert 'burn_tier=~"page_fast|page_slow"' in q.page_alerts
    assert q.failures[0][1].startswith("sum(increase(oauth_refresh_total{")


class FakePrometheus(BaseHTTPRequestHandler):
    answers: ClassVar[list[tuple[int, object]]] = []

    def do_GET(self):
        status, body = self.answers.pop(0)
        data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def prometheus():
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakePrometheus)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", FakePrometheus.answers
    server.shutdown()


def vector(*values):
    result = [{"metric": {}, "value": [1234, v]} for v in values]
    return {"status": "success", "data": {"resultType": "vector", "result": result}}


def test_prometheus_answers_are_checked(prometheus):
    url, answers = prometheus
    query = prometheus_query(url, timeout=2)
    answers[:] = [(200, vector("0.5")), (200, vector()), (200, vector("NaN"))]
    assert query("up", 1234.0) == 0.5
    assert query("up", 1234.0) is None
    assert math.isnan(query("up", 1234.0))
    answers[:] = [(200, vector("1", "2"))]
    with pytest.raises(QueryError, match="returned 2 series, expected one"):
        query("up", 1234.0)
    answers[:] = [(503, "unavailable")]
    with pytest.raises(QueryError, match=url):
        query("up", 1234.0)
    malformed = {"resultType": "vector", "result": [{"value": []}]}
    answers[:] = [(200, {"status": "success", "data": malformed})]
    with pytest.raises(QueryError, match="malformed sample"):
        query("up", 1234.0)
    with pytest.raises(QueryError, match=re.escape("127.0.0.1:9")):
        prometheus_query("http://127.0.0.1:9", timeout=1)("up", 1234.0)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"status": "error", "errorType": "bad_data", "error": "parse error"}, "parse error"),
        ({"status": "success"}, "no instant vector"),
        ({}, "status None"),
        ({"status": "success", "data": {"resultType": "matrix", "result": []}}, "instant vector"),
        ({"status": "success", "data": {"resultType": "vector", "result": {}}}, "result list"),
        ("<html>proxy</html>", "not JSON"),
        ([1, 2], "status None"),
    ],
)
def test_an_http_200_that_is_not_an_instant_vector_is_a_query_error(prometheus, body, message):
    """Prometheus (or a proxy in front of it) answering 200 with an error or no data used to
    end the controller's run in a KeyError traceback."""
    url, answers = prometheus
    answers[:] = [(200, body)]
    with pytest.raises(QueryError, match=re.escape(message)):
        prometheus_query(url, timeout=2)("up", 1234.0)


@pytest.mark.parametrize("text", ["0", "2.5", "25", "99.99", "100"])
def test_percentages_round_trip(text):
    assert format_percent(parse_percent(text, "k")) == text


@pytest.mark.parametrize("text", ["", "-1", "100.5", "101", "2.345", "abc", "1e2", " 5"])
def test_bad_percentages_name_the_key(text):
    with pytest.raises(CorruptState, match=r"flags:gmail:rollout_percent holds"):
        parse_percent(text, "flags:gmail:rollout_percent")
