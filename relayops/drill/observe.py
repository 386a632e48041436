"""What the drill stack shows: alerts in Prometheus and Alertmanager, notifications received.

Every answer is checked: an HTTP error or a malformed body raises ObserveError naming the URL,
never an empty "nothing is firing".
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
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


def _get(url: str, params: dict[str, str] | None = None) -> object:
    try:
        response = httpx.get(url, params=params, timeout=5)
        response.raise_for_status()
        return response.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise ObserveError(f"{url}: {exc}") from exc


def prometheus_alerts(prometheus_url: str, state: str = "firing") -> list[dict[str, str]]:
    """Labels of the alerts in `state` (firing or pending), from the ALERTS series."""
    url = f"{prometheus_url}/api/v1/query"
    body = _get(url, {"query": f'ALERTS{{alertstate="{state}"}}'})
    if not isinstance(body, dict) or body.get("status") != "success":
        raise ObserveError(f"{url}: unexpected answer {body!r}")
    result = body.get("data", {}).get("result")
    if not isinstance(result, list):
        raise ObserveError(f"{url}: no result list in {body!r}")
    return [dict(item["metric"]) for item in result]


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
