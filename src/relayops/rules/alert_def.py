"""A rendered alert and what the test generator, runbooks and drills need to know about it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from relayops.promql import Expr
from relayops.promql.simulate import AlertRule
from relayops.rules.kind import Kind
from relayops.rules.measure import Absence, Age, BudgetBurn, Events, Measure
from relayops.spec.labels import ALERTNAME, BURN_TIER, SEVERITY
from relayops.spec.signals import Signal
from relayops.spec.slo import SLO, BurnTier


def level_text(alert: AlertDef) -> str:
    """An alert's level in its quantity's own unit: 1%, 500ms, 30m, 0.5."""
    return alert.kind.unit.text(alert.level)


@dataclass(frozen=True)
class AlertDef:
    """A rendered alert: its rule, kind and severity, what it measures, its level and guard."""

    rule: AlertRule
    kind: Kind
    severity: str
    measure: Measure
    what: str  # the measure in words, for runbooks: "error ratio", "p95 latency"
    level: float | None = None
    guard: float | None = None  # judged only while `guarded_by` happen faster (per second)
    guarded_by: Events | None = None
    signal: Signal | None = None

    @property
    def name(self) -> str:
        return self.rule.alert

    @property
    def is_burn(self) -> bool:
        """Whether this is an SLO's burn-rate tier."""
        return isinstance(self.measure, BudgetBurn)

    @property
    def slo(self) -> SLO | None:
        return self.measure.slo if isinstance(self.measure, BudgetBurn) else None

    @property
    def tier(self) -> BurnTier | None:
        return self.measure.tier if isinstance(self.measure, BudgetBurn) else None

    @property
    def reads_pushed_data(self) -> bool:
        """Whether the condition is on pushed values, whose age a drill can measure: not on
        their absence, nor on time() against a pushed timestamp."""
        return not isinstance(self.measure, Absence | Age)

    @property
    def ref(self) -> str:
        """The alert's identity, as `alert_ref` reads it from a firing alert's labels."""
        return alert_ref({ALERTNAME: self.name, **self.rule.labels})

    @property
    def anchor(self) -> str:
        """The section of the runbook this alert links to (the fragment of its runbook_url)."""
        return self.rule.annotations["runbook_url"].partition("#")[2]


@dataclass(frozen=True)
class Guard:
    """A leveled alert is judged only while these events happen faster than `level` per
    second: `expr` is their recorded rate."""

    expr: Expr
    events: Events
    level: float


@dataclass(frozen=True)
class Reading:
    """What a leveled alert compares with its levels: the recorded series (`expr`), what it
    means in raw metrics (`measure`) and in words (`what`), and its traffic guard."""

    expr: Expr
    measure: Measure
    what: str
    guard: Guard | None = None


def alert_ref(labels: Mapping[str, str]) -> str:
    """An alert's identity: `Name/burn_tier` for a burn-rate tier, `Name/severity` otherwise,
    from the labels Prometheus and Alertmanager give it (the README's inhibition matrix, the
    drills and the observation report all name alerts this way)."""
    return f"{labels.get(ALERTNAME)}/{labels.get(BURN_TIER) or labels.get(SEVERITY)}"
