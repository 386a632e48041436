"""The scenario catalog: named traffic plans per provider, with levels taken from the specs."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace

from relayops.promtest.scenarios import quantile_counts
from relayops.spec import SpecSet
from relayops.spec.metrics import Role
from relayops.spec.provider import ProviderSpec
from relayops.spec.signals import Signal
from relayops.spec.slo import SLO
from relayops.spec.thresholds import Levels
from relayops.synth.expect import Expectation
from relayops.synth.traffic import Shape

NOMINAL_RATE = 2.0  # requests/s at which `fires` and `silent` are worked out
QUANTILE_EVENTS = 1000  # resolution of shares placed with quantile_counts
LOW_TRAFFIC_RATE = 3 / 3600  # three requests an hour
# Catalog keys of the signals whose failures have a scenario of their own.
SIGNAL_FAULTS = {"oauth-refresh-failures": "oauth_refresh", "upload-failures": "upload_sessions"}


@dataclass(frozen=True)
class Phase:
    """A share of the run's duration; `shape` None means the adapter is gone (no series)."""

    share: float
    shape: Shape | None


@dataclass(frozen=True)
class Plan:
    """One provider's run of a scenario and the alerts it is meant to fire and to leave silent."""

    phases: tuple[Phase, ...]
    heartbeat: bool = True
    fixed_rate: float | None = None  # requests/s replacing the requested rate
    fires: tuple[str, ...] = ()
    silent: tuple[str, ...] = ()

    def phase_index(self, fraction: float) -> int:
        """Index of the phase running at `fraction` (0..1) of the run."""
        end = 0.0
        for index, phase in enumerate(self.phases):
            end += phase.share
            if fraction < end:
                return index
        return len(self.phases) - 1


@dataclass(frozen=True)
class Scenario:
    name: str
    summary: str
    plans: Mapping[str, Plan] = field(default_factory=dict)  # by provider spec name

    @property
    def providers(self) -> tuple[str, ...]:
        return tuple(self.plans)


def _strong(levels: Levels) -> float:
    """Twice the highest level, kept under 100% for ratios."""
    top = max(level for _, level in levels.levels())
    return 2 * top if 2 * top < 1 else (top + 1) / 2


def _between(levels: Levels) -> float:
    """Midway between warning and critical (above warning, under critical)."""
    values = [level for _, level in levels.levels()]
    return (values[0] + values[-1]) / 2 if len(values) > 1 else 1.5 * values[0]


class _Levels:
    """Shapes of one provider, each relative to a level of its spec."""

    def __init__(self, specs: SpecSet, spec: ProviderSpec):
        self.specs = specs
        self.spec = spec
        self.latency = specs.metric(Role.LATENCY)

    def _slos(self, sli: str) -> list[SLO]:
        return [s for s in self.spec.slos if s.sli.type == sli]

    def slow_seconds(self) -> float:
        """The first latency bucket above every latency SLO's threshold."""
        limit = max((s.sli.threshold_seconds for s in self._slos("latency")), default=0.0)
        slow = next((b for b in self.latency.buckets if b > limit), None)
        if slow is None:
            raise ValueError(
                f"{self.spec.name}: no latency bucket above {limit}s, so no request can be slow"
            )
        return slow

    def healthy(self) -> Shape:
        """A tenth of every budget and level: realistic noise that alerts nobody."""
        errors = [s.error_budget for s in self._slos("error_ratio")]
        slow = [s.error_budget for s in self._slos("latency")]
        validation = self.spec.thresholds.validation_error_ratio.levels()
        return Shape(
            error=min(errors, default=0.0) / 10,
            slow=min(slow, default=0.0) / 10,
            slow_seconds=self.slow_seconds(),
            rejected=min(level for _, level in validation) / 10,
        )

    def errors(self, share: float) -> Shape:
        return replace(self.healthy(), error=min(share, 1.0 - self.healthy().rejected))

    def burn(self, pick: Callable[[list[float]], float | None]) -> Shape | None:
        """Errors at a burn rate picked from the first error-ratio SLO's sorted tier factors;
        None where there is no such SLO or the pick finds no rate."""
        slos = self._slos("error_ratio")
        if not slos:
            return None
        slo = slos[0]
        burn = pick(sorted(t.factor(slo.period) for t in slo.tiers))
        return None if burn is None else self.errors(burn * slo.error_budget)

    def latency_above(self, level: float) -> Shape:
        q = self.spec.thresholds.latency.quantile
        counts = quantile_counts(self.latency.buckets, q, level, QUANTILE_EVENTS, under=False)
        (seconds, n), *_ = counts.items()
        return replace(self.healthy(), slow=n / QUANTILE_EVENTS, slow_seconds=seconds)

    def signal_fault(self, signal: Signal) -> Shape:
        alert = signal.alert
        healthy = self.healthy()
        if alert.kind == "quantile_above":
            metric = self.specs.metric(signal.metric)
            top = max(level for _, level in alert.levels())
            counts = quantile_counts(
                metric.buckets, alert.quantile, top, QUANTILE_EVENTS, under=False
            )
            (seconds, n), *_ = counts.items()
            return replace(
                healthy,
                signals={signal.name: n / QUANTILE_EVENTS},
                signal_slow_seconds={signal.name: seconds},
            )
        return replace(healthy, signals={signal.name: _strong(alert)})


