"""PromQL literal formatting shared by the expression nodes and the series notation."""

from __future__ import annotations

import math

from rules_gen.promql.storage import Labels

_DURATION_UNITS = (("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1))
_ESCAPES = str.maketrans({"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"})


def format_duration(seconds: int) -> str:
    """Largest unit dividing exactly: 300 -> "5m", 259200 -> "3d", 90 -> "90s"."""
    if seconds <= 0:
        raise ValueError(f"duration must be positive, got {seconds}")
    for unit, size in _DURATION_UNITS:
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    raise AssertionError("unreachable: every integer is a multiple of 1s")


def format_number(value: float) -> str:
    """Shortest text that parses back to exactly `value` in PromQL, YAML and series notation."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Inf" if value > 0 else "-Inf"
    return repr(float(value)).removesuffix(".0")


def quote(value: str) -> str:
    return f'"{value.translate(_ESCAPES)}"'


def format_series(labels: Labels) -> str:
    """`name{a="b"}` with labels in name order, the way promtool prints series."""
    name = dict(labels).get("__name__", "")
    inner = ", ".join(f"{key}={quote(value)}" for key, value in labels if key != "__name__")
    return f"{name}{{{inner}}}" if inner or not name else name
