"""What the drill stack shows: alerts in Prometheus and Alertmanager, notifications received.

Every answer is checked: an HTTP error or a malformed body raises ObserveError naming the URL,
never an empty "nothing is firing".
"""

from __future__ import annotations

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
        result = self._result("/api/v1/query_range", params)
        return [
            Series(dict(item["metric"]), [(float(t), float(v)) for t, v in item["values"]])
            for item in result
        ]


def _get(url: str) -> object:
    try:
        response = httpx.get(url, timeout=5)
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


def active_alerts(prometheus_url: str) -> list[PromAlert]:
    """Every pending and firing alert, with the moment it became active."""
    url = f"{prometheus_url}/api/v1/alerts"
    body = _get(url)
    alerts = body.get("data", {}).get("alerts") if isinstance(body, dict) else None
    if not isinstance(alerts, list):
        raise ObserveError(f"{url}: expected data.alerts, got {body!r}")
    try:
        return [PromAlert(dict(a["labels"]), a["state"], _unix(a["activeAt"], url)) for a in alerts]
    except (KeyError, TypeError) as exc:
        raise ObserveError(f"{url}: malformed alert in {alerts!r}") from exc


def alertmanager_alerts(alertmanager_url: str) -> list[AmAlert]:
    """Every alert Alertmanager holds, with its state and what inhibits it."""
    url = f"{alertmanager_url}/api/v2/alerts"
    body = _get(url)
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
