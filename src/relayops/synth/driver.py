"""The synthetic driver: pushes a scenario's traffic for one provider to a real Pushgateway.

Every tick adds rate × tick × shares to cumulative totals and PUTs the provider's whole group on
one stable grouping key, so every counter keeps growing (rate() sees the traffic) and other
groups are never touched. The rollout controller's heartbeat has a grouping key of its own.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import quote

import httpx
from prometheus_client import CONTENT_TYPE_LATEST

from relayops.promql import Labels
from relayops.promtest.timeline import key
from relayops.spec import SpecSet
from relayops.spec.metrics import Role
from relayops.spec.provider import ProviderSpec
from relayops.synth.exposition import render
from relayops.synth.scenarios import Scenario
from relayops.synth.state import GroupState
from relayops.synth.traffic import RequestTraffic, pick

CONTROLLER_EVERY = 60.0  # seconds between the simulated controller's successful runs


class PushError(RuntimeError):
    """The Pushgateway could not be reached or refused a request; the message names the URL."""


@dataclass
class RunSummary:
    scenario: str
    provider: str
    rate_rps: float
    ticks: int = 0
    pushes: int = 0
    deletes: int = 0
    totals: dict[str, float] = field(default_factory=dict)  # exposed value by series
    # Clock time each phase began: the start of its first tick (whose traffic is pushed at the
    # tick's end), or the moment of the delete for a phase without series.
    phase_started: dict[int, float] = field(default_factory=dict)

    def record(self, *states: GroupState) -> None:
        for state in states:
            for _, keys in state.series():
                self.totals.update({series_text(k): state.exposed(k) for k in keys})


def series_text(series: Labels) -> str:
    """`name{label="value",…}`, for summaries."""
    labels = dict(series)
    name = labels.pop("__name__")
    inner = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    return f"{name}{{{inner}}}"


class Driver:
    def __init__(
        self,
        specs: SpecSet,
        provider_spec: ProviderSpec,
        pushgateway_url: str,
        job: str = "relay-synth",
        client: httpx.Client | None = None,
        clock: Callable[[], float] = time.time,
        heartbeat_s: float = CONTROLLER_EVERY,
    ):
        """`heartbeat_s` is how often the simulated controller succeeds (shorter in
        time-scaled drills, whose stalled alert fires after max_age / N)."""
        self.heartbeat_s = heartbeat_s
        # Kept across runs, so a scenario followed by healthy traffic keeps counting up
        # instead of restarting at zero (which Prometheus would read as a counter reset).
        self._send = GroupState(specs)
        self._controller = GroupState(specs)
        self.specs = specs
        self.spec = provider_spec
        self.base = pushgateway_url.rstrip("/")
        self.job = job
        self.client = client or httpx.Client(timeout=5.0)
        self.clock = clock
        self.traffic = RequestTraffic(specs, provider_spec)

    @property
    def group_path(self) -> str:
        """The send-path group: the same for every run of this job and provider."""
        return (
            f"/metrics/job/{quote(self.job, safe='')}/provider/{quote(self.spec.provider, safe='')}"
        )

    @property
    def pushed_at_series(self) -> str:
        """The Pushgateway's `push_time_seconds` of the send-path group: when the data
        Prometheus last scraped from it was pushed."""
        return f'push_time_seconds{{job="{self.job}",provider="{self.spec.provider}",component=""}}'

    @property
    def controller_path(self) -> str:
        return f"{self.group_path}/component/controller"

    def _request(self, method: str, path: str, body: bytes | None = None) -> None:
        url = self.base + path
        headers = {"Content-Type": CONTENT_TYPE_LATEST} if body is not None else {}
        try:
            response = self.client.request(method, url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise PushError(f"cannot reach the Pushgateway at {url}: {exc}") from exc
        if not response.is_success:
            raise PushError(
                f"{method} {url} answered {response.status_code}: {response.text.strip()}"
            )

    def push(self, path: str, state: GroupState) -> None:
        """Replace the group at `path` (PUT: only that grouping key's series)."""
        self._request("PUT", path, render(state))

    def delete(self) -> None:
        """Remove this driver's send-path group, so its series vanish as a dead adapter's do."""
        self._request("DELETE", self.group_path)

    def _controller_run(self, state: GroupState, now: float) -> None:
        """One successful run of the rollout controller: runs counter + 1, last success = now."""
        metric = self.specs.metric(Role.CONTROLLER_RUNS)
        status = pick(metric.values["status"], "success")
        state.add(self.traffic.traffic.counter(Role.CONTROLLER_RUNS, 1.0, status=status))
        last = self.specs.metric(Role.CONTROLLER_LAST_SUCCESS)
        state.set(key(last.name, {"provider": self.spec.provider}), now)

    def run(
        self,
        scenario: Scenario,
        duration_s: float,
        rate_rps: float,
        tick_s: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
        time_scale: float = 1.0,
    ) -> RunSummary:
        """Push the scenario for `duration_s` seconds at `rate_rps` requests/s (a scenario with a
        fixed rate, such as low-traffic noise, ignores it), both multiplied by `time_scale`: a
        drill against rules time-scaled ×N pushes N times the traffic, so every shortened
        window holds as many events as the production window does."""
        plan = scenario.plans.get(self.spec.name)
        if plan is None:
            raise ValueError(
                f"scenario {scenario.name} does not apply to {self.spec.name} "
                f"(it applies to: {', '.join(scenario.providers) or 'none'})"
            )
        if duration_s <= 0 or tick_s <= 0 or rate_rps < 0 or time_scale <= 0:
            raise ValueError("duration, tick and scale must be positive, the rate not negative")
        rate = (plan.fixed_rate if plan.fixed_rate is not None else rate_rps) * time_scale
        summary = RunSummary(scenario.name, self.spec.name, rate)
        per_request = [
            None if p.shape is None else self.traffic.per_request(p.shape) for p in plan.phases
        ]
        send, controller = self._send, self._controller
        for increments in per_request:
            send.add(increments or {}, 0.0)

        start = last = self.clock()
        summary.phase_started[0] = start
        self._controller_run(controller, start)
        self.push(self.controller_path, controller)
        summary.pushes += 1
        next_run = start + self.heartbeat_s
        deleted = False
        if plan.phases[0].shape is not None:
            self.push(self.group_path, send)
            summary.pushes += 1
        while last - start < duration_s:
            sleep(max(0.0, min(last + tick_s, start + duration_s) - self.clock()))
            now = self.clock()
            index = plan.phase_index((last - start) / duration_s)
            shape, increments = plan.phases[index].shape, per_request[index]
            if shape is None:
                if not deleted:
                    self.delete()
                    summary.phase_started.setdefault(index, self.clock())
                    summary.deletes += 1
                    deleted = True
            else:
                summary.phase_started.setdefault(index, last)
                send.add(increments, rate * shape.rate * (now - last))
                self.push(self.group_path, send)
                summary.pushes += 1
                deleted = False
            if plan.heartbeat and now >= next_run:
                self._controller_run(controller, now)
                self.push(self.controller_path, controller)
                summary.pushes += 1
                next_run = now + self.heartbeat_s
            summary.ticks += 1
            last = now
        summary.record(send, controller)
        return summary
