"""What the alert kinds of provider signals share: one alert name per signal, its alerts built
from the signal's spec, in the order the spec lists its signals."""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import replace
from typing import ClassVar

from relayops.rules.alert_def import AlertDef, Reading
from relayops.rules.builder import AlertBuilder, Describe
from relayops.rules.kind import Kind
from relayops.spec.base import camel
from relayops.spec.signals import ALERT_SUFFIX, Signal


class SignalKind(Kind):
    """Alerts on a provider signal whose spec alert has kind `spec_kind`."""

    spec_kind: ClassVar[str]

    def alerts(self, build: AlertBuilder) -> list[AlertDef]:
        out = []
        for signal in build.spec.signals:
            if signal.alert is None or signal.alert.kind != self.spec_kind:
                continue
            reading, summary, describe = self.reading(build, signal)
            name = f"{build.spec.display_name}{camel(signal.name)}{ALERT_SUFFIX[self.spec_kind]}"
            alerts = build.leveled(
                self, name, reading, signal.alert, signal.component, summary, describe
            )
            out += [replace(a, signal=signal) for a in alerts]
        return out

    @abstractmethod
    def reading(self, build: AlertBuilder, signal: Signal) -> tuple[Reading, str, Describe]:
        """What the signal's alerts compare with their levels, their summary, and their
        description for a severity and level."""
