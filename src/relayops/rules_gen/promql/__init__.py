"""A small PromQL expression tree that renders rule text and evaluates like Prometheus 2.42."""

from relayops.rules_gen.promql.aggregations import Aggregate, TopK
from relayops.rules_gen.promql.base import Expr
from relayops.rules_gen.promql.binary import Binary
from relayops.rules_gen.promql.functions import (
    AvgOverTime,
    HistogramQuantile,
    Increase,
    Number,
    Rate,
    SumOverTime,
    Time,
    VectorOf,
)
from relayops.rules_gen.promql.selectors import Absent, Matcher, Offset, Range, Selector
from relayops.rules_gen.promql.storage import (
    STALE_NAN,
    Labels,
    SeriesDB,
    Vector,
    is_stale,
    labels_of,
)
from relayops.rules_gen.promql.text import format_duration, format_number, format_series

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
