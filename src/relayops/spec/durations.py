"""Prometheus-style durations ("5m", "1h30m", "3d") as whole seconds."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import BeforeValidator, PlainSerializer

_UNITS = {"w": 604800, "d": 86400, "h": 3600, "m": 60, "s": 1}
_PART = re.compile(r"(\d+)(w|d|h|m|s)")
_WHOLE = re.compile(r"(?:\d+(?:w|d|h|m|s))+")


def parse_duration(value: object) -> int:
    """Accept "90s", "5m", "1h30m", "3d" (or a whole number of seconds); return seconds."""
    if isinstance(value, bool):
        raise ValueError(f"expected a duration such as 5m or 1h, got {value!r}")
    if isinstance(value, int):
        if value <= 0:
            raise ValueError(f"a duration must be positive, got {value}")
        return value
    if not isinstance(value, str) or not _WHOLE.fullmatch(value.strip()):
        raise ValueError(
            f"expected a duration such as 30s, 5m, 1h or 3d (units w, d, h, m, s), got {value!r}"
        )
    seconds = sum(int(n) * _UNITS[unit] for n, unit in _PART.findall(value))
    if seconds <= 0:
        raise ValueError(f"a duration must be positive, got {value!r}")
    return seconds


def format_duration(seconds: int) -> str:
    """Shortest Prometheus spelling of whole seconds: 3600 -> "1h", 5400 -> "90m"."""
    if seconds <= 0 or int(seconds) != seconds:
        raise ValueError(f"cannot format {seconds!r} as a Prometheus duration")
    for unit in ("d", "h", "m"):
        if seconds % _UNITS[unit] == 0:
            return f"{seconds // _UNITS[unit]}{unit}"
    return f"{int(seconds)}s"


def format_compound(seconds: int) -> str:
    """Every unit spelled out, largest first: 2591850 -> "29d23h57m30s" (PromQL ≥ 2.26)."""
    if seconds <= 0 or int(seconds) != seconds:
        raise ValueError(f"cannot format {seconds!r} as a Prometheus duration")
    parts, left = [], int(seconds)
    for unit in ("d", "h", "m", "s"):
        count, left = divmod(left, _UNITS[unit])
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)


Duration = Annotated[int, BeforeValidator(parse_duration), PlainSerializer(format_duration)]
