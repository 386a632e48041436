"""<Provider>LatencyHigh: a quantile of the send latency above a level, while traffic is above
the guard."""

from __future__ import annotations

from relayops.rules.alert_def import AlertDef, Reading
from relayops.rules.build import sel
from relayops.rules.builder import AlertBuilder
from relayops.rules.kind import Kind
from relayops.rules.measure import Quantile
from relayops.rules.triage import Step, Triage
from relayops.spec.metrics import Role
from relayops.spec.series import quantile_key
from relayops.spec.units import Unit
from relayops.spec.units import seconds as secs


class Latency(Kind):
    name = "latency"
    unit = Unit.SECONDS
    topic = "latency"

    def alerts(self, build: AlertBuilder) -> list[AlertDef]:
        levels = build.spec.thresholds.latency
        key = quantile_key(levels.quantile)
        reading = Reading(
            sel(build.names.latency_quantile(key, by_status=False), build.match),
            Quantile(build.specs.metric(Role.LATENCY), levels.quantile, build.rate_window),
            f"{key} latency",
            build.request_guard(levels.min_request_rate),
        )
        d = build.spec.display_name
        return build.leveled(
            self,
            f"{d}LatencyHigh",
            reading,
            levels,
            "send_path",
            f"{d} send requests are slow.",
            lambda sev, lvl: (
                f"{key} latency of {{{{ $labels.action }}}} over the last {build.window} is "
                f"{{{{ $value | humanizeDuration }}}} ({sev} above {secs(lvl)}, judged only above "
                f"{levels.min_request_rate:g} req/s)."
            ),
        )

    def triage(self, steps: Triage, alert: AlertDef) -> list[Step]:
        key = quantile_key(steps.spec.thresholds.latency.quantile)
        out = [*steps.quantiles(), steps.quantile_by_status(), steps.traffic()]
        for signal in steps.spec.signals:
            if signal.alert is None or signal.alert.kind != "quantile_above":
                continue
            q = quantile_key(signal.alert.quantile)
            out.append(
                Step(
                    f"{signal.name} {q}",
                    sel(steps.names.signal_quantile(signal, q), steps.match).render(),
                    "Time spent before the provider is called: high here means our side is slow.",
                )
            )
        out += [
            steps.reasons(),
            steps.all_providers(
                steps.names.latency_quantile(key, by_status=False), f"{key} latency"
            ),
        ]
        return out + steps.rollout()


KIND = Latency()
