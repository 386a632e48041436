"""The readiness points of the observation report and the go/no-go verdict they give."""

from __future__ import annotations

from dataclasses import dataclass, field

from relayops.drill.observe import Samples

GO_MIN_SCORE = 7


@dataclass(frozen=True)
class Point:
    """One readiness point. `passed` is None when there was nothing to measure (no data),
    which scores like a failure: a silent Prometheus is never read as a healthy one."""

    name: str
    passed: bool | None
    measured: str
    threshold: str


@dataclass(frozen=True)
class Observation:
    since_s: int
    start: float
    end: float
    points: tuple[Point, ...]
    critical_firing: tuple[str, ...]
    curves: dict[str, dict[str, Samples]] = field(default_factory=dict)  # title -> label -> data

    @property
    def score(self) -> int:
        return sum(p.passed is True for p in self.points)

    @property
    def go(self) -> bool:
        return self.score >= GO_MIN_SCORE and not self.critical_firing
