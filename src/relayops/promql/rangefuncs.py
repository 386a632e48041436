"""Float arithmetic of rate(), increase() and avg_over_time(), step for step as in 2.42.

Operations are ordered exactly like the Go code so that results are bit-identical.
"""

from __future__ import annotations

import math

from relayops.promql.storage import Sample


def extrapolated_rate(
    samples: list[Sample], start_ms: int, end_ms: int, is_counter: bool, is_rate: bool
) -> float | None:
    """Prometheus' extrapolatedRate over a window [start_ms, end_ms]; None below 2 samples."""
    if len(samples) < 2:
        return None
    (first_t, first_v), (last_t, last_v) = samples[0], samples[-1]
    result = last_v - first_v
    if is_counter:
        previous = first_v
        for _, value in samples[1:]:
            if value < previous:
                result += previous
            previous = value

    to_start = (first_t - start_ms) / 1000
    to_end = (end_ms - last_t) / 1000
    sampled = (last_t - first_t) / 1000
    average_step = sampled / (len(samples) - 1)

    if is_counter and result > 0 and first_v >= 0:
        # A counter cannot have been below zero, so do not extrapolate past its zero point.
        to_zero = sampled * (first_v / result)
        if to_zero < to_start:
            to_start = to_zero

    threshold = average_step * 1.1
    interval = sampled
    interval += to_start if to_start < threshold else average_step / 2
    interval += to_end if to_end < threshold else average_step / 2
    factor = interval / sampled
    if is_rate:
        factor /= (end_ms - start_ms) / 1000
    return result * factor


def _kahan_add(increment: float, total: float, compensation: float) -> tuple[float, float]:
    new_total = total + increment
    if abs(total) >= abs(increment):
        compensation += (total - new_total) + increment
    else:
        compensation += (increment - new_total) + total
    return new_total, compensation


def average_over_time(samples: list[Sample]) -> float:
    """Running mean with Kahan compensation, with Prometheus' handling of infinities."""
    mean = compensation = count = 0.0
    for _, value in samples:
        count += 1
        if math.isinf(mean) and (
            (math.isinf(value) and (mean > 0) == (value > 0))
            or not (math.isinf(value) or math.isnan(value))
        ):
            continue
        mean, compensation = _kahan_add(value / count - mean / count, mean, compensation)
    return mean if math.isinf(mean) else mean + compensation
