"""A checked Prometheus reader for the observation report: instant and range queries.

An HTTP error, a failed query or a malformed body raises ObserveError naming the URL and the
query, so a broken Prometheus is never read as "no data".
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from relayops.drill.observe import ObserveError

Samples = list[tuple[float, float]]


@dataclass(frozen=True)
class Series:
    labels: dict[str, str]
    samples: Samples


class PromReader:
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

    def instant(self, query: str, at: float) -> list[tuple[dict[str, str], float]]:
        """(labels, value) of each series the query returns at time `at`."""
        result = self._result("/api/v1/query", {"query": query, "time": at})
        return [(dict(item["metric"]), float(item["value"][1])) for item in result]

    def range(self, query: str, start: float, end: float, step: float) -> list[Series]:
        """Each series the query returns over [start, end], sampled every `step` seconds."""
        params = {"query": query, "start": start, "end": end, "step": step}
        result = self._result("/api/v1/query_range", params)
        return [
            Series(dict(item["metric"]), [(float(t), float(v)) for t, v in item["values"]])
            for item in result
        ]
