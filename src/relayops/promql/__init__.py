"""A small PromQL expression tree that renders rule text and evaluates like Prometheus 2.42."""

from relayops.promql.aggregations import Aggregate, TopK
from relayops.promql.base import Expr
from relayops.promql.binary import Binary
from relayops.promql.functions import (
    AvgOverTime,
    HistogramQuantile,
    Increase,
    MaxOverTime,
    Number,
    Rate,
    SumOverTime,
    Time,
    VectorOf,
)
from relayops.promql.selectors import Absent, Matcher, Offset, Range, Selector
from relayops.promql.storage import (
    STALE_NAN,
    Labels,
    SeriesDB,
    Vector,
    is_stale,
    labels_of,
)
from relayops.promql.text import format_duration, format_number, format_series

__all__ = [
    "STALE_NAN",
    "Absent",
    "Aggregate",
    "AvgOverTime",
    "Binary",
    "Expr",
    "HistogramQuantile",
    "Increase",
    "Labels",
    "Matcher",
    "MaxOverTime",
    "Number",
    "Offset",
    "Range",
    "Rate",
    "Selector",
    "SeriesDB",
    "SumOverTime",
    "Time",
    "TopK",
    "Vector",
    "VectorOf",
    "format_duration",
    "format_number",
    "format_series",
    "is_stale",
    "labels_of",
]
