"""Provider signals: extra metrics of one provider's send path, each with an optional alert."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from relayops.spec.base import LabelName, SnakeName, SpecModel
from relayops.spec.thresholds import Levels


class QuantileAbove(Levels):
    """A histogram quantile (e.g. p95 build time) above a level, in the metric's unit."""

    kind: Literal["quantile_above"]
    quantile: Literal[0.5, 0.95, 0.99] = 0.95
    min_event_rate: float = Field(default=0.01, ge=0)


class PerRequestAbove(Levels):
    """Events of this signal per request of the send path (e.g. sanitizer changes per mail)."""

    kind: Literal["per_request_above"]
    min_request_rate: float = Field(default=0.1, ge=0)


class RatioAbove(Levels):
    """Share of the signal's events with some label values (e.g. failed / started uploads)."""

    kind: Literal["ratio_above"]
    label: LabelName
    numerator: tuple[str, ...] = Field(min_length=1)
    denominator: tuple[str, ...] | None = Field(
        default=None, description="Label values of the base; all events when omitted."
    )
    min_denominator_rate: float = Field(default=0.01, ge=0)


SignalAlert = Annotated[QuantileAbove | PerRequestAbove | RatioAbove, Field(discriminator="kind")]

ALERT_SUFFIX = {"quantile_above": "Slow", "per_request_above": "Spike", "ratio_above": "Failing"}


class Signal(SpecModel):
    name: SnakeName
    metric: SnakeName = Field(description="Key of the metric in the service catalog.")
    component: SnakeName
    summary: str = Field(min_length=3, description="What the signal measures, for people.")
    alert: SignalAlert | None = None
