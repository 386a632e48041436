"""Recording rules of one provider: send path, SLO windows, the cheap period ratio, signals."""

from __future__ import annotations

from relayops.promql import (
    Aggregate,
    Binary,
    Expr,
    HistogramQuantile,
    MaxOverTime,
    Number,
    Offset,
    Range,
    Selector,
    SumOverTime,
    TopK,
    VectorOf,
)
from relayops.promql.simulate import RecordingRule
from relayops.rules.build import Group, above, div, le_match, sel, sum_rate
from relayops.spec import SpecSet
from relayops.spec.durations import format_duration
from relayops.spec.labels import SEND_KEYS, SLO_LABEL
from relayops.spec.metrics import Role
from relayops.spec.provider import ProviderSpec
from relayops.spec.series import QUANTILES, TOP_CODES, ProviderSeries
from relayops.spec.service import ServiceSpec
from relayops.spec.slo import SLO

HOUR = 3600


def slo_windows(slo: SLO) -> list[int]:
    """Every burn window of the SLO, plus the 1h window the runbooks query."""
    return sorted({HOUR, *(t.long_window for t in slo.tiers), *(t.short_window for t in slo.tiers)})


def raw_windows(service: ServiceSpec, slo: SLO) -> list[int]:
    """The windows read from the raw counters: those shorter than long_windows_from."""
    return [w for w in slo_windows(slo) if w < service.long_windows_from]


def derived_windows(service: ServiceSpec, slo: SLO) -> list[int]:
    """The windows derived from the period group's tiles."""
    return [w for w in slo_windows(slo) if w >= service.long_windows_from]


def slo_events(specs: SpecSet, spec: ProviderSpec, slo: SLO, seconds: int) -> tuple[Expr, Expr]:
    """(bad events/s, all events/s) of an SLO over a window, aggregated to one series."""
    match = spec.selector
    if slo.sli.type == "error_ratio":
        requests = specs.metric(Role.REQUESTS)
        bad = sum_rate(
            sel(requests.name, match, status="|".join(slo.sli.error_statuses)), seconds, SEND_KEYS
        )
        return bad, sum_rate(sel(requests.name, match), seconds, SEND_KEYS)
    latency = specs.metric(Role.LATENCY)
    total = sum_rate(sel(latency.series("_count"), match), seconds, SEND_KEYS)
    fast = sum_rate(
        sel(latency.series("_bucket"), match, le=le_match(slo.sli.threshold_seconds)),
        seconds,
        SEND_KEYS,
    )
    return Binary("-", total, fast), total


def _request_rate(specs: SpecSet, spec: ProviderSpec) -> Expr:
    """Requests per second over the rate window, by provider and action."""
    requests = specs.metric(Role.REQUESTS)
    return sum_rate(sel(requests.name, spec.selector), specs.service.rate_window, SEND_KEYS)


def _send_path(specs: SpecSet, spec: ProviderSpec, names: ProviderSeries) -> list[RecordingRule]:
    w = specs.service.rate_window
    match = spec.selector
    requests = specs.metric(Role.REQUESTS)
    latency = specs.metric(Role.LATENCY)
    structured = specs.metric(Role.STRUCTURED_ERRORS)
    rules = [
        RecordingRule(names.request_rate, _request_rate(specs, spec)),
        RecordingRule(
            names.request_rate_by_status,
            sum_rate(sel(requests.name, match), w, (*SEND_KEYS, "status")),
        ),
    ]
    for outcome in ("error", "success"):
        rules += [
            RecordingRule(
                names.outcome_rate(outcome),
                sum_rate(sel(requests.name, match, status=outcome), w, SEND_KEYS),
            ),
            RecordingRule(
                names.outcome_ratio(outcome),
                div(sel(names.outcome_rate(outcome), match), sel(names.request_rate, match)),
            ),
        ]
    for by_status in (False, True):
        extra = ("status", "le") if by_status else ("le",)
        buckets = names.latency_buckets(by_status)
        rules.append(
            RecordingRule(
                buckets, sum_rate(sel(latency.series("_bucket"), match), w, (*SEND_KEYS, *extra))
            )
        )
        rules += [
            RecordingRule(
                names.latency_quantile(key, by_status), HistogramQuantile(q, sel(buckets, match))
            )
            for key, q in QUANTILES.items()
        ]
    errors = specs.metric(Role.ERRORS)
    rules.append(
        RecordingRule(
            names.error_reason_rate, sum_rate(sel(errors.name, match), w, (*SEND_KEYS, "reason"))
        )
    )
    rules += [
        RecordingRule(
            names.structured_error_rate,
            sum_rate(sel(structured.name, match), w, (*SEND_KEYS, "code", "source")),
        ),
        RecordingRule(
            names.structured_error_top,
            TopK(TOP_CODES, sel(names.structured_error_rate, match), SEND_KEYS),
        ),
        RecordingRule(
            names.structured_error_code_count,
            Aggregate(
                "count", Binary(">", sel(names.structured_error_rate, match), Number(0)), SEND_KEYS
            ),
        ),
        RecordingRule(
            names.structured_source_rate("validation"),
            sum_rate(sel(structured.name, match, source="validation"), w, SEND_KEYS),
        ),
        RecordingRule(
            names.structured_source_ratio("validation"),
            div(
                sel(names.structured_source_rate("validation"), match),
                sel(names.request_rate, match),
            ),
        ),
    ]
    return rules


