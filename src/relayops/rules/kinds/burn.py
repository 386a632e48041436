"""<Provider><Slo>BudgetBurn: an SLO's error budget burning too fast, one alert per burn tier
(multi-window, multi-burn-rate, as in the SRE Workbook), judged on the SLO's recorded windows."""

from __future__ import annotations

from relayops.promql import Binary, Expr, Number
from relayops.rules.alert_def import AlertDef
from relayops.rules.build import above, div, guarded, sel
from relayops.rules.builder import AlertBuilder
from relayops.rules.kind import Kind, RuleGroup
from relayops.rules.measure import BudgetBurn
from relayops.rules.triage import HOUR, Step, Triage
from relayops.spec.base import camel
from relayops.spec.durations import format_duration
from relayops.spec.labels import SEND_KEYS, SLO_LABEL
from relayops.spec.slo import SLO, BurnTier
from relayops.spec.units import percent as pct


class Burn(Kind):
    name = "burn"
    group = RuleGroup.SLO

    def alerts(self, build: AlertBuilder) -> list[AlertDef]:
        return [self.tier(build, slo, tier) for slo in build.spec.slos for tier in slo.tiers]

    def tier(self, build: AlertBuilder, slo: SLO, tier: BurnTier) -> AlertDef:
        spec, names = build.spec, build.names
        name = f"{spec.display_name}{camel(slo.name)}BudgetBurn"
        factor = tier.factor(slo.period)
        match = {**build.match, SLO_LABEL: slo.name}
        on = (*SEND_KEYS, SLO_LABEL)

        def burn_rate(seconds: int) -> Expr:
            return div(sel(names.slo_error_ratio(seconds), match), Number(slo.error_budget))

        def events(series: str, seconds: int) -> Expr:
            return Binary("*", sel(series, match), Number(seconds))

        def burning(seconds: int, level: float) -> Expr:
            """Burn above `level` over the window, or no request in it: at low traffic a short
            window is often empty, which is no sign of recovery."""
            idle = above(sel(names.slo_requests(seconds), match), 0, "==")
            return Binary("or", above(burn_rate(seconds), level), idle, on=on)

        long_w, short_w = tier.long_window, tier.short_window
        condition = guarded(above(burn_rate(long_w), factor), burning(short_w, factor), on)
        if slo.checks_now(tier):
            condition = guarded(condition, burning(slo.now_window, 1), on)
        near_total = guarded(
            above(events(names.slo_errors(long_w), long_w), tier.min_bad_events, ">="),
            above(sel(names.slo_error_ratio(long_w), match), tier.low_traffic_bad_share, ">="),
            on,
        )
        enough = Binary(
            "or",
            above(events(names.slo_requests(long_w), long_w), tier.min_events, ">="),
            near_total,
            on=on,
        )
        now_text = (
            f", and the budget burning over the last {format_duration(slo.now_window)} too"
            if slo.checks_now(tier)
            else ""
        )
        long_t, short_t = format_duration(long_w), format_duration(short_w)
        description = (
            f"{{{{ $labels.action }}}}: bad events over the last {long_t} are "
            f"{{{{ $value | humanize }}}}× the rate the {format_duration(slo.period)} error "
            f"budget allows (objective {pct(slo.objective)}; this {tier.name} tier fires above "
            f"{factor:g}× over both {long_t} and {short_t} (an empty {short_t} counts as still "
            f"failing), with at least {tier.min_events} requests in {long_t} or, below that, at "
            f"least {tier.min_bad_events} bad events making up "
            f"{pct(tier.low_traffic_bad_share)} of them{now_text}, and means "
            f"{pct(tier.budget_consumed)} of the budget is gone)."
        )
        rule = build.rule(
            name,
            guarded(condition, enough, on),
            tier.for_,
            build.labels(tier.severity, "slo", slo=slo.name, burn_tier=tier.name),
            f"{spec.display_name} {slo.name} SLO is burning its error budget "
            f"over {factor:g}× too fast.",
            description,
            "slo",
            slo=slo.name,
        )
        return AlertDef(
            rule,
            self,
            tier.severity,
            BudgetBurn(slo, tier),
            f"{slo.name} budget burn",
            level=factor,
            guard=tier.min_events,
        )

    def topic_of(self, alert: AlertDef) -> str | None:
        return "availability" if alert.slo.sli.type == "error_ratio" else "latency"

    @staticmethod
    def burn_rate(steps: Triage, slo: SLO, seconds: int) -> Expr:
        match = {**steps.match, SLO_LABEL: slo.name}
        return div(sel(steps.names.slo_error_ratio(seconds), match), Number(slo.error_budget))

    def section_steps(self, steps: Triage, alert: AlertDef) -> list[Step]:
        """The burn-rate pair (long and short window) of the tier."""
        slo, tier = alert.slo, alert.tier
        factor = tier.factor(slo.period)
        return [
            Step(
                f"Burn rate over {format_duration(seconds)}",
                self.burn_rate(steps, slo, seconds).render(),
                f"The tier fires while both windows are above {factor:g}; a burn rate of 1 "
                "spends exactly the budget over the period.",
            )
            for seconds in (tier.long_window, tier.short_window)
        ]

    def triage(self, steps: Triage, alert: AlertDef) -> list[Step]:
        slo = alert.slo
        names = steps.names
        match = {**steps.match, SLO_LABEL: slo.name}
        out = [
            Step(
                f"Error budget left over {format_duration(slo.period)}",
                sel(names.slo_budget_remaining(slo), match).render(),
                "1 untouched, 0 spent, below 0 overspent. Below 0.25, freeze risky changes.",
            ),
            Step(
                "SLO events/s over 1h",
                sel(names.slo_requests(HOUR), match).render(),
                "Low traffic makes ratios jumpy: a few failures out of a few requests burn fast.",
            ),
            Step(
                "Bad events/s over 1h",
                sel(names.slo_errors(HOUR), match).render(),
                "The requests that count against the SLO.",
            ),
        ]
        if slo.sli.type == "error_ratio":
            out += [steps.traffic(), steps.reasons(), steps.top_codes()]
        else:
            out += [*steps.quantiles(), steps.quantile_by_status(), steps.traffic()]
        out.append(
            steps.all_providers(
                names.slo_error_ratio(HOUR), f"{slo.name} error ratio over 1h", slo=slo.name
            )
        )
        return out + steps.rollout()


KIND = Burn()
