"""<Provider><Signal>Failing: the share of a signal's events with some label values (e.g. failed
of started uploads) above a level, while the base events are frequent enough."""

from __future__ import annotations

from relayops.promql import Aggregate
from relayops.rules.alert_def import AlertDef, Guard, Reading
from relayops.rules.build import sel
from relayops.rules.builder import AlertBuilder, Describe
from relayops.rules.kinds.signals import SignalKind
from relayops.rules.measure import Events, Share
from relayops.rules.triage import Step, Triage
from relayops.spec.labels import SEND_KEYS
from relayops.spec.signals import Signal
from relayops.spec.units import Unit
from relayops.spec.units import percent as pct


class SignalRatioAbove(SignalKind):
    name = "signal_ratio_above"
    spec_kind = "ratio_above"
    unit = Unit.RATIO

    def reading(self, build: AlertBuilder, signal: Signal) -> tuple[Reading, str, Describe]:
        alert = signal.alert
        metric = build.names.signal_metric(signal)
        if alert.denominator:
            by_label = build.names.signal_rate(signal, alert.label)
            picked = {alert.label: "|".join(alert.denominator)}
            base_rate = Aggregate("sum", sel(by_label, build.match, **picked), SEND_KEYS)
            denominator = Events.of(metric, **{alert.label: alert.denominator})
        else:
            base_rate = sel(build.names.signal_rate(signal), build.match)
            denominator = Events.of(metric)
        reading = Reading(
            sel(build.names.signal_ratio(signal, alert.numerator), build.match),
            Share(
                Events.of(metric, **{alert.label: alert.numerator}), denominator, build.rate_window
            ),
            f"{signal.name} {'/'.join(alert.numerator)} share",
            Guard(base_rate, denominator, alert.min_denominator_rate),
        )
        text = (
            f"{signal.summary.rstrip('.')}: {{{{ $value | humanizePercentage }}}} over "
            f"the last {build.window} for {{{{ $labels.action }}}}"
        )
        return (
            reading,
            f"{build.spec.display_name} {signal.name.replace('_', ' ')} are failing.",
            lambda sev, lvl: f"{text} ({sev} above {pct(lvl)}).",
        )

    def triage(self, steps: Triage, alert: AlertDef) -> list[Step]:
        signal = alert.signal
        numerator = signal.alert.numerator
        return [
            steps.now(
                f"{signal.name} {'/'.join(numerator)} ratio",
                steps.names.signal_ratio(signal, numerator),
            ),
            *steps.by_label(signal),
            steps.traffic(),
            steps.reasons(),
            *steps.rollout(),
        ]


KIND = SignalRatioAbove()
