"""PromQL literal formatting shared by the expression nodes and the series notation."""

from __future__ import annotations

import math

from relayops.promql.storage import Labels
from relayops.spec.durations import format_compound, format_duration

__all__ = ["format_compound", "format_duration", "format_number", "format_series", "quote"]

_ESCAPES = str.maketrans({"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"})


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
