"""The kinds of alert relayops renders, and what each kind is: the unit of its level, the rule
group it lives in, the rate its guard is judged on, whether it reads pushed data, its runbook
template. Code that treats kinds differently asks the kind, not a string."""

from __future__ import annotations

from enum import StrEnum

from relayops.spec.units import Unit


class RuleGroup(StrEnum):
    """The alert rule groups of a provider's alerts file, by suffix."""

    SLO = "slo"
    SEND_PATH = "send-path"
    OPERATIONS = "operations"


class AlertKind(StrEnum):
    BURN = "burn"  # an SLO's error budget burning, one alert per tier
    ERROR_RATIO = "error_ratio"
    LATENCY = "latency"
    VALIDATION = "validation"
    CARDINALITY = "cardinality"
    MISSING = "missing"  # no request series at all
    STALLED = "stalled"  # the controller has not succeeded for a while
    CONTROLLER_FAILING = "controller_failing"
    SIGNAL_QUANTILE_ABOVE = "signal_quantile_above"
    SIGNAL_PER_REQUEST_ABOVE = "signal_per_request_above"
    SIGNAL_RATIO_ABOVE = "signal_ratio_above"

    @property
    def unit(self) -> Unit:
        return _UNITS.get(self, Unit.NUMBER)

    @property
    def group(self) -> RuleGroup:
        if self is AlertKind.BURN:
            return RuleGroup.SLO
        if self in (AlertKind.MISSING, AlertKind.STALLED, AlertKind.CONTROLLER_FAILING):
            return RuleGroup.OPERATIONS
        return RuleGroup.SEND_PATH

    @property
    def guard_unit(self) -> str:
        """The rate a guard (`judged only above …`) is written in."""
        signal_events = (AlertKind.SIGNAL_QUANTILE_ABOVE, AlertKind.SIGNAL_RATIO_ABOVE)
        return "events/s" if self in signal_events else "req/s"

    @property
    def reads_pushed_data(self) -> bool:
        """Whether the condition is on pushed values, whose age a drill can measure: not on
        their absence (missing), nor on time() against a pushed timestamp (stalled)."""
        return self not in (AlertKind.MISSING, AlertKind.STALLED)

    @property
    def runbook_template(self) -> str:
        return f"kind_{self.value}.md.j2"


_UNITS = {
    AlertKind.ERROR_RATIO: Unit.RATIO,
    AlertKind.VALIDATION: Unit.RATIO,
    AlertKind.CONTROLLER_FAILING: Unit.RATIO,
    AlertKind.SIGNAL_RATIO_ABOVE: Unit.RATIO,
    AlertKind.LATENCY: Unit.SECONDS,
    AlertKind.SIGNAL_QUANTILE_ABOVE: Unit.SECONDS,
    AlertKind.STALLED: Unit.DURATION,
}
