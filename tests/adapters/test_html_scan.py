"""The start-tag scan behind the sanitizer's change counts."""

from __future__ import annotations

import pytest

from relayops.adapters.html_scan import parse_start_tag, start_tags


def tags(html: str) -> list[tuple[str, dict[str, str]]]:
    """Each start tag parsed, as often as it occurs."""
    found = []
    for source, count in start_tags(html).items():
        found += [parse_start_tag(source)] * count
    return found


def test_repeated_tags_are_counted_once_each_kind() -> None:
    html = '<tr><td style="a">x</td><td style="a">y</td></tr>' * 3
    assert start_tags(html) == {"<tr>": 3, '<td style="a">': 6}


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        ("<p a=1 b=\"x>y\" c='z' d e = f/g/>", ("p", {"a": "1", "b": "x>y", "c": "z", "d": ""})),
        ("<IMG SRC=x OnError=y>", ("img", {"src": "x", "onerror": "y"})),
        ('<a href="x&amp;y&#x3A;">', ("a", {"href": "x&y:"})),
        ('<a href="first" href="second">', ("a", {"href": "first"})),
        ('<img/src="x"/alt=y/>', ("img", {"src": "x", "alt": "y/"})),  # as in a browser
        ('<p title="unclosed', ("p", {"title": "unclosed"})),
        ('<img a="1"b="2">', ("img", {"a": "1", "b": "2"})),
    ],
)
def test_attributes_are_split_as_a_browser_splits_them(html: str, expected: tuple) -> None:
    (tag,) = tags(html)
    name, attributes = expected
    assert tag[0] == name
    assert tag[1].items() >= attributes.items()


@pytest.mark.parametrize(
    ("html", "names"),
    [
        ("<!-- <p onclick=x> --><b>", ["b"]),
        ("<!--> <i>", ["i"]),  # `<!-->` is a whole, empty comment
        ("<!-- never closed <p>", []),
        ("<!DOCTYPE html><?xml x?><![CDATA[<u>]]><b>", ["b"]),
        ("<script>document.write('<img onerror=x>')</script><b>", ["script", "b"]),
        ("<STYLE>p { x: '<i>' }</style ><b>", ["style", "b"]),
        ("<title><img src=x></title><textarea><i></textarea>", ["title", "textarea"]),
        ("<script>never closed <img onerror=x>", ["script"]),
        ("<scriptx><b>", ["scriptx", "b"]),
        ('<p title="<b onclick=x>">', ["p"]),
        ('</p title="<img onerror=x>"><u>', ["u"]),
        ("</><b></ x><i>", ["b", "i"]),
        ("a < b <1> <b", ["b"]),  # cut off by the end: a browser drops it, the scan counts it
    ],
)
def test_markup_that_is_not_a_start_tag_is_skipped(html: str, names: list[str]) -> None:
    assert sorted(name for name, _ in tags(html)) == sorted(names)


def test_parse_start_tag_refuses_other_text() -> None:
    with pytest.raises(ValueError):
        parse_start_tag("text")
