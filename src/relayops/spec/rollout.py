"""How the rollout controller moves a provider, and how the send path's gate buckets actors.

Defaults follow the design card: steps 0 → 1 → 10 → 25 → 50 → 100; healthy means error ratio
≤ 1%, p95 ≤ 0.5 s and at most 5 OAuth refresh failures in 15 minutes, judged only above a
minimum request rate; 15 minutes between changes, an hour after a rollback before promoting.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from relayops.spec.base import SnakeName, SpecModel
from relayops.spec.durations import Duration, parse_duration

BASIS_POINTS = 10_000  # the gate's granularity: a percentage with two decimals


class FailureCount(SpecModel):
    """At most `max` events with `label` = `value` of a catalog counter within `window`."""

    metric: SnakeName = Field(description="Catalog key of the counter, e.g. oauth_refresh.")
    label: str = "result"
    value: str = "failure"
    max: int = Field(default=5, ge=0)
    window: Duration = parse_duration("15m")


class Health(SpecModel):
    max_error_ratio: float = Field(default=0.01, gt=0, lt=1)
    max_latency_p95_seconds: float = Field(default=0.5, gt=0)
    failures: tuple[FailureCount, ...] = (FailureCount(metric="oauth_refresh"),)
    min_request_rate: float = Field(
        default=0.05,
        gt=0,
        description="Requests per second over the rate window below which health is "
        "inconclusive (never a promotion).",
    )


class Rollout(SpecModel):
    steps: tuple[float, ...] = (0, 1, 10, 25, 50, 100)
    floor: float = Field(default=0, description="A breach steps back, never below this step.")
    dwell: Duration = parse_duration("15m")
    rollback_cooldown: Duration = parse_duration("1h")
    bucketing_unit: Literal["actor", "workspace"] = "actor"
    salt: str = Field(min_length=8, pattern=r"^[A-Za-z0-9._:-]+$")
    health: Health = Field(default_factory=Health)

    @field_validator("steps")
    @classmethod
    def _steps(cls, steps: tuple[float, ...]) -> tuple[float, ...]:
        shown = [f"{s:g}" for s in steps]
        if len(steps) < 2 or steps[0] != 0 or steps[-1] != 100:
            raise ValueError(f"steps must start at 0 and end at 100, got {shown}")
        if list(steps) != sorted(set(steps)):
            raise ValueError(f"steps must be strictly increasing, got {shown}")
        if any(round(s * 100) != s * 100 for s in steps):
            raise ValueError(f"steps have at most two decimals (basis points), got {shown}")
        return steps

    @model_validator(mode="after")
    def _floor(self) -> Rollout:
        if self.floor not in self.steps:
            shown = ", ".join(f"{s:g}" for s in self.steps)
            raise ValueError(f"floor {self.floor:g} must be one of the steps ({shown})")
        return self
