"""The oracle of the scenario suite: when each burn tier must fire, from the SRE Workbook.

Google SRE Workbook, ch. 5 ("Alerting on SLOs"), multiwindow, multi-burn-rate alerts: a tier
with long window L, burn factor f and `for` F fires, for a constant error ratio e that starts
on a healthy service, after L × f × (1 − objective) / e (the long window's error ratio grows
as e × elapsed / L and must exceed f × (1 − objective); the short window crosses sooner), plus
F. It never fires if e ≤ f × (1 − objective).

The tiers are written out here by hand (the Workbook's table for a 30-day period), not read
from the project; `test_scenarios.py` checks that the specs use exactly these. So are the two
rules relayops documents on top of the Workbook (README, "Alerts"): below `min_events` requests
in the long window a tier fires only when the window holds at least six bad events making up at
least half of it; a page tier also needs the budget burning over the last five minutes.
And one on cost (README, "Burn windows"): windows of LONG_WINDOWS_FROM or longer are summed
from the tiles recorded every `period_rules_interval`, so a tier reading one may fire up to one
such interval later than the Workbook says.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

MINUTE, HOUR, DAY = 60, 3600, 86400


@dataclass(frozen=True)
class Tier:
    name: str
    severity: str
    long: int
    short: int
    factor: float
    for_: int
    min_events: int


TIERS = (
    Tier("page_fast", "critical", HOUR, 5 * MINUTE, 14.4, 2 * MINUTE, 100),
    Tier("page_slow", "critical", 6 * HOUR, 30 * MINUTE, 6, 15 * MINUTE, 300),
    Tier("ticket_fast", "warning", DAY, 2 * HOUR, 3, HOUR, 500),
    Tier("ticket_slow", "warning", 3 * DAY, 6 * HOUR, 1, 3 * HOUR, 1000),
)
PAGES = tuple(t for t in TIERS if t.severity == "critical")
TICKETS = tuple(t for t in TIERS if t.severity == "warning")

MIN_BAD_EVENTS = 6
LOW_TRAFFIC_BAD_SHARE = 0.5
NOW_WINDOW = 5 * MINUTE
LONG_WINDOWS_FROM = 2 * HOUR


def reads_tiles(tier: Tier) -> bool:
    """Whether the tier reads a window summed from the period group's tiles."""
    return max(tier.long, tier.short) >= LONG_WINDOWS_FROM


def crossing(tier: Tier, budget: float, error_ratio: float) -> float | None:
    """Seconds of a constant error ratio until the long window crosses: L × f × (1 − obj) / e."""
    threshold = tier.factor * budget
    if error_ratio <= threshold:
        return None
    return tier.long * threshold / error_ratio


def low_traffic_crossing(tier: Tier, per_hour: float) -> float | None:
    """Seconds of total failure, at `per_hour` requests an hour after the same traffic healthy,
    until the long window holds MIN_BAD_EVENTS bad events that are half of its events."""
    assert per_hour * tier.long / HOUR < tier.min_events, "not low traffic for this tier"
    seconds = max(MIN_BAD_EVENTS / per_hour * HOUR, LOW_TRAFFIC_BAD_SHARE * tier.long)
    return seconds if seconds <= tier.long else None


def at_step(seconds: float, step: int) -> int:
    """The first evaluation at or after `seconds` (evaluations every `step` from zero)."""
    return math.ceil(seconds / step) * step


def fires_at(fault_start: int, crossed: float | None, tier: Tier, step: int) -> int | None:
    """Evaluation time at which the tier fires: it turns pending at the first evaluation after
    the crossing (the ratio must be *above* the threshold, so an evaluation exactly at the
    crossing does not count) and fires `for` later."""
    if crossed is None:
        return None
    return (math.floor((fault_start + crossed) / step) + 1) * step + tier.for_
