"""Rules of the shape Sloth generates (its README and examples), for a relayops SLO.

Sloth records, per SLO, the error ratio over each of seven windows (5m, 30m, 1h, 2h, 6h, 1d,
3d) as a ratio of sums read from the raw series; the period's SLI as the time-average of the
recorded 5m ratio (`sum_over_time` / `count_over_time` over 30 days); meta series (objective,
budget, burn rates, budget remaining); and one page and one ticket alert, each OR-ing two
multiwindow conditions. Its rules carry `sloth_id`, `sloth_service`, `sloth_slo` and
`sloth_window` labels and no group interval (the global evaluation interval applies).

The events are relayops' own (`slo_events`), so the two rule sets read the same series with
the same selectors and differ only in how their windows are built.
"""

from __future__ import annotations

from relayops.promql import Number
from relayops.rules.build import div
from relayops.rules.recording import slo_events
from relayops.spec import SpecSet
from relayops.spec.durations import format_duration, parse_duration
from relayops.spec.provider import ProviderSpec
from relayops.spec.slo import SLO

WINDOWS = ("5m", "30m", "1h", "2h", "6h", "1d", "3d")
PAGE = (("5m", "1h"), ("30m", "6h"))  # (short, long), Workbook factors 14.4 and 6
TICKET = (("2h", "1d"), ("6h", "3d"))  # factors 3 and 1


def sli_name(window: str) -> str:
    return f"slo:sli_error:ratio_rate{window}"


def _service(specs: SpecSet, spec: ProviderSpec) -> str:
    return f"{specs.service.service}-{spec.name}"


def sloth_id(specs: SpecSet, spec: ProviderSpec, slo: SLO) -> str:
    return f"{_service(specs, spec)}-{slo.name}"


def _ids(specs: SpecSet, spec: ProviderSpec, slo: SLO) -> dict[str, str]:
    return {
        "sloth_id": sloth_id(specs, spec, slo),
        "sloth_service": _service(specs, spec),
        "sloth_slo": slo.name,
    }


def _match(ids: dict[str, str], window: str | None = None) -> str:
    labels = {"sloth_id": ids["sloth_id"], **({"sloth_window": window} if window else {})}
    return "{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}"


def _factor(slo: SLO, long_window: str) -> float:
    """The burn factor relayops' spec gives the tier with this long window."""
    tier = next(t for t in slo.tiers if t.long_window == parse_duration(long_window))
    return tier.factor(slo.period)


def groups(specs: SpecSet, spec: ProviderSpec, slo: SLO) -> list[dict]:
    """The three rule groups Sloth would generate for this SLO."""
    ids = _ids(specs, spec, slo)
    days = format_duration(slo.period)
    sli_rules = []
    for window in WINDOWS:
        bad, total = slo_events(specs, spec, slo, parse_duration(window))
        sli_rules.append(
            {
                "record": sli_name(window),
                "expr": div(bad, total).render(),
                "labels": {**ids, "sloth_window": window},
            }
        )
    five = f"{sli_name('5m')}{_match(ids)}[{days}]"
    sli_rules.append(
        {
            "record": sli_name(days),
            "expr": f"sum_over_time({five}) / ignoring (sloth_window) count_over_time({five})",
            "labels": {**ids, "sloth_window": days},
        }
    )
    budget = round(1 - slo.objective, 10)
    meta = [
        {"record": "slo:objective:ratio", "expr": Number(slo.objective).render(), "labels": ids},
        {"record": "slo:error_budget:ratio", "expr": Number(budget).render(), "labels": ids},
        {
            "record": "slo:time_period:days",
            "expr": Number(slo.period / 86400).render(),
            "labels": ids,
        },
        {
            "record": "slo:current_burn_rate:ratio",
            "expr": f"{sli_name('5m')}{_match(ids)} / on (sloth_id, sloth_slo, sloth_service) "
            f"group_left slo:error_budget:ratio{_match(ids)}",
            "labels": ids,
        },
        {
            "record": "slo:period_burn_rate:ratio",
            "expr": f"{sli_name(days)}{_match(ids)} / on (sloth_id, sloth_slo, sloth_service) "
            f"group_left slo:error_budget:ratio{_match(ids)}",
            "labels": ids,
        },
        {
            "record": "slo:period_error_budget_remaining:ratio",
            "expr": f"1 - slo:period_burn_rate:ratio{_match(ids)}",
            "labels": ids,
        },
    ]

    def condition(pairs: tuple[tuple[str, str], ...]) -> str:
        parts = []
        for short, long in pairs:
            level = _factor(slo, long) * budget
            parts.append(
                f"(max({sli_name(short)}{_match(ids, short)} > ({level:g})) without (sloth_window)"
                f" and max({sli_name(long)}{_match(ids, long)} > ({level:g})) without "
                "(sloth_window))"
            )
        return " or ".join(parts)

    name = f"{spec.display_name}{slo.name.title()}BudgetBurnSlothShape"
    alerts = [
        {"alert": name, "expr": condition(PAGE), "labels": {"severity": "critical"}},
        {"alert": name, "expr": condition(TICKET), "labels": {"severity": "warning"}},
    ]
    prefix = f"sloth-slo-{ids['sloth_id']}"
    return [
        {"name": f"{prefix}-sli-recordings", "rules": sli_rules},
        {"name": f"{prefix}-meta-recordings", "rules": meta},
        {"name": f"{prefix}-alerts", "rules": alerts},
    ]
