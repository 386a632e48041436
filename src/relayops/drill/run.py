"""Run a drill: push the scenario into a stack, watch alerts and notifications, judge.

The scenario runs for the plan's time, then healthy traffic for the recovery time, while the
runner polls Prometheus (pending and firing alerts with the evaluation at which each became
active), Alertmanager (suppression) and the notification sink. Firing times are Prometheus'
own (activeAt + for), not the moment a poll happened to see them. At the end, Prometheus'
record of what fired (ALERTS) fills in what the polls missed and gives each resolution its
evaluation: on a loaded machine a poll can come seconds late, or miss a short firing outright.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import httpx

from relayops.drill.observe import (
    FiringRecord,
    PromReader,
    active_alerts,
    alertmanager_alerts,
    firing_records,
)
from relayops.drill.plan import DrillPlan, Expected
from relayops.drill.stopping import StopRequest
from relayops.rules.alert_def import alert_ref
from relayops.spec import SpecSet
from relayops.stack import Stack, read_notifications
from relayops.synth.driver import Driver, RunSummary

POLL_SECONDS = 0.5
HEARTBEAT_SECONDS = 60.0  # the production controller's cron period
WARM_UP_LIMIT = 60.0


@dataclass
class Timeline:
    """First times (seconds since the run started) at which things happened."""

    pending: dict[str, float] = field(default_factory=dict)
    firing: dict[str, float] = field(default_factory=dict)
    resolved: dict[str, float] = field(default_factory=dict)
    suppressed: dict[str, float] = field(default_factory=dict)
    notified: dict[tuple[str, str, str], float] = field(default_factory=dict)  # ref, status, rcv
    # every notification of the drilled provider, in arrival order: (time, receiver, group key,
    # status of the group)
    notifications: list[tuple[float, str, str, str]] = field(default_factory=list)
    notes_read: int = 0
    # how old the pushed data was at the evaluation at which a fired alert became pending
    data_age: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Phases:
    """When the fault really started and ended (seconds since the run started), and how many
    seconds of healthy data lay in front of it."""

    fault_start: float
    fault_end: float
    prefix: float
    end: float = math.inf  # when the run's last poll happened


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
    phases: Phases
    started_at: float = 0.0  # unix time the scenario started; maps Timeline times onto Prometheus

    @property
    def passed(self) -> bool:
        return all(c.ok for c in self.checks)


def detection(
    plan: DrillPlan, phases: Phases, timeline: Timeline, expected: Expected
) -> tuple[float | None, float]:
    """(measured, expected) detection in seconds after the fault started; measured is None
    when the alert never fired."""
    fired = timeline.firing.get(expected.ref)
    theory = plan.expected_detection(expected, phases.prefix, timeline.data_age.get(expected.ref))
    return (None if fired is None else fired - phases.fault_start), theory


def clearing(plan: DrillPlan, phases: Phases, expected: Expected) -> float:
    """Expected seconds from the fault's end to the alert resolving, for this run's fault."""
    fault = phases.fault_end - phases.fault_start
    seconds = plan.expected_clearing(expected, fault, phases.prefix)
    return plan.recovery_seconds if seconds is None else seconds


def _observe(
    client: httpx.Client,
    stack: Stack,
    provider: str,
    plan: DrillPlan,
    timeline: Timeline,
    started_at: float,
    emit: Callable[[str], None],
    earlier: int = 0,
) -> set[str]:
    """Record what changed for alerts of the drilled provider (the provider label's value):
    another provider, which gets no traffic in this drill, would only add noise. The first
    `earlier` notifications arrived before the scenario (the stack's start) and are skipped.
    Returns the alerts firing now."""
    now = time.time() - started_at

    def own(labels: dict[str, str]) -> bool:
        return labels.get("provider") == provider

    active = [a for a in active_alerts(client, stack.prometheus_url) if own(a.labels)]
    firing = set()
    for alert in active:
        ref = alert_ref(alert.labels)
        since = alert.active_at - started_at
        if ref not in timeline.pending:
            timeline.pending[ref] = since
            emit(f"{since:6.1f}s pending   {ref}")
        if alert.state == "firing":
            firing.add(ref)
            if ref not in timeline.firing:
                timeline.firing[ref] = since + plan.for_seconds.get(ref, 0)
                emit(f"{timeline.firing[ref]:6.1f}s firing    {ref}")
    for ref in set(timeline.firing) - firing - set(timeline.resolved):
        timeline.resolved[ref] = now
        emit(f"{now:6.1f}s resolved  {ref}")
    for alert in alertmanager_alerts(client, stack.alertmanager_url):
        if not own(alert.labels):
            continue
        ref = alert_ref(alert.labels)
        if alert.state == "suppressed" and ref not in timeline.suppressed:
            timeline.suppressed[ref] = now
            emit(f"{now:6.1f}s inhibited {ref} (by {len(alert.inhibited_by)} alert)")
    notes = read_notifications(stack.sink_log)[earlier:]
    for note in notes[timeline.notes_read :]:
        if any(own(alert["labels"]) for alert in note["alerts"]):
            timeline.notifications.append(
                (now, note["receiver"], note.get("groupKey", ""), note.get("status", ""))
            )
    timeline.notes_read = len(notes)
    for note in notes:
        for alert in note["alerts"]:
            if not own(alert["labels"]):
                continue
            key = (alert_ref(alert["labels"]), alert["status"], note["receiver"])
            if key not in timeline.notified:
                timeline.notified[key] = now
                emit(f"{now:6.1f}s notified  {key[0]} {key[1]} -> {key[2]}")
    return firing


def _recall(
    reader: PromReader,
    provider: str,
    plan: DrillPlan,
    timeline: Timeline,
    started_at: float,
    still_firing: set[str],
    emit: Callable[[str], None],
) -> None:
    """Complete the timeline from Prometheus' record of the run's firing alerts: a firing no
    poll saw is added (activeAt + for, as a poll would have), and an alert no longer firing
    (not in `still_firing`, what the last poll saw) resolved at the evaluation after its last
    firing one, not when a poll noticed."""
    records = firing_records(reader, f'provider="{provider}"', started_at, time.time())
    by_ref: dict[str, list[FiringRecord]] = {}
    for record in records:
        by_ref.setdefault(alert_ref(record.labels), []).append(record)
    for ref, fired in sorted(by_ref.items()):
        if ref not in timeline.firing:
            active = min(r.active_at for r in fired) - started_at
            timeline.pending.setdefault(ref, active)
            timeline.firing[ref] = active + plan.for_seconds.get(ref, 0)
            emit(f"{timeline.firing[ref]:6.1f}s firing    {ref} (no poll saw it; Prometheus did)")
        if ref not in still_firing:
            timeline.resolved[ref] = (
                max(r.last for r in fired) + plan.pipeline.evaluation - started_at
            )


def _measure_data_age(
    reader: PromReader, pushed_at: str, plan: DrillPlan, timeline: Timeline, started_at: float
) -> None:
    """For each expected or too-slow alert that fired: how old the pushed data was at the
    evaluation at which it became pending (firing minus `for`), that is its time minus the push
    time of the latest sample it could read. A drill whose pushes or scrapes ran late (or early)
    on a loaded machine is judged against what the rules saw, not against a mean wait."""
    judged = [(e.ref, e.alert) for e in plan.fires] + [(r, plan.alerts[r]) for r in plan.too_slow]
    for ref, alert in judged:
        fired = timeline.firing.get(ref)
        if fired is None or not alert.reads_pushed_data:
            continue
        at = started_at + fired - plan.for_seconds.get(ref, 0)
        answer = reader.instant(pushed_at, at)
        if len(answer) == 1:
            timeline.data_age[ref] = at - answer[0][1]


def _theory_parts(plan: DrillPlan, timeline: Timeline, ref: str, theory: float) -> str:
    age = timeline.data_age.get(ref)
    delay = plan.pipeline.delay(plan.alerts[ref], age)
    if age is None:
        pipeline = f"mean pipeline delay {delay:.2f}s"
    else:
        pipeline = f"pipeline delay {delay:.2f}s, the data {age:.2f}s old when it went pending"
    return f"window math and `for` {theory - delay:.1f}s + {pipeline}"


def _judge(plan: DrillPlan, timeline: Timeline, phases: Phases) -> tuple[Check, ...]:
    checks = []
    for expected in plan.fires:
        ref = expected.ref
        measured, theory = detection(plan, phases, timeline, expected)
        checks.append(
            Check(
                f"{ref} fires",
                measured is not None,
                "never seen firing" if measured is None else f"fired after {measured:.1f}s",
            )
        )
        if measured is None:
            continue
        checks.append(
            Check(
                f"{ref} fires in time",
                abs(measured - theory) <= plan.allowed(ref),
                f"measured {measured:.1f}s after the fault started, theory {theory:.1f}s "
                f"({_theory_parts(plan, timeline, ref, theory)}), "
                f"allowed ±{plan.allowed(ref):g}s",
            )
        )
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
                f"resolved {timeline.resolved[ref] - phases.fault_end:.1f}s after the fault ended"
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
    checks += _slow_tiers(plan, timeline, phases)
    checks += _pages(plan, timeline, phases)
    return tuple(checks)


def _slow_tiers(plan: DrillPlan, timeline: Timeline, phases: Phases) -> list[Check]:
    """Alerts too slow for the planned fault, judged on the run they really had: with the
    healthy data the stack really held before the fault (a fresh stack holds little, so long
    windows fill with the fault sooner) and the windows the fault left behind once it ended.
    Those theory says fire before the run's end must fire in time; the rest must not fire."""
    checks, quiet = [], []
    fault = phases.fault_end - phases.fault_start
    planned_end = plan.run_seconds + plan.recovery_seconds
    until = min(phases.end, planned_end) - phases.fault_start - plan.tolerance
    for ref in plan.too_slow:
        alert = plan.alerts[ref]
        fires = plan.theory.firing_in_run(
            alert, fault, phases.prefix, until, plan.pipeline.evaluation
        )
        measured = timeline.firing.get(ref)
        if fires is None:
            quiet.append(ref)
            continue
        theory = fires + plan.pipeline.delay(alert, timeline.data_age.get(ref))
        seen = None if measured is None else measured - phases.fault_start
        checks.append(
            Check(
                f"{ref} fires in time on the windows of this run",
                seen is not None and abs(seen - theory) <= plan.allowed(ref),
                "never seen firing"
                if seen is None
                else f"measured {seen:.1f}s after the fault started, theory {theory:.1f}s "
                f"({_theory_parts(plan, timeline, ref, theory)}; fault {fault:.1f}s long, "
                f"{phases.prefix:.1f}s of healthy data before it), allowed ±{plan.allowed(ref):g}s",
            )
        )
    loud = [ref for ref in quiet if ref in timeline.firing]
    checks.append(
        Check(
            "alerts too slow for this run stay silent",
            not loud,
            ", ".join(f"{ref} fired {timeline.firing[ref]:.1f}s into the run" for ref in loud)
            or f"{len(quiet)} too slow to fire before the run's end, none fired",
        )
    )
    return checks


def page_tally(timeline: Timeline, receiver: str) -> tuple[int, int]:
    """(firing notifications, incidents opened) at `receiver`: PagerDuty dedups on the
    Alertmanager group, so a page is a firing notification for a group not already open."""
    open_groups: set[str] = set()
    firing = opened = 0
    for _, rcv, group, status in timeline.notifications:
        if rcv != receiver:
            continue
        if status == "firing":
            firing += 1
            if group not in open_groups:
                opened += 1
                open_groups.add(group)
        else:
            open_groups.discard(group)
    return firing, opened


def _pages(plan: DrillPlan, timeline: Timeline, phases: Phases) -> list[Check]:
    """One page per incident, and no page tier that starts firing once the fault is over."""
    pager = plan.pager
    critical = [e for e in plan.fires if e.receiver == pager]
    wanted = 1 if critical else 0
    firing, opened = page_tally(timeline, pager)
    checks = [
        Check(
            f"{wanted} page{'s' if wanted != 1 else ''} at {pager}",
            opened == wanted,
            f"{opened} incident(s) opened by {firing} firing notification(s)",
        )
    ]
    limit = phases.fault_end + plan.tolerance
    after = sorted(
        ref
        for ref, at in timeline.firing.items()
        if at > limit and plan.receivers.get(ref) == pager
    )
    checks.append(
        Check(
            "no page starts after the fault ended",
            not after,
            ", ".join(
                f"{ref} fired {timeline.firing[ref] - phases.fault_end:.1f}s after" for ref in after
            )
            or "every page fired while the fault was on",
        )
    )
    return checks


def _warm_up(
    client: httpx.Client,
    driver: Driver,
    stack: Stack,
    plan: DrillPlan,
    emit: Callable[[str], None],
    stop: StopRequest,
) -> None:
    """Healthy traffic until no alert of the provider is active, so the drill starts clean (a
    new stack has no series yet, and metrics-missing fires until the first push)."""
    own = set(plan.for_seconds)
    deadline = time.monotonic() + WARM_UP_LIMIT
    while time.monotonic() < deadline:
        driver.run(plan.healthy, 2.0, plan.rate, plan.pipeline.tick, stop.sleep, plan.scale)
        loud = own & {alert_ref(a.labels) for a in active_alerts(client, stack.prometheus_url)}
        if not loud:
            emit("        warmed up: healthy traffic, nothing of this provider pending or firing")
            return
    raise RuntimeError(
        f"alerts still active after {WARM_UP_LIMIT:.0f}s of healthy traffic: "
        f"{', '.join(sorted(loud))}"
    )


def _phases(
    plan: DrillPlan, run: RunSummary, recovery: RunSummary, data_since: float, started_at: float
) -> Phases:
    started = run.phase_started
    phases = plan.scenario.plans[plan.provider].phases
    fault = 1 if len(phases) > 1 else 0
    start = started[fault]
    end = started.get(fault + 1, recovery.phase_started[0])
    return Phases(start - started_at, end - started_at, start - data_since)


def run_drill(
    specs: SpecSet,
    stack: Stack,
    plan: DrillPlan,
    emit: Callable[[str], None] = print,
    stop: StopRequest | None = None,
) -> DrillResult:
    """Drive the plan into a running stack (rendered ×plan.scale) and judge what it shows.
    Every wait goes through `stop`: Cancelled within a poll once it is requested."""
    stop = StopRequest() if stop is None else stop
    with httpx.Client(timeout=5) as client:
        driver = Driver(
            specs,
            specs.provider(plan.provider),
            stack.pushgateway_url,
            heartbeat_s=max(HEARTBEAT_SECONDS / plan.scale, plan.pipeline.tick),
            client=client,
        )
        return _drive_and_watch(client, stack, plan, driver, emit, stop)


def _drive_and_watch(
    client: httpx.Client,
    stack: Stack,
    plan: DrillPlan,
    driver: Driver,
    emit: Callable[[str], None],
    stop: StopRequest,
) -> DrillResult:
    """Warm up, run the scenario and recovery while polling what the stack shows, then read
    Prometheus' own record. One HTTP client serves the driver and every poll: making one loads
    the CA bundle, 40 ms of CPU, and one per poll kept the drills' process busy with that."""
    healthy, tick, scale, pause = plan.healthy, plan.pipeline.tick, plan.scale, stop.sleep
    data_since = time.time()
    _warm_up(client, driver, stack, plan, emit, stop)
    runs: list[RunSummary] = []
    errors: list[BaseException] = []

    def traffic() -> None:
        try:
            runs.append(driver.run(plan.scenario, plan.run_seconds, plan.rate, tick, pause, scale))
            emit("        scenario over; healthy traffic")
            runs.append(driver.run(healthy, plan.recovery_seconds, plan.rate, tick, pause, scale))
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    timeline = Timeline()
    earlier = len(read_notifications(stack.sink_log))
    started_at = time.time()
    pusher = threading.Thread(target=traffic, daemon=True)
    pusher.start()
    label = driver.spec.provider
    while pusher.is_alive():
        _observe(client, stack, label, plan, timeline, started_at, emit, earlier)
        stop.sleep(POLL_SECONDS)
    still_firing = _observe(client, stack, label, plan, timeline, started_at, emit, earlier)
    if errors:
        raise errors[0]
    watched_until = time.time() - started_at
    reader = PromReader(client, stack.prometheus_url)
    _recall(reader, label, plan, timeline, started_at, still_firing, emit)
    _measure_data_age(reader, driver.pushed_at_series, plan, timeline, started_at)
    phases = replace(_phases(plan, *runs, data_since, started_at), end=watched_until)
    return DrillResult(plan, timeline, _judge(plan, timeline, phases), phases, started_at)
