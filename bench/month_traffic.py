"""Thirty days of one provider's send traffic as a 15-second scrape would store it.

The traffic is drawn, not modelled: Poisson request counts around a daily curve with quiet
weekends, a small steady share of failures and slow requests, incidents of several shapes
(a sharp outage, a slow burn in quiet hours, a long simmer, and one still running near the
end), and process restarts that send every counter back to zero. The series are the ones the
provider's SLO rules read, named and labelled from the spec catalog; the exact events of any
window come from the drawn counts, not from Prometheus.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from relayops.rules.build import le_value
from relayops.spec import SpecSet
from relayops.spec.metrics import Role
from relayops.spec.provider import ProviderSpec

SCRAPE = 15
DAY = 86400
HOUR = 3600
MEAN_PER_SECOND = 25.0
REJECTED_SHARE = 0.01  # refused before sending: counted, never bad
FAILING_SHARE = 0.0004
SLOW_SHARE = 0.004


@dataclass(frozen=True)
class Incident:
    """From `start` (seconds after the data begins) for `seconds`: these shares of the sent
    requests fail and are slower than every SLO threshold."""

    start: int
    seconds: int
    failing: float
    slow: float


@dataclass(frozen=True)
class Month:
    """Per-scrape counts of one month of traffic; sample i is taken at `start + i × SCRAPE`
    and holds the events since sample i − 1."""

    start: int  # unix seconds of sample 0 (no events before it)
    sent: np.ndarray  # requests sent (success + error)
    failed: np.ndarray
    slow: np.ndarray  # of the sent, slower than the threshold (failed or not)
    rejected: np.ndarray
    resets: tuple[int, ...]  # sample indexes at which every counter restarts from zero
    incidents: tuple[Incident, ...]

    @property
    def end(self) -> int:
        return self.start + (len(self.sent) - 1) * SCRAPE

    def _window(self, counts: np.ndarray, since: float, until: float) -> float:
        """Events of samples with timestamps in (since, until]."""
        first = max(0, math.floor((since - self.start) / SCRAPE) + 1)
        last = math.floor((until - self.start) / SCRAPE)
        return float(counts[first : last + 1].sum())

    def availability(self, since: float, until: float) -> float:
        """Exact share of requests (rejected included) that failed."""
        total = self._window(self.sent + self.rejected, since, until)
        return self._window(self.failed, since, until) / total

    def latency(self, since: float, until: float) -> float:
        """Exact share of timed requests slower than the threshold (rejected are fast)."""
        total = self._window(self.sent + self.rejected, since, until)
        return self._window(self.slow, since, until) / total


def draw_month(end: int, days: int = 30, seed: int = 19) -> Month:
    """`days` days and an hour of traffic ending at `end` (the extra hour fills the first
    windows of rules evaluated a full period after the data begins)."""
    rng = np.random.default_rng(seed)
    seconds = days * DAY + HOUR
    start = end - seconds
    times = start + SCRAPE * np.arange(seconds // SCRAPE + 1)
    of_day = (times % DAY) / DAY
    weekday = ((times // DAY) + 3) % 7  # 1970-01-01 was a Thursday
    curve = 1 + 0.6 * np.sin(2 * math.pi * (of_day - 0.3))
    curve *= np.where(weekday >= 5, 0.55, 1.0)
    mean = MEAN_PER_SECOND * SCRAPE * curve / curve.mean()
    requests = rng.poisson(mean)
    requests[0] = 0
    rejected = rng.binomial(requests, REJECTED_SHARE)
    sent = requests - rejected
    failing = np.full(len(times), FAILING_SHARE)
    slow_share = np.full(len(times), SLOW_SHARE)
    incidents = (
        Incident(4 * DAY + 10 * HOUR, 40 * 60, 0.05, 0.02),
        Incident(11 * DAY + 3 * HOUR, 3 * HOUR, 0.004, 0.03),
        Incident(19 * DAY + 14 * HOUR, 10 * 60, 1.0, 0.2),
        Incident(26 * DAY + 20 * HOUR, 6 * HOUR, 0.003, 0.015),
        Incident(seconds - 3 * HOUR, 2 * HOUR, 0.08, 0.10),
    )
    for incident in incidents:
        first = incident.start // SCRAPE + 1
        span = slice(first, first + incident.seconds // SCRAPE)
        failing[span] = incident.failing
        slow_share[span] = incident.slow
    failed = rng.binomial(sent, failing)
    slow = np.maximum(rng.binomial(sent, slow_share), 0)
    restarts = [2 * DAY + 7 * HOUR, 11 * DAY + 4 * HOUR, 17 * DAY, 23 * DAY + 13 * HOUR]
    restarts.append(incidents[-1].start + 30 * 60)  # during the incident still running
    resets = tuple(r // SCRAPE for r in restarts)
    return Month(start, sent, failed, slow, rejected, resets, incidents)


def _cumulative(counts: np.ndarray, resets: tuple[int, ...]) -> np.ndarray:
    """Counter values: running sums that begin again at each reset sample."""
    values = np.cumsum(counts)
    for index in resets:
        values[index:] -= values[index - 1]
    return values


def _series(specs: SpecSet, spec: ProviderSpec, month: Month) -> Iterator[tuple[str, np.ndarray]]:
    """(series text, counter values) of every series the provider's SLO rules read."""
    requests = specs.metric(Role.REQUESTS)
    latency = specs.metric(Role.LATENCY)
    own = {k: v for k, v in spec.selector.items() if k in requests.labels}
    by_status = {
        "success": month.sent - month.failed,
        "error": month.failed,
        "rejected": month.rejected,
    }
    slow_success = month.slow - np.minimum(month.slow, month.failed)
    slow_by_status = {
        "success": slow_success,
        "error": month.slow - slow_success,
        "rejected": np.zeros_like(month.slow),
    }
    thresholds = {s.sli.threshold_seconds for s in spec.slos if s.sli.type == "latency"}
    for status, counts in by_status.items():
        labels = {**own, "status": status}
        yield _name(requests.name, labels), _cumulative(counts, month.resets)
        yield _name(latency.series("_count"), labels), _cumulative(counts, month.resets)
        fast = counts - slow_by_status[status]
        for threshold in sorted(thresholds):  # the buckets an SLO reads; the others add no cost
            bucket = _name(latency.series("_bucket"), {**labels, "le": le_value(threshold)})
            yield bucket, _cumulative(fast, month.resets)


def _name(metric: str, labels: dict[str, str]) -> str:
    inner = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    return f"{metric}{{{inner}}}"


def write_openmetrics(specs: SpecSet, spec: ProviderSpec, month: Month, path: Path) -> int:
    """Writes the month as OpenMetrics text for `promtool tsdb create-blocks-from
    openmetrics`; returns the number of samples."""
    stamps = [str(month.start + i * SCRAPE) for i in range(len(month.sent))]
    samples = 0
    with path.open("w") as out:
        for name, values in _series(specs, spec, month):
            out.write(
                "".join(f"{name} {v} {t}\n" for v, t in zip(values.tolist(), stamps, strict=True))
            )
            samples += len(values)
        out.write("# EOF\n")
    return samples
