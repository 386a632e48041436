"""The rule-file YAML writer: whatever it writes loads back as the same data."""

from __future__ import annotations

import pytest
import yaml

from relayops.rules.output import pretty
from relayops.rules.yamltext import dumps, scalar

TRICKY = [
    "yes",
    "No",
    "on",
    "OFF",
    "null",
    "~",
    "",
    " lead",
    "trail ",
    "1h",
    "0s",
    "1.5",
    "12",
    "0x1F",
    "1e3",
    ".inf",
    "2001-12-14",
    "60:30",
    "a: b",
    "ends:",
    "x #y",
    "#x",
    "- item",
    "it's",
    '"quoted"',
    "{a: 1}",
    "[1, 2]",
    "&anchor",
    "*alias",
    "!tag",
    "|",
    ">",
    "%x",
    "@x",
    "`x`",
    "0+1x60 _x3 stale",
    'sum by (a) (rate(x{a="b",c=~"d|e"}[5m])) > 0.5',
    "ünïcode ×",
    "tab\there",
    "line\nbreak",
    "=",
    "<<",
]


@pytest.mark.parametrize("text", TRICKY)
def test_strings_round_trip(text):
    assert yaml.safe_load(dumps({"key": text})) == {"key": text}


@pytest.mark.parametrize(
    "number", [0, 7, -3, 0.5, 1.0, 1e-05, 1.25e20, 14.400000000000002, float("inf"), float("-inf")]
)
def test_numbers_round_trip(number):
    assert yaml.safe_load(dumps({"key": number})) == {"key": number}


def test_nested_structures_round_trip_in_block_style():
    data = {
        "groups": [
            {
                "name": "g",
                "rules": [{"record": "a:b:c", "expr": "x", "labels": {"slo": "availability"}}],
            },
            {"name": "empty", "rules": []},
        ],
        "tests": [{"values": [1, 2.5, "three"], "nested": [[1, 2], []], "map": {}}],
    }
    text = dumps(data)
    assert yaml.safe_load(text) == data
    assert text.startswith("groups:\n- name: g\n  rules:\n  - record: a:b:c\n    expr: x\n")


def test_plain_where_unambiguous_quoted_otherwise():
    assert scalar("relay") == "relay"
    assert scalar("5m") == "5m"
    assert scalar("yes") == "'yes'"
    assert scalar("it's: here") == "'it''s: here'"
    assert scalar(1e-05) == "1.0e-05"


def test_unsupported_types_are_refused():
    with pytest.raises(TypeError, match="set"):
        dumps({"key": {1, 2}})


def test_multi_line_text_is_a_literal_block_that_round_trips():
    text = "a > 1\nand on (x)\nb > 2"
    written = dumps({"expr": text})
    assert written == "expr: |-\n  a > 1\n  and on (x)\n  b > 2\n"
    assert yaml.safe_load(written) == {"expr": text}


@pytest.mark.parametrize(
    ("promql", "lines"),
    [
        ("a > 1 and b > 2", ["a > 1", "and", "b > 2"]),
        ("a > 1 and on (p, q) b > 2 or c", ["a > 1", "and on (p, q)", "b > 2", "or", "c"]),
        ("(a and b) > 1", ["(a and b) > 1"]),
        ('x{l="c and d"} unless y', ['x{l="c and d"}', "unless", "y"]),
        ("sum by (a) (rate(x[5m]))", ["sum by (a) (rate(x[5m]))"]),
        ('x{l="(q\\" or ("} or y', ['x{l="(q\\" or ("}', "or", "y"]),
        ('(x{l=")"} and y) or z', ['(x{l=")"} and y)', "or", "z"]),
    ],
)
def test_pretty_breaks_only_top_level_set_operators(promql, lines):
    assert pretty(promql).split("\n") == lines
    assert " ".join(pretty(promql).split("\n")) == promql
