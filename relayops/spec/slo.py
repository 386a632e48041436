"""SLOs and their multiwindow, multi-burn-rate alert tiers (Google SRE Workbook, ch. 5)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from relayops.spec.base import SnakeName, SpecModel
from relayops.spec.durations import Duration, parse_duration

PERIODS = {parse_duration(p): p for p in ("7d", "28d", "30d")}


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
        ge=1, description="Requests the long window must hold before the tier may fire."
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

    def threshold(self, tier: BurnTier) -> float:
        """Error ratio both windows must exceed: factor × (1 − objective)."""
        return tier.factor(self.period) * self.error_budget
