"""SLOs and their multiwindow, multi-burn-rate alert tiers (Google SRE Workbook, ch. 5)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from relayops.spec.base import SnakeName, SpecModel
from relayops.spec.durations import Duration, parse_duration
from relayops.spec.labels import PAGING_SEVERITY

PERIODS = {parse_duration(p): p for p in ("7d", "28d", "30d")}
MIN_BAD_EVENTS = 6
LOW_TRAFFIC_BAD_SHARE = 0.5
"""Below min_events a tier fires only on a near-total failure: at least six bad events in its long
window and at least half of the window's events bad. One failure among a few (or one in three
requests failing for hours) never gets there; a total failure at one request an hour does, in the
6h page tier, after six hours."""


class BurnTier(SpecModel):
    name: SnakeName
    severity: Literal["critical", "warning"]
    long_window: Duration
    short_window: Duration
    budget_consumed: float = Field(
        gt=0, le=1, description="Share of the period's error budget spent when the tier fires."
    )
    for_: Duration = Field(alias="for")
    min_events: int = Field(
        ge=1,
        description="Requests the long window must hold before the tier may fire, unless it "
        "holds min_bad_events bad ones.",
    )
    min_bad_events: int = Field(
        default=MIN_BAD_EVENTS,
        ge=2,
        description="Bad events that let the tier fire with fewer than min_events requests in "
        "the long window, if low_traffic_bad_share of them are bad: a near-total failure at low "
        "traffic still alerts, one failure among a few never does.",
    )
    low_traffic_bad_share: float = Field(
        default=LOW_TRAFFIC_BAD_SHARE,
        gt=0,
        le=1,
        description="Share of the long window's events that must be bad below min_events.",
    )

    @model_validator(mode="after")
    def _windows(self) -> BurnTier:
        if self.short_window >= self.long_window:
            raise ValueError(
                f"short_window must be shorter than long_window ({self.long_window}s); "
                "the workbook uses 1/12 of the long window"
            )
        return self

    def factor(self, period: int) -> float:
        """Burn-rate factor: budget share × period / long window (14.4 for 2% over 1h of 30d)."""
        return round(self.budget_consumed * period / self.long_window, 10)


DEFAULT_TIERS: tuple[BurnTier, ...] = tuple(
    BurnTier.model_validate(t)
    for t in (
        {
            "name": "page_fast",
            "severity": "critical",
            "long_window": "1h",
            "short_window": "5m",
            "budget_consumed": 0.02,
            "for": "2m",
            "min_events": 100,
        },
        {
            "name": "page_slow",
            "severity": "critical",
            "long_window": "6h",
            "short_window": "30m",
            "budget_consumed": 0.05,
            "for": "15m",
            "min_events": 300,
        },
        {
            "name": "ticket_fast",
            "severity": "warning",
            "long_window": "1d",
            "short_window": "2h",
            "budget_consumed": 0.10,
            "for": "1h",
            "min_events": 500,
        },
        {
            "name": "ticket_slow",
            "severity": "warning",
            "long_window": "3d",
            "short_window": "6h",
            "budget_consumed": 0.10,
            "for": "3h",
            "min_events": 1000,
        },
    )
)


class ErrorRatioSLI(SpecModel):
    """Bad events are requests whose status is one of the requests metric's error statuses."""

    type: Literal["error_ratio"]
    error_statuses: tuple[str, ...] = ("error",)


class LatencySLI(SpecModel):
    """Bad events are requests slower than threshold_seconds, read from the latency histogram."""

    type: Literal["latency"]
    threshold_seconds: float = Field(gt=0)


class SLO(SpecModel):
    name: SnakeName
    description: str = Field(min_length=3)
    objective: float = Field(gt=0, lt=1)
    period: Duration = Field(default=parse_duration("30d"))
    sli: Annotated[ErrorRatioSLI | LatencySLI, Field(discriminator="type")]
    tiers: tuple[BurnTier, ...] = DEFAULT_TIERS

    @model_validator(mode="after")
    def _consistent(self) -> SLO:
        if self.period not in PERIODS:
            raise ValueError(f"period must be one of {sorted(PERIODS.values())}")
        names = [t.name for t in self.tiers]
        if not names or len(set(names)) != len(names):
            raise ValueError(f"tiers need at least one tier and distinct names, got {names}")
        return self

    @property
    def error_budget(self) -> float:
        return round(1 - self.objective, 12)

    @property
    def now_window(self) -> int:
        """The shortest window of the SLO's tiers: a page tier also needs the budget burning
        over it (or no request in it), so no page starts once the fault has cleared."""
        return min(t.short_window for t in self.tiers)

    def checks_now(self, tier: BurnTier) -> bool:
        """Whether `tier` carries the now-window check: a page tier whose own short window is
        longer than the now window (page_fast's short window already is it)."""
        return tier.severity == PAGING_SEVERITY and self.now_window < tier.short_window

    def threshold(self, tier: BurnTier) -> float:
        """Error ratio both windows must exceed: factor × (1 − objective)."""
        return tier.factor(self.period) * self.error_budget