def _signals(specs: SpecSet, spec: ProviderSpec, names: ProviderSeries) -> list[RecordingRule]:
    w = specs.service.rate_window
    match = spec.selector
    rules: list[RecordingRule] = []
    for signal in spec.signals:
        metric = names.signal_metric(signal)
        if metric.type == "histogram":
            buckets = names.signal_buckets(signal)
            rules.append(
                RecordingRule(
                    buckets, sum_rate(sel(metric.series("_bucket"), match), w, (*SEND_KEYS, "le"))
                )
            )
            rules += [
                RecordingRule(
                    names.signal_quantile(signal, key), HistogramQuantile(q, sel(buckets, match))
                )
                for key, q in QUANTILES.items()
            ]
            continue
        rules.append(
            RecordingRule(
                names.signal_rate(signal), sum_rate(sel(metric.name, match), w, SEND_KEYS)
            )
        )
        rules += [
            RecordingRule(
                names.signal_rate(signal, label),
                sum_rate(sel(metric.name, match), w, (*SEND_KEYS, label)),
            )
            for label in metric.values
        ]
        alert = signal.alert
        if alert is not None and alert.kind == "per_request_above":
            # The request rate is computed here, not read from the send-path group: a rate
            # recorded by another group at another moment would not pair with this one.
            rules.append(
                RecordingRule(
                    names.signal_per_request(signal),
                    div(sel(names.signal_rate(signal), match), _request_rate(specs, spec)),
                )
            )
        if alert is not None and alert.kind == "ratio_above":
            by_label = names.signal_rate(signal, alert.label)
            numerator = Aggregate(
                "sum", sel(by_label, match, **{alert.label: "|".join(alert.numerator)}), SEND_KEYS
            )
            denominator = (
                Aggregate(
                    "sum",
                    sel(by_label, match, **{alert.label: "|".join(alert.denominator)}),
                    SEND_KEYS,
                )
                if alert.denominator
                else sel(names.signal_rate(signal), match)
            )
            rules.append(
                RecordingRule(
                    names.signal_ratio(signal, alert.numerator), div(numerator, denominator)
                )
            )
    return rules


def _slo_windows(specs: SpecSet, spec: ProviderSpec, names: ProviderSeries) -> list[RecordingRule]:
    rules: list[RecordingRule] = []
    for slo in spec.slos:
        for seconds in raw_windows(specs.service, slo):
            bad, total = slo_events(specs, spec, slo, seconds)
            rules += _window_rules(spec, names, slo, seconds, bad, total)
    return rules


def _window_rules(
    spec: ProviderSpec, names: ProviderSeries, slo: SLO, seconds: int, bad: Expr, total: Expr
) -> list[RecordingRule]:
    """An SLO's bad events/s, all events/s and their ratio over a window."""
    match = {**spec.selector, SLO_LABEL: slo.name}
    errors, requests = names.slo_errors(seconds), names.slo_requests(seconds)
    label = {SLO_LABEL: slo.name}
    return [
        RecordingRule(errors, bad, label),
        RecordingRule(requests, total, label),
        RecordingRule(
            names.slo_error_ratio(seconds), div(sel(errors, match), sel(requests, match)), label
        ),
    ]


def tile(counter: Selector, seconds: int) -> Expr:
    """Events a counter gained over the last `seconds`, summed by provider and action.

    `x - x offset 5m` reads two samples and, unlike increase(), does not extrapolate, so
    tiles recorded every `seconds` add up exactly to the counter's gain over any span of
    them. A counter that went down was reset: it gained what it rose before the reset (its
    highest sample in the tile, above the value `seconds` ago) and its current value since;
    so a restart loses no event that was scraped, however late in the tile it came. (One
    reset per tile, with the counter below its old value until the tile ends, as a restarted
    process's counter is.) A series without a sample `seconds` ago adds nothing, so a
    restart of Prometheus or a newly scraped old counter cannot add its whole history at once.
    """
    before = Offset(counter, seconds)
    grew = above(Binary("-", counter, before), 0, ">=")
    risen = above(Binary("-", MaxOverTime(Range(counter, seconds)), before), 0)
    restarted = Binary("+", counter, risen)
    went_down = Binary("<", counter, before)
    return Aggregate("sum", Binary("or", Binary("or", grew, restarted), went_down), SEND_KEYS)


