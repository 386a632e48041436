"""Quantile estimation from classic histogram buckets, as 2.42's bucketQuantile does it."""

from __future__ import annotations

import math
from collections.abc import Callable

Bucket = tuple[float, float]
"""(upper bound, cumulative count)"""


def parse_go_float(text: str) -> float | None:
    """strconv.ParseFloat for the forms an `le` label takes; None if Go would reject it."""
    if not text or text != text.strip() or "_" in text:
        return None
    try:
        return float(text)
    except ValueError:
        return None


def bucket_quantile(q: float, buckets: list[Bucket]) -> float:
    if math.isnan(q):
        return math.nan
    if q < 0:
        return -math.inf
    if q > 1:
        return math.inf
    ordered = sorted(buckets, key=lambda bucket: bucket[0])
    if ordered[-1][0] != math.inf:
        return math.nan
    merged = _monotonic(_coalesce(ordered))
    if len(merged) < 2:
        return math.nan
    observations = merged[-1][1]
    if observations == 0:
        return math.nan
    rank = q * observations
    index = _search(len(merged) - 1, lambda i: merged[i][1] >= rank)
    if index == len(merged) - 1:
        return merged[-2][0]
    if index == 0 and merged[0][0] <= 0:
        return merged[0][0]
    start, (end, count) = 0.0, merged[index]
    if index > 0:
        start = merged[index - 1][0]
        count -= merged[index - 1][1]
        rank -= merged[index - 1][1]
    return start + (end - start) * (rank / count)


def _search(n: int, predicate: Callable[[int], bool]) -> int:
    """Go's sort.Search; a plain scan would differ when NaN counts break monotonicity."""
    low, high = 0, n
    while low < high:
        middle = (low + high) // 2
        if predicate(middle):
            high = middle
        else:
            low = middle + 1
    return low


def _coalesce(ordered: list[Bucket]) -> list[Bucket]:
    """Merge buckets with equal bounds (e.g. le="1" and le="1.0") by adding counts."""
    merged = [ordered[0]]
    for bound, count in ordered[1:]:
        if bound == merged[-1][0]:
            merged[-1] = (bound, merged[-1][1] + count)
        else:
            merged.append((bound, count))
    return merged


def _monotonic(buckets: list[Bucket]) -> list[Bucket]:
    """Raise any count below an earlier one, hiding skew between bucket scrapes."""
    highest = -math.inf
    fixed = []
    for bound, count in buckets:
        if count > highest:
            highest = count
        elif count < highest:
            count = highest
        fixed.append((bound, count))
    return fixed
