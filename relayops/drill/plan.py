"""What a drill expects: the alerts its scenario must fire within the run, at a time scale.

synth decides which alerts a scenario's traffic crosses; this module adds *when*: from the
time-scaled specs, each crossed alert's detection time. Alerts that would take longer than the
drill may run are reported as too slow at this scale, not expected.
"""

from __future__ import annotations

from dataclasses import dataclass

from relayops.spec import SpecSet
from relayops.spec.timescale import time_scaled
from rules_gen.alertmanager.receivers import receiver_name
from rules_gen.alerts import AlertDef, alert_defs
from rules_gen.testgen.detection import detection_seconds
from synth.expect import Expectation, alert_ref
from synth.scenarios import Plan, Scenario

LOOKBACK_SECONDS = 300  # Prometheus' staleness lookback, which time scaling does not shorten
MARGIN_SECONDS = 10  # scrape, evaluation and push jitter on top of the theory
MIN_RUN_SECONDS = 20


@dataclass(frozen=True)
class Expected:
    ref: str
    alert: AlertDef
    detection: float  # seconds after the fault starts, at the drill's time scale
    receiver: str


@dataclass(frozen=True)
class DrillPlan:
    scenario: Scenario
    provider: str
    scale: int
    rate: float
    run_seconds: float  # the whole scenario, whose fault phase covers every detection
    fault_start: float  # seconds into the scenario where the fault phase begins
    recovery_seconds: float
    fires: tuple[Expected, ...]
    too_slow: tuple[str, ...]
    silent: tuple[str, ...]


def _detection(
    expect: Expectation, alert: AlertDef, plan: Plan, rate: float, rate_window: int
) -> float | None:
    """Seconds to fire once the crossing phase starts, or None if no phase crosses."""
    shapes = [p.shape for p in plan.phases]
    if alert.kind == "stalled":
        return None if plan.heartbeat else alert.level + alert.rule.for_seconds
    if alert.kind == "missing":
        return LOOKBACK_SECONDS + alert.rule.for_seconds if None in shapes else None
    crossing = [s for s in shapes if s is not None and expect.fires(alert, s, plan.heartbeat, rate)]
    if not crossing:
        return None
    if alert.kind != "burn":
        return rate_window + alert.rule.for_seconds
    times = [detection_seconds(alert.slo, alert.tier, expect.burn(alert, s)) for s in crossing]
    return min((t for t in times if t is not None), default=None)


def _fault_share(plan: Plan) -> float:
    """Share of the run held by its longest phase that is not the leading healthy one."""
    phases = plan.phases[1:] if len(plan.phases) > 1 else plan.phases
    return max(p.share for p in phases)


def plan_drill(
    specs: SpecSet, scenario: Scenario, provider: str, scale: int, rate: float, max_seconds: float
) -> DrillPlan:
    """Expectations of `scenario` on `provider` with rules time-scaled ×`scale`."""
    if provider not in scenario.plans:
        raise ValueError(
            f"scenario {scenario.name} does not apply to {provider} "
            f"(it applies to: {', '.join(scenario.providers)})"
        )
    scaled = time_scaled(specs, scale)
    spec = scaled.provider(provider)
    plan = scenario.plans[provider]
    expect = Expectation(scaled, spec)
    drill_rate = plan.fixed_rate if plan.fixed_rate is not None else rate
    fires, too_slow, silent = [], [], []
    for alert in alert_defs(scaled, spec):
        ref = alert_ref(alert)
        if ref not in plan.fires:
            silent.append(ref)
            continue
        seconds = _detection(expect, alert, plan, drill_rate, scaled.service.rate_window)
        if seconds is None or seconds + MARGIN_SECONDS > max_seconds:
            too_slow.append(ref)
            continue
        fires.append(Expected(ref, alert, seconds, receiver_name(scaled.service, alert.severity)))
    needed = max([e.detection for e in fires], default=0.0) + MARGIN_SECONDS
    run = max(needed, MIN_RUN_SECONDS) / _fault_share(plan)
    recovery = scaled.service.rate_window + MARGIN_SECONDS
    for e in fires:
        if e.alert.tier is not None:
            recovery = max(recovery, e.alert.tier.short_window + MARGIN_SECONDS)
    lead = plan.phases[0].share * run if len(plan.phases) > 1 else 0.0
    return DrillPlan(
        scenario,
        provider,
        scale,
        drill_rate,
        run,
        lead,
        recovery,
        tuple(fires),
        tuple(too_slow),
        tuple(silent),
    )
