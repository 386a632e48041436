"""Time compression for drills: the same specs with every window and `for` divided by N.

A burn that takes an hour to page in production pages in a minute at N = 60. Ratios, levels,
burn factors and the order in which tiers fire are kept; see the README for what is not.
"""

from __future__ import annotations

from pathlib import Path

from relayops.spec.provider import ProviderSpec
from relayops.spec.service import ServiceSpec
from relayops.spec.slo import SLO, BurnTier
from relayops.spec.specset import SERVICE_FILE, SpecSet, check_spec_set

DRILL_SCRAPE_SECONDS = 1


class TimeScale:
    """Divides durations by `factor`, never below `floor` seconds (2 × the drill scrape)."""

    def __init__(self, factor: int, scrape_seconds: int = DRILL_SCRAPE_SECONDS):
        if factor < 1:
            raise ValueError(f"--time-scale must be a whole number ≥ 1, got {factor}")
        self.factor = factor
        self.scrape = scrape_seconds
        self.floor = 2 * scrape_seconds

    def window(self, seconds: int) -> int:
        return max(seconds // self.factor, self.floor)

    def delay(self, seconds: int) -> int:
        """Alertmanager timings and `for` may go down to one scrape."""
        return max(seconds // self.factor, self.scrape)


def _tier(tier: BurnTier, scale: TimeScale) -> BurnTier:
    return tier.model_copy(
        update={
            "long_window": scale.window(tier.long_window),
            "short_window": scale.window(tier.short_window),
            "for_": scale.window(tier.for_),
        }
    )


def _slo(slo: SLO, scale: TimeScale) -> SLO:
    return slo.model_copy(
        update={
            "period": slo.period // scale.factor,
            "tiers": tuple(_tier(t, scale) for t in slo.tiers),
        }
    )


def _with_for(model, scale: TimeScale, **windows: int):
    update = {"for_": scale.window(model.for_)}
    update.update({name: scale.window(value) for name, value in windows.items()})
    return model.model_copy(update=update)


def _provider(spec: ProviderSpec, scale: TimeScale) -> ProviderSpec:
    t = spec.thresholds
    thresholds = t.model_copy(
        update={
            "error_ratio": _with_for(t.error_ratio, scale),
            "latency": _with_for(t.latency, scale),
            "validation_error_ratio": _with_for(t.validation_error_ratio, scale),
            "metrics_missing": _with_for(t.metrics_missing, scale),
            "controller_stalled": _with_for(
                t.controller_stalled, scale, max_age=t.controller_stalled.max_age
            ),
            "controller_failing": _with_for(
                t.controller_failing, scale, window=t.controller_failing.window
            ),
            "error_code_cardinality": _with_for(t.error_code_cardinality, scale),
        }
    )
    signals = tuple(
        s if s.alert is None else s.model_copy(update={"alert": _with_for(s.alert, scale)})
        for s in spec.signals
    )
    rollout = spec.rollout
    health = rollout.health.model_copy(
        update={
            "failures": tuple(
                f.model_copy(update={"window": scale.window(f.window)})
                for f in rollout.health.failures
            )
        }
    )
    rollout = rollout.model_copy(
        update={
            "dwell": scale.window(rollout.dwell),
            "rollback_cooldown": scale.window(rollout.rollback_cooldown),
            "health": health,
        }
    )
    return spec.model_copy(
        update={
            "slos": tuple(_slo(s, scale) for s in spec.slos),
            "thresholds": thresholds,
            "signals": signals,
            "rollout": rollout,
        }
    )


def _service(service: ServiceSpec, scale: TimeScale) -> ServiceSpec:
    receivers = {
        severity: r.model_copy(
            update={
                "group_wait": scale.delay(r.group_wait),
                "group_interval": scale.delay(r.group_interval),
                "repeat_interval": scale.delay(r.repeat_interval),
            }
        )
        for severity, r in service.receivers.items()
    }
    return service.model_copy(
        update={
            "scrape_interval": scale.scrape,
            "evaluation_interval": scale.scrape,
            "rate_window": scale.window(service.rate_window),
            "period_rules_interval": scale.window(service.period_rules_interval),
            "long_windows_from": scale.window(service.long_windows_from),
            "receivers": receivers,
        }
    )


def time_scaled(specs: SpecSet, factor: int, scrape_seconds: int = DRILL_SCRAPE_SECONDS) -> SpecSet:
    """The spec set with every window, period and `for` divided by `factor`, validated again
    (a clamped window can change a tier's factor)."""
    scale = TimeScale(factor, scrape_seconds)
    scaled = SpecSet(
        service=_service(specs.service, scale),
        providers=tuple(_provider(p, scale) for p in specs.providers),
    )
    where = f"time-scaled ×{factor}"
    check_spec_set(
        scaled,
        Path(f"{SERVICE_FILE} ({where})"),
        [Path(f"{p.name}.yaml ({where})") for p in scaled.providers],
    )
    return scaled
