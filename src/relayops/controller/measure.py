"""The controller's measurements: PromQL from the spec's series names, asked of Prometheus's
instant-query API at one explicit evaluation time, each aggregated to one series and classified
pass / fail / inconclusive / error.

No data, NaN, an absent failure counter and too little traffic are inconclusive; an HTTP error,
a timeout or an answer of the wrong shape (HTTP 200 with `status: error`, no `data`, a result
that is not one instant vector) is an error. Neither is ever read as a healthy zero.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from relayops.controller.policy import Measurement, Verdict
from relayops.promql import Aggregate, Expr
from relayops.promql.functions import Increase
from relayops.promql.selectors import Range
from relayops.rules.alerts import alert_defs
from relayops.rules.build import div, sel
from relayops.spec import SpecSet
from relayops.spec.labels import PAGING_SEVERITY
from relayops.spec.provider import ProviderSpec
from relayops.spec.series import ProviderSeries, quantile_key

TIMEOUT_SECONDS = 5
LATENCY_QUANTILE = 0.95
BODY_EXCERPT = 200


class QueryError(RuntimeError):
    """Prometheus could not answer, or answered something that is not one instant value."""


Query = Callable[[str, float], float | None]  # (PromQL, unix time) -> value, None for no data


def _vector(url: str, promql: str, answer: httpx.Response) -> list:
    """The result list of an instant-vector answer, or QueryError saying what was wrong."""
    where = f"{url}: {promql!r}"
    if answer.status_code != 200:
        raise QueryError(f"{where}: HTTP {answer.status_code}: {answer.text[:BODY_EXCERPT]!r}")
    try:
        body = answer.json()
    except ValueError as exc:
        raise QueryError(f"{where}: not JSON: {answer.text[:BODY_EXCERPT]!r}") from exc
    if not isinstance(body, dict) or body.get("status") != "success":
        status = body.get("status") if isinstance(body, dict) else None
        error = body.get("error") if isinstance(body, dict) else None
        raise QueryError(f"{where}: status {status!r}, error {error!r} (HTTP 200)")
    data = body.get("data")
    if not isinstance(data, dict) or data.get("resultType") != "vector":
        raise QueryError(f"{where}: no instant vector in the answer: {str(data)[:BODY_EXCERPT]}")
    result = data.get("result")
    if not isinstance(result, list):
        raise QueryError(f"{where}: expected a result list, got {result!r}")
    return result


def prometheus_query(url: str, timeout: float = TIMEOUT_SECONDS) -> Query:
    """Instant queries at an explicit time, one attempt each; one series or none, else
    QueryError. Once one query of the run has timed out, the others are not asked (each
    would wait as long again: a hung Prometheus would hold every provider's cycle for a
    timeout per measurement); they are errors naming the first."""
    endpoint = f"{url.rstrip('/')}/api/v1/query"
    # One client for every query of the run: making a client loads the CA bundle (tens of ms).
    client = httpx.Client(timeout=timeout)
    timed_out: list[str] = []

    def query(promql: str, at: float) -> float | None:
        if timed_out:
            raise QueryError(f"{url}: not asked: an earlier query of this run {timed_out[0]}")
        try:
            answer = client.get(endpoint, params={"query": promql, "time": at})
        except httpx.TimeoutException as exc:
            timed_out.append(f"timed out after {timeout:g} s")
            kind = exc.__class__.__name__
            raise QueryError(f"{url}: {kind}: no answer in {timeout:g} s") from exc
        except httpx.HTTPError as exc:
            raise QueryError(f"{url}: {exc.__class__.__name__}: {exc}") from exc
        result = _vector(url, promql, answer)
        if not result:
            return None
        if len(result) > 1:
            raise QueryError(f"{url}: {promql!r} returned {len(result)} series, expected one")
        try:
            return float(result[0]["value"][1])
        except (KeyError, IndexError, TypeError, ValueError) as exc:
            raise QueryError(f"{url}: malformed sample in {result[0]!r}") from exc

    return query


@dataclass(frozen=True)
class Queries:
    """The PromQL of each measurement of one provider."""

    request_rate: str
    error_ratio: str
    latency_p95: str
    failures: tuple[tuple[str, str, int], ...]  # (name, PromQL, max)
    page_alerts: str


def _sum(expr: Expr) -> Expr:
    return Aggregate("sum", expr, ())


def queries(specs: SpecSet, spec: ProviderSpec) -> Queries:
    names = ProviderSeries(specs.service, spec)
    match = spec.selector
    rollout = spec.rollout
    failures = []
    for failure in rollout.health.failures:
        metric = specs.service.metrics[failure.metric]
        counted = sel(metric.name, {"provider": spec.provider, failure.label: failure.value})
        expr = _sum(Increase(Range(counted, failure.window)))
        failures.append((f"{failure.metric}_{failure.value}", expr.render(), failure.max))
    pages = sorted(
        {
            (a.name, a.tier.name)
            for a in alert_defs(specs, spec)
            if a.is_burn and a.severity == PAGING_SEVERITY
        }
    )
    alerts = sel(
        "ALERTS",
        alertstate="firing",
        provider=spec.provider,
        alertname="|".join(sorted({n for n, _ in pages})),
        burn_tier="|".join(sorted({t for _, t in pages})),
    )
    key = quantile_key(LATENCY_QUANTILE)
    return Queries(
        request_rate=_sum(sel(names.request_rate, match)).render(),
        error_ratio=div(
            _sum(sel(names.outcome_rate("error"), match)), _sum(sel(names.request_rate, match))
        ).render(),
        latency_p95=Aggregate(
            "max", sel(names.latency_quantile(key, by_status=False), match), ()
        ).render(),
        failures=tuple(failures),
        page_alerts=Aggregate("count", alerts, ()).render(),
    )


def _ask(query: Query, name: str, promql: str, at: float) -> Measurement | float | None:
    """The value, None for no data, or an error Measurement."""
    try:
        return query(promql, at)
    except QueryError as exc:
        return Measurement(name, Verdict.ERROR, detail=str(exc))


def _leveled(name: str, value: float | None, limit: float, enough: bool) -> Measurement:
    if value is None or math.isnan(value):
        return Measurement(name, Verdict.INCONCLUSIVE, None, limit, "no data")
    if not enough:
        return Measurement(name, Verdict.INCONCLUSIVE, value, limit, "too little traffic")
    return Measurement(name, Verdict.FAIL if value > limit else Verdict.PASS, value, limit)


def measure(
    specs: SpecSet, spec: ProviderSpec, query: Query, at: float
) -> tuple[list[Measurement], Measurement]:
    """(health checks, page-alert check) of one provider at unix time `at`."""
    q = queries(specs, spec)
    health = spec.rollout.health
    checks: list[Measurement] = []
    rate = _ask(query, "request_rate", q.request_rate, at)
    if isinstance(rate, Measurement):
        checks.append(rate)
        enough = False
    else:
        enough = rate is not None and not math.isnan(rate) and rate >= health.min_request_rate
        verdict = Verdict.PASS if enough else Verdict.INCONCLUSIVE
        detail = "" if enough else "too little traffic" if rate is not None else "no data"
        checks.append(Measurement("request_rate", verdict, rate, health.min_request_rate, detail))
    for name, promql, limit in (
        ("error_ratio", q.error_ratio, health.max_error_ratio),
        ("latency_p95", q.latency_p95, health.max_latency_p95_seconds),
    ):
        value = _ask(query, name, promql, at)
        checks.append(
            value if isinstance(value, Measurement) else _leveled(name, value, limit, enough)
        )
    for name, promql, limit in q.failures:
        value = _ask(query, name, promql, at)
        if isinstance(value, Measurement):
            checks.append(value)
            continue
        if value is None or math.isnan(value):
            # The adapters create every counter at zero, so an absent series means the
            # telemetry is not arriving, not that nothing failed.
            detail = "no series: the counter is not reported" if value is None else "no data"
            checks.append(Measurement(name, Verdict.INCONCLUSIVE, value, float(limit), detail))
            continue
        verdict = Verdict.FAIL if value > limit else Verdict.PASS
        checks.append(Measurement(name, verdict, value, float(limit)))
    pages = _ask(query, "page_alerts", q.page_alerts, at)
    if isinstance(pages, Measurement):
        return checks, pages
    firing = 0.0 if pages is None else pages
    severe = Measurement(
        "page_alerts", Verdict.FAIL if firing > 0 else Verdict.PASS, firing, 0.0, q.page_alerts
    )
    return checks, severe
