"""What a drill expects: the alerts its scenario must fire within the run, at a time scale.

synth decides which alerts a scenario's traffic crosses; this module adds *when*, from the
time-scaled specs (relayops.drill.theory), and sizes the run: the fault lasts until every
expected alert has fired, the healthy traffic after it until every one has cleared. Alerts
that would take longer than the drill may run are reported as too slow at this scale.

Rates are production rates: the drill pushes `rate × scale` requests a second, so a window
divided by the scale still holds as many events as in production (3 requests an hour stay 3
per compressed hour, and a 5-minute ratio is not made of a handful of events).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from relayops.alertmanager.receivers import receiver_name
from relayops.drill.theory import Pipeline, Theory, theory_for
from relayops.drill.world import DrillWorld
from relayops.rules.alert_def import AlertDef
from relayops.rules.alerts import alert_defs
from relayops.spec import SpecSet
from relayops.spec.labels import PAGING_SEVERITY
from relayops.synth.scenarios import Plan, Scenario

MARGIN_SECONDS = 5  # room after the latest expected firing or clearing
MIN_RUN_SECONDS = 20
TOLERANCE_EVALUATIONS = 2  # measured detection may stray this many evaluation intervals


@dataclass(frozen=True)
class Expected:
    ref: str
    alert: AlertDef
    detection: float  # seconds after the fault starts, every window full of healthy traffic
    receiver: str


@dataclass(frozen=True)
class DrillPlan:
    scenario: Scenario
    provider: str
    scale: int
    scaled: SpecSet  # the specs time-scaled ×scale, as the drill's rules were rendered
    rate: float  # production requests/s; the drill pushes rate × scale
    run_seconds: float  # the whole scenario, whose fault phase covers every detection
    fault_start: float  # seconds into the scenario where the fault phase begins (planned)
    recovery_seconds: float
    fires: tuple[Expected, ...]
    too_slow: tuple[str, ...]
    silent: tuple[str, ...]
    theory: Theory
    pipeline: Pipeline
    healthy: Scenario  # what the drill pushes before and after the scenario
    for_seconds: Mapping[str, int]  # every alert ref of the provider -> its `for`
    receivers: Mapping[str, str]  # every alert ref of the provider -> the receiver it reaches
    pager: str  # the receiver of critical alerts
    alerts: Mapping[str, AlertDef]  # every alert ref of the provider -> its definition

    def too_slow_note(self, ref: str) -> str:
        """What the drill says of an alert too slow for its planned fault: how it is judged."""
        production = (
            "its production timing is judged by promtool in tests/scenarios/ (Workbook formula)"
            if self.alerts[ref].is_burn
            else "its production timing is NOT JUDGED by any drill"
        )
        return (
            f"too slow for the planned fault at ×{self.scale}: judged on the run's own windows "
            f"(must fire in time if theory has it fire before the run's end, else stay silent); "
            f"{production}"
        )

    @property
    def pushed_rate(self) -> float:
        return self.rate * self.scale

    @property
    def tolerance(self) -> float:
        """How far a measured detection may stray from theory plus pipeline delay."""
        return TOLERANCE_EVALUATIONS * self.pipeline.evaluation

    def allowed(self, ref: str) -> float:
        """The tolerance of one alert: wider by the spread of its slower hops."""
        return self.tolerance + self.pipeline.spread(self.alerts[ref])

    def expected_detection(
        self, expected: Expected, prefix: float, data_age: float | None = None
    ) -> float:
        """Detection with `prefix` seconds of healthy data before the fault, plus the pipeline
        delay (its mean, or with the measured `data_age`, see Pipeline.delay): what a run is
        measured against."""
        detection = self.theory.detection(expected.alert, prefix)
        if detection is None:  # cannot happen for an expected alert: prefix only helps
            detection = expected.detection
        return detection + self.pipeline.delay(expected.alert, data_age)

    def expected_clearing(self, expected: Expected, fault: float, prefix: float) -> float | None:
        """Seconds after a fault of `fault` seconds ended until the alert should resolve,
        pipeline delay included; None if it would not within the theory's horizon."""
        clearing = self.theory.clearing(expected.alert, fault, prefix)
        return None if clearing is None else clearing + self.pipeline.delay(expected.alert)


