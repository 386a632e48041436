"""What the drill stack shows: alerts in Prometheus and Alertmanager, notifications received.

Every answer is checked: an HTTP error or a malformed body raises ObserveError naming the URL,
never an empty "nothing is firing".
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

import httpx

T = TypeVar("T")


class ObserveError(RuntimeError):
    """A component of the stack answered with an error or something unexpected."""


@dataclass(frozen=True)
class AmAlert:
    """An alert as Alertmanager holds it."""

    labels: dict[str, str]
    state: str
    inhibited_by: tuple[str, ...]


Samples = list[tuple[float, float]]


@dataclass(frozen=True)
class Series:
    labels: dict[str, str]
    samples: Samples


class PromReader:
    """Instant and range queries; every failure names the URL and the query."""

    def __init__(self, client: httpx.Client, prometheus_url: str):
        self.client = client
        self.base = prometheus_url.rstrip("/")

    def _result(self, path: str, params: dict[str, str | float]) -> list[dict]:
        url = f"{self.base}{path}"
        query = params["query"]
        try:
            response = self.client.get(url, params=params, timeout=10)
            response.raise_for_status()
            body = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise ObserveError(f"{url} query {query!r}: {exc}") from exc
        if not isinstance(body, dict) or body.get("status") != "success":
            raise ObserveError(f"{url} query {query!r}: unexpected answer {body!r}")
        result = body.get("data", {}).get("result")
        if not isinstance(result, list):
            raise ObserveError(f"{url} query {query!r}: no result list in {body!r}")
        return result

    def instant(self, query: str, at: float | None = None) -> list[tuple[dict[str, str], float]]:
        """(labels, value) of each series the query returns at `at` (default: now)."""
        params: dict[str, str | float] = {"query": query}
        if at is not None:
            params["time"] = at
        result = self._result("/api/v1/query", params)
        return [(dict(item["metric"]), float(item["value"][1])) for item in result]

    def range(self, query: str, start: float, end: float, step: float) -> list[Series]:
        """Each series the query returns over [start, end], sampled every `step` seconds."""
        params = {"query": query, "start": start, "end": end, "step": step}
        return self._series(query, self._result("/api/v1/query_range", params))

    def samples(self, selector: str, seconds: float, at: float) -> list[Series]:
        """Every sample Prometheus stored for `selector` in the `seconds` before `at`, with its
        own timestamp (a range selector in an instant query: no step, nothing interpolated)."""
        query = f"{selector}[{max(1, math.ceil(seconds))}s]"
        return self._series(query, self._result("/api/v1/query", {"query": query, "time": at}))

    def _series(self, query: str, result: list[dict]) -> list[Series]:
        """A matrix answer's series, or ObserveError naming the query."""
        try:
            return [
                Series(dict(item["metric"]), [(float(t), float(v)) for t, v in item["values"]])
                for item in result
            ]
        except (KeyError, TypeError, ValueError) as exc:
            raise ObserveError(f"{self.base} query {query!r}: not a range of samples") from exc


@dataclass(frozen=True)
class FiringRecord:
    """One alert series as Prometheus' rule manager recorded it in ALERTS, once per evaluation
    while it was pending and while it fired."""

    labels: dict[str, str]  # the alert's labels, alertname included
    active_at: float  # the evaluation at which the stretch it first fired in became pending
    first: float  # the first evaluation at which it fired
    last: float  # the last evaluation at which it fired


def _alert_key(labels: dict[str, str]) -> frozenset[tuple[str, str]]:
    return frozenset((k, v) for k, v in labels.items() if k not in ("__name__", "alertstate"))


def firing_records(
    reader: PromReader, matchers: str, since: float, until: float
) -> list[FiringRecord]:
    """The alerts matching `matchers` (e.g. `provider="google"`) that fired between `since` and
    `until`, from Prometheus' own record: a poll that came too late or too seldom misses a short
    firing, this history does not.

    activeAt is the first pending sample of the stretch that fired. ALERTS_FOR_STATE, whose
    value is activeAt in whole seconds, tells that stretch from an earlier one that never fired.
    """
    seconds = until - since
    alerts = reader.samples(f"ALERTS{{{matchers}}}", seconds, until)
    became = {
        _alert_key(s.labels): dict(s.samples)
        for s in reader.samples(f"ALERTS_FOR_STATE{{{matchers}}}", seconds, until)
    }
    pending: dict[frozenset[tuple[str, str]], list[float]] = {}
    for series in alerts:
        if series.labels.get("alertstate") == "pending":
            pending[_alert_key(series.labels)] = [t for t, _ in series.samples]
    records = []
    for series in alerts:
        if series.labels.get("alertstate") != "firing" or not series.samples:
            continue
        key = _alert_key(series.labels)
        first, last = series.samples[0][0], series.samples[-1][0]
        floor = math.floor(became.get(key, {}).get(first, -math.inf))
        active_at = min((t for t in pending.get(key, ()) if floor <= t <= first), default=first)
        records.append(FiringRecord(dict(key), active_at, first, last))
    return records


def _get(client: httpx.Client, url: str) -> object:
    try:
        response = client.get(url, timeout=5)
        response.raise_for_status()
        return response.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise ObserveError(f"{url}: {exc}") from exc


@dataclass(frozen=True)
class PromAlert:
    """A pending or firing alert as Prometheus' rule manager holds it."""

    labels: dict[str, str]
    state: str
    active_at: float  # unix time of the evaluation at which it became pending


def _unix(stamp: object, url: str) -> float:
    if not isinstance(stamp, str):
        raise ObserveError(f"{url}: activeAt {stamp!r} is not a timestamp")
    try:
        return datetime.fromisoformat(stamp).timestamp()
    except ValueError as exc:
        raise ObserveError(f"{url}: activeAt {stamp!r} is not RFC 3339") from exc


def active_alerts(client: httpx.Client, prometheus_url: str) -> list[PromAlert]:
    """Every pending and firing alert, with the moment it became active."""
    url = f"{prometheus_url}/api/v1/alerts"
    body = _get(client, url)
    alerts = body.get("data", {}).get("alerts") if isinstance(body, dict) else None
    if not isinstance(alerts, list):
        raise ObserveError(f"{url}: expected data.alerts, got {body!r}")
    try:
        return [PromAlert(dict(a["labels"]), a["state"], _unix(a["activeAt"], url)) for a in alerts]
    except (KeyError, TypeError) as exc:
        raise ObserveError(f"{url}: malformed alert in {alerts!r}") from exc


def alertmanager_alerts(client: httpx.Client, alertmanager_url: str) -> list[AmAlert]:
    """Every alert Alertmanager holds, with its state and what inhibits it."""
    url = f"{alertmanager_url}/api/v2/alerts"
    body = _get(client, url)
    if not isinstance(body, list):
        raise ObserveError(f"{url}: expected a list of alerts, got {body!r}")
    return [
        AmAlert(
            dict(item["labels"]),
            item["status"]["state"],
            tuple(item["status"].get("inhibitedBy") or ()),
        )
        for item in body
    ]


def poll(read: Callable[[], T], done: Callable[[T], bool], timeout: float, every: float = 0.5) -> T:
    """Read until `done` holds or `timeout` seconds pass; return the last reading either way."""
    deadline = time.monotonic() + timeout
    value = read()
    while not done(value) and time.monotonic() < deadline:
        time.sleep(every)
        value = read()
    return value
