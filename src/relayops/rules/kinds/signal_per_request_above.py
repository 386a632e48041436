"""<Provider><Signal>Spike: a signal's events per send request (e.g. sanitizer changes per
mail) above a level, while traffic is above the guard."""

from __future__ import annotations

from relayops.rules.alert_def import AlertDef, Reading
from relayops.rules.build import sel
from relayops.rules.builder import AlertBuilder, Describe
from relayops.rules.kinds.signals import SignalKind
from relayops.rules.measure import Events, Share
from relayops.rules.triage import Step, Triage
from relayops.spec.metrics import Role
from relayops.spec.signals import Signal


class SignalPerRequestAbove(SignalKind):
    name = "signal_per_request_above"
    spec_kind = "per_request_above"

    def reading(self, build: AlertBuilder, signal: Signal) -> tuple[Reading, str, Describe]:
        alert = signal.alert
        requests = build.events(Role.REQUESTS)
        reading = Reading(
            sel(build.names.signal_per_request(signal), build.match),
            Share(Events.of(build.names.signal_metric(signal)), requests, build.rate_window),
            f"{signal.name} events per request",
            build.request_guard(alert.min_request_rate),
        )
        text = (
            f"{signal.summary.rstrip('.')}: {{{{ $value | humanize }}}} per request of "
            f"{{{{ $labels.action }}}} over the last {build.window}"
        )
        return (
            reading,
            f"{build.spec.display_name} {signal.name.replace('_', ' ')} events per request spiked.",
            lambda sev, lvl: f"{text} ({sev} above {lvl:g}).",
        )

    def triage(self, steps: Triage, alert: AlertDef) -> list[Step]:
        signal = alert.signal
        return [
            steps.now(f"{signal.name} events per request", steps.names.signal_per_request(signal)),
            *steps.by_label(signal),
            steps.traffic(),
            *steps.rollout(),
        ]


KIND = SignalPerRequestAbove()