def _phases(plan: Plan) -> tuple[float, float, float]:
    """(lead, fault, tail) shares of the run: healthy before, the fault, healthy after."""
    phases = plan.phases
    if len(phases) == 1:
        return 0.0, 1.0, 0.0
    lead, fault = phases[0].share, phases[1].share
    return lead, fault, max(0.0, 1.0 - lead - fault)


def _silent_run(scaled: SpecSet, provider: str, max_seconds: float) -> float:
    """A run that proves silence over the longest burn window the drill can afford."""
    windows = [
        t.long_window
        for slo in scaled.provider(provider).slos
        for t in slo.tiers
        if t.long_window + MARGIN_SECONDS <= max_seconds
    ]
    return max([MIN_RUN_SECONDS, *(w + MARGIN_SECONDS for w in windows)])


def plan_drill(
    world: DrillWorld, name: str, provider: str, *, rate: float, max_seconds: float
) -> DrillPlan:
    """Expectations of scenario `name` of the world's catalog on `provider` with its rules
    time-scaled, at a production rate of `rate` requests/s (pushed ×scale)."""
    scenario, healthy_scenario = world.catalog[name], world.catalog["healthy"]
    if provider not in scenario.plans:
        raise ValueError(
            f"scenario {scenario.name} does not apply to {provider} "
            f"(it applies to: {', '.join(scenario.providers)})"
        )
    scaled, scale, pipeline = world.scaled, world.scale, world.pipeline
    spec = scaled.provider(provider)
    plan = scenario.plans[provider]
    drill_rate = plan.fixed_rate if plan.fixed_rate is not None else rate
    healthy = healthy_scenario.plans[provider].phases[0].shape
    fault_phase = plan.phases[1] if len(plan.phases) > 1 else plan.phases[0]
    theory = theory_for(scaled, provider, healthy, fault_phase.shape, drill_rate * scale)
    fires, too_slow, silent, for_seconds, receivers, alerts = [], [], [], {}, {}, {}
    for alert in alert_defs(scaled, spec):
        ref = alert.ref
        for_seconds[ref] = alert.rule.for_seconds
        alerts[ref] = alert
        receivers[ref] = receiver_name(scaled.service, alert.severity)
        if ref not in plan.fires:
            silent.append(ref)
            continue
        seconds = theory.detection(alert)
        if seconds is None or seconds + pipeline.delay(alert) + MARGIN_SECONDS > max_seconds:
            too_slow.append(ref)
            continue
        fires.append(Expected(ref, alert, seconds, receivers[ref]))
    lead, fault, tail = _phases(plan)
    if fires:
        slack = MARGIN_SECONDS + TOLERANCE_EVALUATIONS * pipeline.evaluation
        needed = max(e.detection + pipeline.delay(e.alert) for e in fires) + slack
        run = max(needed, MIN_RUN_SECONDS) / fault
    else:
        run = _silent_run(scaled, provider, max_seconds) / fault
    clear = scaled.service.rate_window + MARGIN_SECONDS
    for e in fires:
        clearing = theory.clearing(e.alert, fault * run, prefix=lead * run)
        if clearing is None:
            raise ValueError(f"{e.ref} would not clear within {theory.horizon}s of healthy traffic")
        clear = max(clear, clearing + pipeline.delay(e.alert) + MARGIN_SECONDS)
    return DrillPlan(
        scenario=scenario,
        provider=provider,
        scale=scale,
        scaled=scaled,
        rate=drill_rate,
        run_seconds=run,
        fault_start=lead * run,
        recovery_seconds=max(clear - tail * run, scaled.service.rate_window + MARGIN_SECONDS),
        fires=tuple(fires),
        too_slow=tuple(too_slow),
        silent=tuple(silent),
        theory=theory,
        pipeline=pipeline,
        healthy=healthy_scenario,
        for_seconds=for_seconds,
        receivers=receivers,
        pager=receiver_name(scaled.service, PAGING_SEVERITY),
        alerts=alerts,
    )
