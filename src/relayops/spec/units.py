"""How quantities are written for people (alert annotations, runbooks, the README): one place,
so that a ratio is `1%` and a latency `500ms` everywhere."""

from __future__ import annotations

from enum import StrEnum

from relayops.spec.durations import format_duration


def percent(ratio: float) -> str:
    return f"{ratio * 100:g}%"


def seconds(value: float) -> str:
    return f"{value:g}s" if value >= 1 else f"{value * 1000:g}ms"


class Unit(StrEnum):
    """The unit of an alert's level, as written next to its number."""

    RATIO = "ratio"  # 0.01 -> 1%
    SECONDS = "seconds"  # 0.5 -> 500ms, 2 -> 2s
    DURATION = "duration"  # 1800 -> 30m
    NUMBER = "number"  # 0.5 -> 0.5

    def text(self, value: float) -> str:
        match self:
            case Unit.RATIO:
                return percent(value)
            case Unit.SECONDS:
                return seconds(value)
            case Unit.DURATION:
                return format_duration(int(value))
            case Unit.NUMBER:
                return f"{value:g}"
