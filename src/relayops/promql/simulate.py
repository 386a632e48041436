"""Step-by-step rule group evaluation as `promtool test rules` 2.42 does it.

Also the Go-template subset alert labels and annotations may use, with Prometheus'
humanize functions reproduced to the byte.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from relayops.promql import STALE_NAN, Expr, Labels, SeriesDB, Vector, labels_of
from relayops.promql.storage import to_ms, without
from relayops.spec.labels import ALERTNAME


@dataclass(frozen=True)
class RecordingRule:
    record: str
    expr: Expr
    labels: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class AlertRule:
    alert: str
    expr: Expr
    for_seconds: int = 0
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RuleGroup:
    name: str
    rules: tuple[RecordingRule | AlertRule, ...]


@dataclass(frozen=True)
class FiringAlert:
    labels: dict[str, str]
    annotations: dict[str, str]
    value: float
    active_at: float


def _go_special(value: float) -> str | None:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return None


def go_percent_g4(value: float) -> str:
    """Go's fmt %.4g; Python's %g agrees on finite floats but spells NaN/Inf differently."""
    special = _go_special(value)
    return special if special is not None else f"{value:.4g}"


def go_float(value: float) -> str:
    """Go's fmt %v for a float64 (how a template prints `{{ $value }}`).

    Shortest round-tripping digits, exponent form when the decimal exponent is < -4 or >= 6.
    """
    special = _go_special(value)
    if special is not None:
        return special
    if value == 0:
        return "-0" if math.copysign(1.0, value) < 0 else "0"
    _, digit_tuple, exponent = Decimal(repr(abs(value))).as_tuple()
    assert isinstance(exponent, int)
    digits = "".join(map(str, digit_tuple)).rstrip("0")
    point = len(digit_tuple) + exponent  # digits before the decimal point
    decimal_exponent = point - 1
    prefix = "-" if value < 0 else ""
    if decimal_exponent < -4 or decimal_exponent >= 6:
        mantissa = digits[0] + (f".{digits[1:]}" if len(digits) > 1 else "")
        return f"{prefix}{mantissa}e{decimal_exponent:+03d}"
    if point <= 0:
        return f"{prefix}0.{'0' * -point}{digits}"
    if point >= len(digits):
        return f"{prefix}{digits}{'0' * (point - len(digits))}"
    return f"{prefix}{digits[:point]}.{digits[point:]}"


def _scale(value: float, prefixes: Sequence[str], up: bool) -> tuple[float, str]:
    """Step through SI prefixes the way the Go loops do, one /1000 or *1000 at a time."""
    prefix = ""
    for candidate in prefixes:
        if (abs(value) < 1000) if up else (abs(value) >= 1):
            break
        prefix = candidate
        value = value / 1000 if up else value * 1000
    return value, prefix


_LARGE = ("k", "M", "G", "T", "P", "E", "Z", "Y")
_SMALL = ("m", "u", "n", "p", "f", "a", "z", "y")


def humanize(value: float) -> str:
    if value == 0 or not math.isfinite(value):
        return go_percent_g4(value)
    scaled, prefix = _scale(value, _LARGE if abs(value) >= 1 else _SMALL, abs(value) >= 1)
    return f"{go_percent_g4(scaled)}{prefix}"


def humanize_percentage(value: float) -> str:
    return f"{go_percent_g4(value * 100)}%"


def humanize_duration(value: float) -> str:
    if not math.isfinite(value):
        return go_percent_g4(value)
    if value == 0:
        return f"{go_percent_g4(value)}s"
    if abs(value) < 1:
        scaled, prefix = _scale(value, _SMALL, up=False)
        return f"{go_percent_g4(scaled)}{prefix}s"
    sign = "-" if value < 0 else ""
    value = abs(value)
    # Go's int64(v) on amd64 gives math.MinInt64 when v does not fit, and Go's / and %
    # truncate toward zero, so every component then comes out negated.
    whole, direction = (int(value), 1) if value < 2**63 else (2**63, -1)
    seconds, minutes = whole % 60, whole // 60 % 60
    hours, days = whole // 3600 % 24, whole // 86400
    seconds, minutes, hours, days = (direction * n for n in (seconds, minutes, hours, days))
    if days:
        return f"{sign}{days}d {hours}h {minutes}m {seconds}s"
    if hours:
        return f"{sign}{hours}h {minutes}m {seconds}s"
    if minutes:
        return f"{sign}{minutes}m {seconds}s"
    return f"{sign}{go_percent_g4(value)}s"


_ACTION = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)
_LABEL = re.compile(r"\s*\$labels\.([a-zA-Z_][a-zA-Z0-9_]*)\s*")
_VALUE = re.compile(r"\s*\$value\s*(?:\|\s*(humanize|humanizePercentage|humanizeDuration)\s*)?")
_PIPES = {
    None: go_float,
    "humanize": humanize,
    "humanizePercentage": humanize_percentage,
    "humanizeDuration": humanize_duration,
}


def expand(template: str, labels: Mapping[str, str], value: float) -> str:
    """Expand the supported template subset; a missing label expands to ""."""

    def action(match: re.Match[str]) -> str:
        body = match.group(1)
        if label := _LABEL.fullmatch(body):
            return labels.get(label.group(1), "")
        if pipe := _VALUE.fullmatch(body):
            return _PIPES[pipe.group(1)](value)
        raise ValueError(
            f"unsupported template action {match.group(0)!r}; only $labels.NAME and $value "
            "(optionally | humanize, humanizePercentage or humanizeDuration) are modelled"
        )

    if "{{" in _ACTION.sub("", template):
        raise ValueError(f"unterminated template action in {template!r}")
    return _ACTION.sub(action, template)


@dataclass
class _Active:
    active_at_ms: int
    value: float
    annotations: dict[str, str]
    firing: bool = False


def _as_vector(result: Vector | float) -> Vector:
    """Rules see a scalar result as one sample without labels."""
    return result if isinstance(result, dict) else {(): result}


class Simulation:
    """Evaluates groups at 0, interval, 2*interval, ... as promtool does.

    `interval` is the test file's evaluation_interval; promtool 2.42 evaluates every group
    at that interval. Alerting rules write no ALERTS series, as in promtool (its rules are
    never marked restored).
    """

    def __init__(self, groups: Sequence[RuleGroup], db: SeriesDB, interval: int) -> None:
        self._groups = tuple(groups)
        self._db = db
        self._interval_ms = interval * 1000
        self._next_ms = 0
        self._recorded: dict[tuple[int, int], set[Labels]] = {}
        self._active: dict[tuple[int, int], dict[Labels, _Active]] = {}
        self._firing: dict[int, list[FiringAlert]] = {}

    def run_until(self, t: float) -> None:
        end = to_ms(t)
        while self._next_ms <= end:
            self._evaluate(self._next_ms)
            self._next_ms += self._interval_ms

    def firing(self, t: float) -> list[FiringAlert]:
        """Firing alerts as promtool's alert_rule_test at eval_time t sees them."""
        self.run_until(t)
        ms = to_ms(t)
        return list(self._firing.get(ms - ms % self._interval_ms, []))

    def query(self, expr: Expr, t: float) -> Vector | float:
        """What promql_expr_test at eval_time t sees.

        promtool loads input samples only up to the last evaluation step at or before the
        test's latest eval_time, so keep eval times on evaluation steps (or make sure a
        later step is tested) when inputs have samples between steps.
        """
        self.run_until(t)
        return expr.evaluate(self._db, t)

    def _evaluate(self, ms: int) -> None:
        firing: list[FiringAlert] = []
        for g, group in enumerate(self._groups):
            for r, rule in enumerate(group.rules):
                if isinstance(rule, RecordingRule):
                    self._record((g, r), rule, ms)
                else:
                    firing += self._alert((g, r), rule, ms)
        self._firing[ms] = sorted(firing, key=lambda a: labels_of(a.labels))

    def _record(self, key: tuple[int, int], rule: RecordingRule, ms: int) -> None:
        written: set[Labels] = set()
        for labels, value in _as_vector(rule.expr.eval_ms(self._db, ms)).items():
            target = {**dict(labels), "__name__": rule.record, **rule.labels}
            series = labels_of(target)
            if series in written:
                raise ValueError(f"{rule.record}: same labelset twice after applying rule labels")
            written.add(series)
            self._db.add(series, ms / 1000, value)
        for gone in self._recorded.get(key, set()) - written:
            self._db.add(gone, ms / 1000, STALE_NAN)
        self._recorded[key] = written

    def _alert(self, key: tuple[int, int], rule: AlertRule, ms: int) -> list[FiringAlert]:
        current: dict[Labels, tuple[float, dict[str, str]]] = {}
        for labels, value in _as_vector(rule.expr.eval_ms(self._db, ms)).items():
            template_labels = dict(labels)
            alert_labels = dict(without(labels, "__name__"))
            for name, template in rule.labels.items():
                alert_labels[name] = expand(template, template_labels, value)
            alert_labels[ALERTNAME] = rule.alert
            identity = labels_of(alert_labels)
            if identity in current:
                raise ValueError(f"{rule.alert}: same labelset twice after applying alert labels")
            annotations = {
                name: expand(template, template_labels, value)
                for name, template in rule.annotations.items()
            }
            current[identity] = (value, annotations)

        active = self._active.setdefault(key, {})
        for identity in set(active) - set(current):
            del active[identity]
        for identity, (value, annotations) in current.items():
            if identity in active:
                active[identity].value = value
                active[identity].annotations = annotations
            else:
                active[identity] = _Active(ms, value, annotations)

        firing = []
        for identity, alert in active.items():
            if not alert.firing and ms - alert.active_at_ms >= rule.for_seconds * 1000:
                alert.firing = True
            if alert.firing:
                firing.append(
                    FiringAlert(
                        dict(identity),
                        dict(alert.annotations),
                        alert.value,
                        alert.active_at_ms / 1000,
                    )
                )
        return firing
