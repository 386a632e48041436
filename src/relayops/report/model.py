"""The readiness points of the observation report and the go/no-go verdict they give."""

from __future__ import annotations

from dataclasses import dataclass, field

from relayops.drill.observe import Samples

GO_MIN_LIVE = 5  # of the live points (measured on Prometheus); every static check must pass


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
    """Live points are measured over the window; static checks (runbooks, the last drill,
    routing, dashboards) hold or not whatever the traffic, so they gate GO on their own and
    never make up for a live failure."""

    since_s: int
    start: float
    end: float
    live: tuple[Point, ...]
    static: tuple[Point, ...]
    critical_firing: tuple[str, ...]
    critical_pending: tuple[str, ...] = ()
    curves: dict[str, dict[str, Samples]] = field(default_factory=dict)  # title -> label -> data

    @property
    def points(self) -> tuple[Point, ...]:
        return (*self.live, *self.static)

    @property
    def score(self) -> int:
        """Live points passed."""
        return sum(p.passed is True for p in self.live)

    @property
    def static_passed(self) -> bool:
        return all(p.passed is True for p in self.static)

    @property
    def go(self) -> bool:
        """A critical alert pending is an incident starting: it counts as firing would."""
        return (
            self.score >= GO_MIN_LIVE
            and self.static_passed
            and not self.critical_firing
            and not self.critical_pending
        )
