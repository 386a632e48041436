"""Input timelines and expectations that drive each rendered alert in promtool tests."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from relayops.promql.simulate import humanize_duration
from relayops.promtest.detection import BURNS, burn_of, detection_seconds
from relayops.promtest.timeline import Timeline, key
from relayops.promtest.traffic import Traffic, merge
from relayops.rules.alert_def import AlertDef
from relayops.rules.measure import Distinct, Events, Quantile, Share
from relayops.spec import SpecSet
from relayops.spec.durations import format_duration
from relayops.spec.labels import BURN_TIER, PROVIDER, SEVERITY
from relayops.spec.metrics import Role
from relayops.spec.provider import ProviderSpec
from relayops.spec.slo import SLO, BurnTier

MINUTE = 60
BUSY = 6000  # requests per minute of "busy" traffic: fine-grained ratios, integer counts


class GenerationError(ValueError):
    """A spec whose alerts cannot be exercised by a generated test; the message says why."""


@dataclass(frozen=True)
class Expect:
    kind: Literal["silent", "fires", "resolves"]
    start: int
    end: int = 0


@dataclass
class Scenario:
    name: str
    alertnames: tuple[str, ...]
    timeline: Timeline
    expectations: list[Expect] = field(default_factory=list)
    instance: dict[str, str] = field(default_factory=dict)  # labels picking the alert under test
    detection: tuple[str, float] | None = None  # (burn label, theoretical seconds to fire)


def fire_and_resolve(
    name: str,
    alert: AlertDef,
    timeline: Timeline,
    fault: int,
    recovery: int,
    instance: dict[str, str],
    detection: tuple[str, float] | None = None,
) -> Scenario:
    """Silent until `fault`, fires after it, resolves after `recovery`."""
    return Scenario(
        name,
        (alert.name,),
        timeline,
        [Expect("silent", 0, fault), Expect("fires", fault), Expect("resolves", recovery)],
        instance,
        detection,
    )


def _ceil_to(seconds: float, step: int) -> int:
    return int(math.ceil(seconds / step) * step)


def tier_step(tier: BurnTier) -> int:
    """Coarsest test step that still puts six samples in the short window."""
    for step in (3600, 900, 300):
        if (
            tier.short_window >= 6 * step
            and tier.for_ % step == 0
            and tier.long_window % step == 0
            and tier.short_window % step == 0
        ):
            return step
    return MINUTE


def leveled_step(for_seconds: int, window: int) -> int:
    """Test step of a leveled alert: 5 minutes when its `for` and its window are whole
    multiples of it (samples stay a minute apart, so the window still holds five or more),
    else a minute. The alert's crossing and `for` are judged at that resolution; promtool
    evaluates every loaded rule at every step, so a fifth of the steps is a fifth of the cost."""
    coarse = 5 * MINUTE
    if for_seconds >= coarse and for_seconds % coarse == 0 and window % coarse == 0:
        return coarse
    return MINUTE


class Scenarios:
    def __init__(self, specs: SpecSet, spec: ProviderSpec):
        self.specs = specs
        self.spec = spec
        self.traffic = Traffic(specs, spec)
        self.window = specs.service.rate_window

    # SLO burn tiers ---------------------------------------------------------------------------
    def _bad_traffic(self, total: float, bad: Sequence[tuple[SLO, float]]) -> dict:
        """`total` requests a minute of which each SLO of the pack sees its `bad` count bad:
        failed for an error-ratio SLO, slower than the threshold for a latency SLO (successes
        first, then failures, so a full outage fails slowly and both SLOs see every request
        bad). A pack holds one SLO of each SLI type, so the two counts never mix."""
        errors = sum(n for slo, n in bad if slo.sli.type == "error_ratio")
        slow = sum(n for slo, n in bad if slo.sli.type == "latency")
        if not slow:
            return self.traffic.send(success=total - errors, error=errors)
        slow_ok = min(slow, total - errors)
        bucket = self._slow_bucket(next(slo for slo, _ in bad if slo.sli.type == "latency"))
        return self.traffic.send(
            success=total - errors,
            error=errors,
            slow={bucket: slow_ok} if slow_ok else None,
            slow_errors={bucket: slow - slow_ok} if slow > slow_ok else None,
        )

    def _slow_bucket(self, slo: SLO) -> float:
        buckets = self.specs.metric(Role.LATENCY).buckets
        slow = next((b for b in buckets if b > slo.sli.threshold_seconds), None)
        if slow is None:
            raise GenerationError(
                f"{self.spec.name}: SLO {slo.name} threshold {slo.sli.threshold_seconds}s has no "
                "finite latency bucket above it, so no request can be counted slow; add one"
            )
        return slow

    def burn_under(self, pack: list[AlertDef]) -> list[Scenario]:
        """Every SLO of the pack burns just under the tier's factor at once: all stay silent."""
        tier = pack[0].tier
        step = tier_step(tier)
        bad = [(a.slo, math.ceil(a.slo.threshold(tier) * BUSY - 1e-9) - 1) for a in pack]
        timeline = Timeline(step, min(step, self.specs.service.period_rules_interval))
        end = _ceil_to(tier.long_window + tier.for_ + tier.short_window, step)
        timeline.run(end, self._bad_traffic(BUSY, bad))
        return [
            Scenario(
                f"{a.name} {tier.name}: silent at a steady "
                f"{n / BUSY / a.slo.error_budget:.4g}x burn, just under "
                f"{tier.factor(a.slo.period):g}x",
                (a.name,),
                timeline,
                [Expect("silent", 0, timeline.end)],
                {BURN_TIER: tier.name},
            )
            for a, (_, n) in zip(pack, bad, strict=True)
        ]

    def burn_fault(self, pack: list[AlertDef], label: str, burn: float | None) -> list[Scenario]:
        """Every SLO of the pack burns at `burn` from the same moment after a healthy long
        window; each alert fires after its own theoretical time and resolves once it ends."""
        theories = [
            (a, t)
            for a in pack
            if (t := detection_seconds(a.slo, a.tier, burn_of(a.slo, burn))) is not None
        ]
        if not theories:
            return []
        tier = pack[0].tier
        step = tier_step(tier)
        total, bad = self._burn_counts([a.slo for a, _ in theories], burn)
        timeline = Timeline(step, min(step, self.specs.service.period_rules_interval))
        healthy = self._bad_traffic(total, [])
        timeline.run(_ceil_to(tier.long_window, step), healthy)
        longest = _ceil_to(max(t for _, t in theories), step) + 3 * step
        fault = timeline.run(longest, self._bad_traffic(total, bad))
        recovery = timeline.run(_ceil_to(tier.short_window, step) + 3 * step, healthy)
        return [
            fire_and_resolve(
                f"{a.name} {tier.name}: {label} after a healthy "
                f"{format_duration(tier.long_window)} fires {humanize_duration(theory)} after "
                "it starts (theory), resolves once it ends",
                a,
                timeline,
                fault,
                recovery,
                {BURN_TIER: tier.name},
                (label, theory),
            )
            for a, theory in theories
        ]

    def _burn_counts(
        self, slos: list[SLO], burn: float | None
    ) -> tuple[float, list[tuple[SLO, float]]]:
        """Requests per minute, and bad requests per minute of each SLO, in whole numbers."""
        if burn is None:
            return 600, [(slo, 600) for slo in slos]
        for total in (600, 3000, 6000, 30000, 60000, 600000):
            bad = [burn * slo.error_budget * total for slo in slos]
            if all(abs(n - round(n)) < 1e-9 for n in bad):
                return total, [(slo, round(n)) for slo, n in zip(slos, bad, strict=True)]
        objectives = ", ".join(f"{slo.name} {slo.objective}" for slo in slos)
        raise GenerationError(
            f"{self.spec.name}: no whole-number traffic gives a {burn}x burn at "
            f"objective {objectives}"
        )

    def low_traffic(self, alertnames: tuple[str, ...]) -> Scenario:
        """Three requests an hour for four hours: one fails, one is slow; nothing may fire."""
        timeline = Timeline(MINUTE)
        slow = {
            b: 1
            for b in self.specs.metric(Role.LATENCY).buckets
            if all(b > s.sli.threshold_seconds for s in self.spec.slos if s.sli.type == "latency")
        }
        slow = dict([min(slow.items())])
        hour = (
            (9, None),
            (1, self.traffic.send(success=1)),
            (19, None),
            (1, self.traffic.send(error=1)),
            (19, None),
            (1, self.traffic.send(success=1, slow=slow)),
            (10, None),
        )
        for _ in range(4):
            for minutes, increments in hour:
                timeline.run(minutes * MINUTE, increments or {})
        return Scenario(
            "low traffic: 1 failed and 1 slow request of 3 an hour page nobody",
            alertnames,
            timeline,
            [Expect("silent", 0, timeline.end)],
        )

    # leveled alerts ---------------------------------------------------------------------------
    def leveled(
        self, alert: AlertDef, under: dict, fire: dict, healthy: dict, window: int | None = None
    ) -> Scenario:
        window = window or self.window
        step = leveled_step(alert.rule.for_seconds, window)
        span = _ceil_to(alert.rule.for_seconds + window, step) + 5 * step
        timeline = Timeline(step, MINUTE)
        timeline.run(span, under)
        fault = timeline.run(span, fire)
        recovery = timeline.run(_ceil_to(span + window, step), healthy)
        level = alert.level
        return fire_and_resolve(
            f"{alert.name} {alert.severity}: silent just under {level:g}, fires above it, "
            "resolves after",
            alert,
            timeline,
            fault,
            recovery,
            {SEVERITY: alert.severity},
        )

    def threshold(self, alert: AlertDef, fire_level: float) -> Scenario:
        """Scenario for a leveled alert, made from its measure; `fire_level` is the quantity
        to drive it with."""
        try:
            under, fire, healthy = self._levels(alert, fire_level)
        except ValueError as exc:
            raise GenerationError(f"{alert.name}: {exc}") from exc
        if alert.guarded_by is not None:
            busy = self.traffic.events(alert.guarded_by, BUSY)
            under, fire, healthy = (
                merge(busy, t) if not _counts(t, alert.guarded_by) else t
                for t in (under, fire, healthy)
            )
        return self.leveled(alert, under, fire, healthy, alert.measure.window)

    def _levels(self, alert: AlertDef, fire_level: float) -> tuple[dict, dict, dict]:
        """Traffic (just under the level, at `fire_level`, healthy) for the alert's measure."""
        t = self.traffic
        level = alert.level
        match alert.measure:
            case Share() as share:
                return (
                    t.share(share, math.ceil(level * BUSY - 1e-9) - 1, BUSY),
                    t.share(share, round(fire_level * BUSY), BUSY),
                    t.share(share, 0, BUSY),
                )
            case Quantile(histogram=histogram, q=q):

                def observed(under: bool) -> dict:
                    slow = quantile_counts(histogram.buckets, q, level, BUSY, under)
                    return t.observations(histogram, slow, BUSY)

                return observed(True), observed(False), t.observations(histogram, {}, BUSY)
            case Distinct(events=events, label=label):
                values = events.values(label)
                limit = int(level)
                if len(values) <= limit:
                    raise ValueError(
                        f"{events.metric.name} knows only {len(values)} values of {label}, so "
                        f"more than {limit} can never be seen; list more or raise the limit"
                    )

                def spread(n: int) -> dict:
                    each = (Events.of(events.metric, **{**events.picked, label: v}) for v in values)
                    return merge(*(t.events(e, 15) for e in list(each)[:n]))

                return spread(limit), spread(limit + 1), spread(limit)
        raise ValueError(f"no generated test for a leveled alert measuring {alert.measure!r}")

    # operations -------------------------------------------------------------------------------
    def missing(self, alert: AlertDef) -> Scenario:
        """Series vanish briefly (silent), then for longer than lookback + `for` (fires)."""
        timeline = Timeline(MINUTE)
        busy = self.traffic.send(success=600)
        lookback = 5 * MINUTE
        timeline.run(20 * MINUTE, busy)
        timeline.run(lookback, busy, present=False)
        timeline.run(20 * MINUTE, busy)
        gap = timeline.run(lookback + alert.rule.for_seconds + 5 * MINUTE, busy, present=False)
        back = timeline.run(10 * MINUTE, busy)
        return fire_and_resolve(
            f"{alert.name}: a {format_duration(lookback)} gap is tolerated, a longer one fires, "
            "resolves when series return",
            alert,
            timeline,
            gap,
            back,
            {SEVERITY: alert.severity},
        )

    def stalled(self, alert: AlertDef) -> Scenario:
        """The controller succeeds every 5 minutes, pauses just under the limit, then stalls."""
        timeline = Timeline(MINUTE)
        gauge = key(alert.measure.gauge.name, {PROVIDER: self.spec.provider})
        max_age = int(alert.level)
        every = 5 * MINUTE

        def running(seconds: int) -> None:
            for _ in range(seconds // every):
                timeline.run(every, {}, gauges={gauge: float(timeline.end + every)})

        running(30 * MINUTE)
        timeline.run(_ceil_to(max_age, MINUTE) - 2 * MINUTE, {})
        running(30 * MINUTE)
        stall = timeline.run(_ceil_to(max_age + alert.rule.for_seconds, MINUTE) + 5 * MINUTE, {})
        back = timeline.end
        running(15 * MINUTE)
        return fire_and_resolve(
            f"{alert.name}: a pause just under {format_duration(max_age)} is tolerated, a "
            "longer one fires, resolves on the next success",
            alert,
            timeline,
            stall,
            back,
            {SEVERITY: alert.severity},
        )

    def burns(self, pack: list[AlertDef]) -> list[Scenario]:
        """A pack's scenarios: just under the factor, then each burn of BURNS."""
        out = self.burn_under(pack)
        for label, burn in BURNS.items():
            out += self.burn_fault(pack, label, burn)
        return out


def burn_packs(alerts: list[AlertDef]) -> list[list[AlertDef]]:
    """Burn alerts that can share a test: the same tier windows and `for` (so the same step and
    healthy lead), one SLO of each SLI type (an error-ratio SLO counts failures, a latency SLO
    slow requests: the two bad counts are put on the same traffic without touching each
    other). Halves the steps promtool evaluates for a provider with both SLOs."""
    packs: dict[tuple, list[list[AlertDef]]] = {}
    for alert in alerts:
        tier = alert.tier
        shelf = packs.setdefault((tier.name, tier.long_window, tier.short_window, tier.for_), [])
        kind = alert.slo.sli.type
        free = next((p for p in shelf if all(a.slo.sli.type != kind for a in p)), None)
        if free is None:
            shelf.append([alert])
        else:
            free.append(alert)
    return [pack for shelf in packs.values() for pack in shelf]


def _counts(traffic: dict, events: Events) -> bool:
    """Whether the traffic already holds series of these events."""
    return any(dict(k)["__name__"] == events.series for k in traffic)


def quantile_counts(
    buckets: tuple[float, ...], q: float, level: float, events: float, under: bool
) -> dict[float, float]:
    """Observations that put the q-quantile mid-bucket just above (or at most at) `level`.

    A share 2 × (1 − q) of the events in bucket (lo, hi] places the quantile at its midpoint.
    """
    bounds = (0.0, *buckets)
    if under:
        index = max((i for i, b in enumerate(bounds) if 0 < b <= level), default=None)
    else:
        index = next((i + 1 for i, b in enumerate(bounds[:-1]) if b >= level), None)
    if index is None:
        raise GenerationError(
            f"no latency bucket lets a generated test put the {q} quantile "
            f"{'under' if under else 'above'} {level}; add buckets around it"
        )
    share = round(2 * (1 - q) * events)
    return {bounds[index]: share}
