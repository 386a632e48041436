"""Run a drill: push the scenario into a stack, watch alerts and notifications, judge.

The scenario runs for the plan's time, then healthy traffic for the recovery time, while the
runner polls Prometheus (ALERTS), Alertmanager (suppression) and the notification sink.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from relayops.drill.observe import alertmanager_alerts, prometheus_alerts
from relayops.drill.plan import DrillPlan
from relayops.spec import SpecSet
from relayops.stack import Stack, read_notifications
from synth.driver import Driver
from synth.scenarios import scenarios

POLL_SECONDS = 0.5
TICK_SECONDS = 0.5
HEARTBEAT_SECONDS = 60.0  # the production controller's cron period
WARM_UP_LIMIT = 60.0


def ref_of(labels: dict[str, str]) -> str:
    """`Name/burn_tier` or `Name/severity` of an alert's labels."""
    return f"{labels.get('alertname')}/{labels.get('burn_tier') or labels.get('severity')}"


@dataclass
class Timeline:
    """First times (seconds since the run started) at which things were seen."""

    pending: dict[str, float] = field(default_factory=dict)
    firing: dict[str, float] = field(default_factory=dict)
    resolved: dict[str, float] = field(default_factory=dict)
    suppressed: dict[str, float] = field(default_factory=dict)
    notified: dict[tuple[str, str, str], float] = field(default_factory=dict)  # ref, status, rcv


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    evidence: str


@dataclass(frozen=True)
class DrillResult:
    plan: DrillPlan
    timeline: Timeline
    checks: tuple[Check, ...]
    started_at: float = 0.0  # unix time the scenario started; maps Timeline times onto Prometheus

    @property
    def passed(self) -> bool:
        return all(c.ok for c in self.checks)


def _observe(
    stack: Stack, provider: str, timeline: Timeline, now: float, emit: Callable[[str], None]
) -> None:
    """Record what changed for alerts of `provider` (the provider label's value): another
    provider, which gets no traffic in this drill, would only add noise."""

    def own(labels: dict[str, str]) -> bool:
        return labels.get("provider") == provider

    firing = {ref_of(a) for a in prometheus_alerts(stack.prometheus_url, "firing") if own(a)}
    pending = {ref_of(a) for a in prometheus_alerts(stack.prometheus_url, "pending") if own(a)}
    for ref in pending:
        if ref not in timeline.pending:
            timeline.pending[ref] = now
            emit(f"{now:6.1f}s pending   {ref}")
    for ref in firing:
        if ref not in timeline.firing:
            timeline.firing[ref] = now
            emit(f"{now:6.1f}s firing    {ref}")
    for ref in set(timeline.firing) - firing - set(timeline.resolved):
        timeline.resolved[ref] = now
        emit(f"{now:6.1f}s resolved  {ref}")
    for alert in alertmanager_alerts(stack.alertmanager_url):
        if not own(alert.labels):
            continue
        ref = ref_of(alert.labels)
        if alert.state == "suppressed" and ref not in timeline.suppressed:
            timeline.suppressed[ref] = now
            emit(f"{now:6.1f}s inhibited {ref} (by {len(alert.inhibited_by)} alert)")
    for note in read_notifications(stack.sink_log):
        for alert in note["alerts"]:
            if not own(alert["labels"]):
                continue
            key = (ref_of(alert["labels"]), alert["status"], note["receiver"])
            if key not in timeline.notified:
                timeline.notified[key] = now
                emit(f"{now:6.1f}s notified  {key[0]} {key[1]} -> {key[2]}")


def _judge(plan: DrillPlan, timeline: Timeline) -> tuple[Check, ...]:
    checks = []
    for expected in plan.fires:
        ref = expected.ref
        fired = timeline.firing.get(ref)
        evidence = (
            f"fired {fired - plan.fault_start:.1f}s after the fault started (theory "
            f"{expected.detection:.1f}s)"
            if fired is not None
            else "never seen firing"
        )
        checks.append(Check(f"{ref} fires", fired is not None, evidence))
        if fired is None:
            continue
        paged = (ref, "firing", expected.receiver) in timeline.notified
        held = ref in timeline.suppressed
        checks.append(
            Check(
                f"{ref} reaches {expected.receiver} or is inhibited",
                paged or held,
                "notified"
                if paged
                else "inhibited by a firing alert"
                if held
                else "no notification and not inhibited",
            )
        )
        checks.append(
            Check(
                f"{ref} resolves",
                ref in timeline.resolved,
                f"resolved at {timeline.resolved[ref]:.1f}s"
                if ref in timeline.resolved
                else "still firing at the end",
            )
        )
    loud = sorted(set(plan.silent) & set(timeline.firing))
    checks.append(
        Check(
            "alerts meant to stay silent stay silent",
            not loud,
            ", ".join(loud) or f"{len(plan.silent)} alerts never fired",
        )
    )
    return tuple(checks)


def _warm_up(
    driver: Driver, healthy, stack: Stack, plan: DrillPlan, emit: Callable[[str], None]
) -> None:
    """Healthy traffic until no alert of the provider fires, so the drill starts clean (a
    new stack has no series yet, and metrics-missing fires until the first push)."""
    own = set(plan.silent) | {e.ref for e in plan.fires} | set(plan.too_slow)
    deadline = time.monotonic() + WARM_UP_LIMIT
    while time.monotonic() < deadline:
        driver.run(healthy, 2.0, plan.rate, tick_s=TICK_SECONDS)
        loud = own & {ref_of(a) for a in prometheus_alerts(stack.prometheus_url, "firing")}
        loud |= own & {ref_of(a) for a in prometheus_alerts(stack.prometheus_url, "pending")}
        if not loud:
            emit("        warmed up: healthy traffic, nothing of this provider pending or firing")
            return
    raise RuntimeError(
        f"alerts still active after {WARM_UP_LIMIT:.0f}s of healthy traffic: "
        f"{', '.join(sorted(loud))}"
    )


def run_drill(
    specs: SpecSet, stack: Stack, plan: DrillPlan, emit: Callable[[str], None] = print
) -> DrillResult:
    """Drive the plan into a running stack (rendered ×plan.scale) and judge what it shows."""
    spec = specs.provider(plan.provider)
    healthy = scenarios(specs)["healthy"]
    driver = Driver(
        specs,
        spec,
        stack.pushgateway_url,
        heartbeat_s=max(HEARTBEAT_SECONDS / plan.scale, TICK_SECONDS),
    )
    errors: list[BaseException] = []
    _warm_up(driver, healthy, stack, plan, emit)

    def traffic() -> None:
        try:
            driver.run(plan.scenario, plan.run_seconds, plan.rate, tick_s=TICK_SECONDS)
            emit("        fault over; healthy traffic")
            driver.run(healthy, plan.recovery_seconds, plan.rate, tick_s=TICK_SECONDS)
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    timeline = Timeline()
    start = time.monotonic()
    started_at = time.time()
    pusher = threading.Thread(target=traffic, daemon=True)
    pusher.start()
    while pusher.is_alive():
        _observe(stack, spec.provider, timeline, time.monotonic() - start, emit)
        time.sleep(POLL_SECONDS)
    _observe(stack, spec.provider, timeline, time.monotonic() - start, emit)
    if errors:
        raise errors[0]
    return DrillResult(plan, timeline, _judge(plan, timeline), started_at)
