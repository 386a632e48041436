"""Synthetic input series and promtool's compact series notation for them."""

from __future__ import annotations

import math
import struct
from collections.abc import Iterable
from dataclasses import dataclass

from relayops.promql import SeriesDB, format_number, format_series, is_stale, labels_of

_MIN_RUN = 3
"""Shorter runs read better written out."""


@dataclass
class InputSeries:
    """One value per interval step from t=0.

    None means no sample at that step ("_"); STALE_NAN writes a staleness marker ("stale").
    """

    labels: dict[str, str]
    values: list[float | None]


def _same(a: float, b: float) -> bool:
    return struct.pack("<d", a) == struct.pack("<d", b)


def _is_number(value: float | None) -> bool:
    return value is not None and not is_stale(value)


def _repeat_run(values: list[float | None], start: int) -> int:
    """How many values after `start` repeat it bit for bit."""
    first = values[start]
    assert first is not None
    n = 0
    while start + n + 1 < len(values):
        following = values[start + n + 1]
        if not _is_number(following) or not _same(following, first):
            break
        n += 1
    return n


def _step_run(values: list[float | None], start: int, step: float) -> int:
    """How many values after `start` equal promtool's expansion of `a+bxn`.

    promtool adds the step to a running value (v += b), so rounding accumulates; only the
    values that repeated addition reproduces exactly are taken.
    """
    current = values[start]
    assert current is not None
    n = 0
    while start + n + 1 < len(values):
        following = values[start + n + 1]
        current += step
        if not _is_number(following) or not _same(following, current):
            break
        n += 1
    return n


def _readable_step(first: float, second: float) -> float:
    """The shortest decimal step that takes `first` to exactly `second` (1 -> 1.1 is 0.1)."""
    difference = second - first
    for digits in range(1, 18):
        candidate = float(f"{difference:.{digits}g}")
        if _same(first + candidate, second):
            return candidate
    return difference


def _number_token(values: list[float | None], start: int) -> tuple[str, int]:
    """The token for a run starting at a numeric value, and how many values it covers."""
    first = values[start]
    assert first is not None
    text = format_number(first)
    following = values[start + 1] if start + 1 < len(values) else None
    # Inf and NaN cannot take an "x" suffix: "Infx3" lexes as one identifier.
    if not math.isfinite(first) or following is None or not _is_number(following):
        return text, 1
    repeats = _repeat_run(values, start)
    if repeats + 1 >= _MIN_RUN:
        return f"{text}x{repeats}", repeats + 1
    step = _readable_step(first, following)
    if step == 0 or not math.isfinite(step):
        return text, 1
    steps = _step_run(values, start, step)
    if steps + 1 < _MIN_RUN:
        return text, 1
    sign = "+" if step > 0 else "-"
    return f"{text}{sign}{format_number(abs(step))}x{steps}", steps + 1


def to_promtool_values(values: list[float | None]) -> str:
    """Compact promtool notation that expands to exactly these floats."""
    tokens: list[str] = []
    index = 0
    while index < len(values):
        value = values[index]
        if value is None:
            end = index
            while end < len(values) and values[end] is None:
                end += 1
            tokens.append("_" if end - index == 1 else f"_x{end - index}")
            index = end
        elif is_stale(value):
            tokens.append("stale")
            index += 1
        else:
            token, covered = _number_token(values, index)
            tokens.append(token)
            index += covered
    return " ".join(tokens)


def load_into(db: SeriesDB, series: Iterable[InputSeries], interval: int) -> None:
    for item in series:
        for step, value in enumerate(item.values):
            if value is not None:
                db.add(item.labels, step * interval, value)


def promtool_input_series(series: Iterable[InputSeries]) -> list[dict[str, str]]:
    """`input_series` entries for a promtool test file."""
    return [
        {
            "series": format_series(labels_of(item.labels)),
            "values": to_promtool_values(item.values),
        }
        for item in series
    ]