def _signals(spec: ProviderSpec, kind: str, metric: str | None = None) -> list[Signal]:
    return [
        s
        for s in spec.signals
        if s.alert is not None and s.alert.kind == kind and metric in (None, s.metric)
    ]


def _steady(
    shape: Shape | None, heartbeat: bool = True, fixed_rate: float | None = None
) -> Plan | None:
    if shape is None:
        return None
    return Plan((Phase(1.0, shape),), heartbeat=heartbeat, fixed_rate=fixed_rate)


def _signal_faults(levels: _Levels, signals: list[Signal]) -> Plan | None:
    """Every listed signal at its fault intensity, the rest of the traffic healthy."""
    if not signals:
        return None
    shape = levels.healthy()
    for signal in signals:
        fault = levels.signal_fault(signal)
        shape = replace(
            shape,
            signals={**shape.signals, **fault.signals},
            signal_slow_seconds={**shape.signal_slow_seconds, **fault.signal_slow_seconds},
        )
    return _steady(shape)


def _healthy(lv: _Levels) -> Plan | None:
    return _steady(lv.healthy())


def _error_warn(lv: _Levels) -> Plan | None:
    return _steady(lv.errors(_between(lv.spec.thresholds.error_ratio)))


def _error_crit(lv: _Levels) -> Plan | None:
    return _steady(lv.errors(_strong(lv.spec.thresholds.error_ratio)))


def _latency_crit(lv: _Levels) -> Plan | None:
    return _steady(lv.latency_above(max(v for _, v in lv.spec.thresholds.latency.levels())))


def _outage(lv: _Levels) -> Plan | None:
    outage = lv.burn(lambda factors: factors[-1] * 10)
    if outage is None:
        return None
    healthy = lv.healthy()
    return Plan((Phase(0.1, healthy), Phase(0.6, outage), Phase(0.3, healthy)))


def _slow_burn(lv: _Levels) -> Plan | None:
    return _steady(lv.burn(lambda f: (f[0] + f[1]) / 2 if len(f) > 1 else None))


def _low_traffic(lv: _Levels) -> Plan | None:
    noise = replace(lv.healthy(), error=1 / 3, slow=1 / 3, rejected=0.0)
    return _steady(noise, fixed_rate=LOW_TRAFFIC_RATE)


def _missing(lv: _Levels) -> Plan | None:
    return Plan((Phase(0.3, lv.healthy()), Phase(0.7, None)))


def _stalled(lv: _Levels) -> Plan | None:
    return _steady(lv.healthy(), heartbeat=False)


def _validation(lv: _Levels) -> Plan | None:
    rejected = _strong(lv.spec.thresholds.validation_error_ratio)
    return _steady(replace(lv.healthy(), rejected=rejected))


def _build_slow(lv: _Levels) -> Plan | None:
    return _signal_faults(lv, _signals(lv.spec, "quantile_above"))


def _sanitization(lv: _Levels) -> Plan | None:
    return _signal_faults(lv, _signals(lv.spec, "per_request_above"))


def _ratio_fault(metric_key: str) -> Callable[[_Levels], Plan | None]:
    return lambda lv: _signal_faults(lv, _signals(lv.spec, "ratio_above", metric_key))


_CATALOG: dict[str, tuple[str, Callable[[_Levels], Plan | None]]] = {
    "healthy": ("Baseline traffic at a tenth of every budget and level.", _healthy),
    "error-rate-warn": ("Errors midway between the warning and critical levels.", _error_warn),
    "error-rate-crit": ("Errors at twice the critical error-ratio level.", _error_crit),
    "latency-crit": ("Latency quantile mid-bucket above the critical level.", _latency_crit),
    "fast-burn-outage": (
        "Healthy, errors at 10x the fastest tier's burn factor for 60% of the run, healthy.",
        _outage,
    ),
    "slow-burn": ("Errors burning midway between the two slowest tiers' factors.", _slow_burn),
    "low-traffic-noise": ("3 requests an hour, 1 failed, 1 slow: must page nobody.", _low_traffic),
    "metrics-missing": ("Healthy for 30% of the run, then the group is deleted.", _missing),
    "controller-stalled": ("Controller heartbeat pushed once, then never again.", _stalled),
    "validation-spike": ("Validation rejections at twice the level.", _validation),
    "build-slow": ("Payload build (MIME or Graph) quantile above its level.", _build_slow),
    "sanitization-spike": ("Sanitizer changes per request at twice the level.", _sanitization),
    **{
        name: (f"{key} failures at twice the highest level (under 100%).", _ratio_fault(key))
        for name, key in SIGNAL_FAULTS.items()
    },
}


def scenarios(specs: SpecSet) -> dict[str, Scenario]:
    """Every scenario, with a plan for each provider it applies to."""
    out = {}
    for name, (summary, build) in _CATALOG.items():
        plans = {}
        for spec in specs.providers:
            plan = build(_Levels(specs, spec))
            if plan is None:
                continue
            fires, silent = Expectation(specs, spec).split(
                (p.shape for p in plan.phases), plan.heartbeat, plan.fixed_rate or NOMINAL_RATE
            )
            plans[spec.name] = replace(plan, fires=fires, silent=silent)
        out[name] = Scenario(name, summary, plans)
    return out
