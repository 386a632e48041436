"""Just enough PromQL lexing to list the series an expression names (promtool checks syntax)."""

from __future__ import annotations

import re

# Grafana's own variables, replaced by values promtool accepts.
BUILTINS = {"__rate_interval": "5m", "__interval": "1m", "__range": "1h"}
VARIABLE = re.compile(r"\$(?:\{(\w+)(?::\w+)?\}|(\w+))")
PLACEHOLDER = "grafana_variable"

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_MATCHERS = re.compile(r"\{[^{}]*\}")
_RANGE = re.compile(r"\[[^\[\]]*\]")
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)")
_NAME = re.compile(r"(?<![\w.:])([A-Za-z_:][\w:]*)(\s*\()?")
_KEYWORDS = frozenset(
    {"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring", "group_left",
     "group_right", "inf", "nan"}
)  # fmt: skip
RAW_COUNTER_FUNCTIONS = frozenset({"rate", "irate", "increase", "resets"})


def substitute(expr: str) -> str:
    """The expression with every Grafana variable replaced, so that promtool can parse it."""
    return VARIABLE.sub(lambda m: BUILTINS.get(m.group(1) or m.group(2), PLACEHOLDER), expr)


def series_names(expr: str) -> list[str]:
    """Metric names the expression selects, in order (functions, labels and keywords dropped)."""
    text = _STRING.sub('""', substitute(expr))
    text = _RANGE.sub("", _MATCHERS.sub("", text))
    text = _GROUPING.sub("", text)
    names = []
    for match in _NAME.finditer(text):
        name, call = match.groups()
        if call is None and name.lower() not in _KEYWORDS:
            names.append(name)
    return names


def bare_counters(expr: str, counters: set[str]) -> list[str]:
    """Counters read outside rate()/increase(): their raw value (e.g. `time() - counter`) is
    meaningless, the old dashboards' defect."""
    text = _STRING.sub('""', substitute(expr))
    found = []
    for match in _NAME.finditer(text):
        name, call = match.groups()
        if call is not None or name not in counters:
            continue
        before = text[: match.start()].rstrip()
        function = re.search(r"(\w+)\s*\(\s*$", before)
        if function is None or function.group(1) not in RAW_COUNTER_FUNCTIONS:
            found.append(name)
    return found