def _slo_tiles(specs: SpecSet, spec: ProviderSpec, slo: SLO, seconds: int) -> tuple[Expr, Expr]:
    """(bad events, all events) of an SLO in the last `seconds`, one series per action."""
    match = spec.selector
    if slo.sli.type == "error_ratio":
        requests = specs.metric(Role.REQUESTS)
        bad = sel(requests.name, match, status="|".join(slo.sli.error_statuses))
        return tile(bad, seconds), tile(sel(requests.name, match), seconds)
    latency = specs.metric(Role.LATENCY)
    total = tile(sel(latency.series("_count"), match), seconds)
    fast = tile(
        sel(latency.series("_bucket"), match, le=le_match(slo.sli.threshold_seconds)), seconds
    )
    return Binary("-", total, fast), total


def _per_second(tiles: Selector, seconds: int, interval: int) -> Expr:
    """Events per second over the last `seconds`: the sum of the tiles recorded in it over
    its length.

    At the group's own interval the tiles cover the window exactly (the range, half a tile
    short, leaves out the tile recorded `seconds` ago under closed and left-open ranges
    alike). Nothing is extrapolated: a window reaching back before the first tile, or over
    tiles missed while Prometheus was down, holds only the events recorded, as rate() over
    raw counters holds only the samples there are, so counts of events (the `min_events`
    guards) are never inflated. A bad series that appears at its first failure adds nothing
    before it. Evaluated at a coarser step (promtool's tests evaluate every group at the
    test's interval) each step records one tile: counts shrink by interval / step, ratios of
    two such sums stay the window's.
    """
    return div(SumOverTime(Range(tiles, seconds - interval // 2)), Number(seconds))


def _slo_period(specs: SpecSet, spec: ProviderSpec, names: ProviderSeries) -> list[RecordingRule]:
    """The period ratio as a sum of tiles: exact at every evaluation, and cheap.

    The group runs every `period_rules_interval` (I) and records the events of the last I, so
    its tiles cover time without gap or overlap; the sum of those in the last period is the
    event count over exactly that period, the newest events included (an average of 1h
    rates counts the last hour only half, and lags an incident by about an hour). The range
    is the period minus I/2 so that the tile recorded exactly one period ago is left out
    whether ranges are closed (Prometheus 2) or left-open (Prometheus 3). Each evaluation
    reads two samples per raw series and P/I recorded tiles (8,640 for 30d at 5m).
    A missed evaluation loses its tile's events: prometheus_rule_group_iterations_missed_total
    says when that happened.
    """
    interval = specs.service.period_rules_interval
    rules: list[RecordingRule] = []
    for slo in spec.slos:
        match = {**spec.selector, SLO_LABEL: slo.name}
        label = {SLO_LABEL: slo.name}
        period = slo.period
        bad_tile, all_tile = _slo_tiles(specs, spec, slo, interval)

        ratio = names.slo_error_ratio(period)
        bad_tiles = sel(names.slo_errors_increase(interval), match)
        all_tiles = sel(names.slo_requests_increase(interval), match)
        rules += [
            RecordingRule(names.slo_errors_increase(interval), bad_tile, label),
            RecordingRule(names.slo_requests_increase(interval), all_tile, label),
        ]
        for seconds in [*derived_windows(specs.service, slo), period]:
            rules += _window_rules(
                spec,
                names,
                slo,
                seconds,
                _per_second(bad_tiles, seconds, interval),
                _per_second(all_tiles, seconds, interval),
            )
        rules += [
            RecordingRule(
                names.slo_budget_remaining(slo),
                Binary("-", Number(1), div(sel(ratio, match), Number(slo.error_budget))),
                label,
            ),
            RecordingRule(names.slo_objective, VectorOf(slo.objective), dict(match)),
        ]
    return rules


def rate_groups(specs: SpecSet, spec: ProviderSpec) -> list[Group]:
    """The send-path and signal groups, evaluated at the global interval."""
    names = ProviderSeries(specs.service, spec)
    prefix = f"{specs.service.service}-{spec.name}"
    return [
        Group(f"{prefix}-send-path.rules", tuple(_send_path(specs, spec, names))),
        Group(f"{prefix}-signals.rules", tuple(_signals(specs, spec, names))),
    ]


def slo_windows_group(specs: SpecSet, spec: ProviderSpec) -> Group:
    """The SLO windows read from the raw counters, evaluated at the global interval."""
    names = ProviderSeries(specs.service, spec)
    return Group(
        f"{specs.service.service}-{spec.name}-slo-windows.rules",
        tuple(_slo_windows(specs, spec, names)),
    )


def period_group(specs: SpecSet, spec: ProviderSpec) -> Group:
    """The tiles, the windows summed from them and the period, at `period_rules_interval`."""
    names = ProviderSeries(specs.service, spec)
    periods = sorted({format_duration(s.period) for s in spec.slos})
    return Group(
        f"{specs.service.service}-{spec.name}-slo-period-{'-'.join(periods)}.rules",
        tuple(_slo_period(specs, spec, names)),
        specs.service.period_rules_interval,
    )


def recording_groups(specs: SpecSet, spec: ProviderSpec) -> list[Group]:
    return [*rate_groups(specs, spec), slo_windows_group(specs, spec), period_group(specs, spec)]
