"""Splicing bulk content into a serialised skeleton."""

from __future__ import annotations

import pytest

from relayops.adapters.splice import splice, stand_in


def test_each_stand_in_is_replaced_in_place():
    one, two = stand_in().encode(), stand_in().encode()
    assert one != two
    skeleton = b"head " + two + b" middle " + one + b" tail"
    spliced = splice(skeleton, {one: [b"<1>"], two: [b"<", b"2", b">"]})
    assert spliced == b"head <2> middle <1> tail"


@pytest.mark.parametrize("times", [0, 2])
def test_a_stand_in_not_found_exactly_once_is_an_error(times):
    token = stand_in().encode()
    with pytest.raises(RuntimeError, match="not found once"):
        splice(b"x" + token * times, {token: [b"content"]})
