"""<Provider><Signal>Slow: a quantile of a signal's histogram (e.g. the MIME build time) above a
level, while its events are frequent enough."""

from __future__ import annotations

from relayops.rules.alert_def import AlertDef, Guard, Reading
from relayops.rules.build import sel
from relayops.rules.builder import AlertBuilder, Describe
from relayops.rules.kinds.signals import SignalKind
from relayops.rules.measure import Events, Quantile
from relayops.rules.triage import Step, Triage
from relayops.spec.series import QUANTILES, quantile_key
from relayops.spec.signals import Signal
from relayops.spec.units import Unit
from relayops.spec.units import seconds as secs


class SignalQuantileAbove(SignalKind):
    name = "signal_quantile_above"
    spec_kind = "quantile_above"
    unit = Unit.SECONDS
    topic = "latency"

    def reading(self, build: AlertBuilder, signal: Signal) -> tuple[Reading, str, Describe]:
        alert = signal.alert
        metric = build.names.signal_metric(signal)
        key = quantile_key(alert.quantile)
        reading = Reading(
            sel(build.names.signal_quantile(signal, key), build.match),
            Quantile(metric, alert.quantile, build.rate_window),
            f"{signal.name} {key}",
            Guard(
                sel(build.names.signal_buckets(signal), build.match, le="+Inf"),
                Events.of(metric),
                alert.min_event_rate,
            ),
        )
        text = (
            f"{key} of {metric.name} for {{{{ $labels.action }}}} over the last {build.window} "
            "is {{ $value | humanizeDuration }}"
        )
        return (
            reading,
            f"{build.spec.display_name} {signal.name.replace('_', ' ')} is slow.",
            lambda sev, lvl: f"{text} ({sev} above {secs(lvl)}).",
        )

    def triage(self, steps: Triage, alert: AlertDef) -> list[Step]:
        signal = alert.signal
        key = quantile_key(steps.spec.thresholds.latency.quantile)
        return [
            *(
                steps.now(f"{signal.name} {q}", steps.names.signal_quantile(signal, q))
                for q in QUANTILES
            ),
            Step(
                f"{signal.name} events/s",
                sel(steps.names.signal_buckets(signal), steps.match, le="+Inf").render(),
                "The alert is judged only above its minimum event rate.",
            ),
            Step(
                f"{key} send latency",
                sel(steps.names.latency_quantile(key, by_status=False), steps.match).render(),
                "Whether the slow step already shows in what callers wait for.",
            ),
            steps.traffic(),
            *steps.rollout(),
        ]


KIND = SignalQuantileAbove()
