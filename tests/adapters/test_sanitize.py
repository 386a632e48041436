"""The email HTML sanitizer: an XSS corpus, ordinary email surviving, change counts, cid checks.

Kept CSS is read back with tinycss2, an independent CSS parser; tests/adapters/test_html_fidelity.py
judges looks in Chromium and the large XSS corpus with html5lib."""

from __future__ import annotations

import re
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from html.parser import HTMLParser

import pytest
import tinycss2
from hypothesis import given, settings
from hypothesis import strategies as st

from relayops.adapters import sanitize as sanitize_module
from relayops.adapters.sanitize import (
    TAGS,
    URL_SCHEMES,
    ChangeType,
    MissingInlineImage,
    ReferenceResult,
    Sanitized,
    UnexpectedMarkup,
    sanitize,
)
from relayops.spec import load_specs
from tests.specs_util import REPO

VECTORS = [
    line
    for line in (REPO / "tests" / "data" / "xss_vectors.txt").read_text().splitlines()
    if line.strip()
]
FORBIDDEN_TAGS = {"script", "iframe", "object", "embed", "meta", "base", "form", "link"}
FORBIDDEN_TAGS |= {"svg", "math", "frame", "frameset", "applet", "input", "button", "textarea"}
URL_ATTRIBUTES = {"href", "src", "cite", "action", "formaction", "background", "xlink:href"}


@pytest.fixture(scope="module")
def catalog():
    return load_specs(REPO / "specs").service.metrics


class Tree(HTMLParser):
    """Parsed output as a flat event list: (start, tag, attrs) / (end, tag) / (text, words)."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.events: list[tuple] = []
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.events.append(("start", tag, {name: value or "" for name, value in attrs}))

    def handle_endtag(self, tag: str) -> None:
        self.events.append(("end", tag))

    def handle_data(self, data: str) -> None:
        if data.strip():
            self.events.append(("text", " ".join(data.split())))

    def starts(self) -> list[tuple[str, dict[str, str]]]:
        return [(e[1], e[2]) for e in self.events if e[0] == "start"]


def _plain_url(value: str) -> str:
    return re.sub(r"[\x00-\x20]", "", value).lower()


def css_declarations(style: str) -> list[tuple[str, str]]:
    """(property, value) pairs of a style attribute, as tinycss2 reads them."""
    return [
        (item.lower_name, tinycss2.serialize(item.value).strip())
        for item in tinycss2.parse_blocks_contents(style, skip_comments=True, skip_whitespace=True)
        if item.type == "declaration"
    ]


# In kept CSS: no script, binding or expression, and url() only for https and cid: images.
UNSAFE_CSS = re.compile(r"expression|behavior|binding|javascript|vbscript|url\((?!https:|cid:)")


def assert_inert(html: str) -> None:
    """Nothing in `html` can run script, navigate to script or load from outside the message."""
    assert "<script" not in html.lower()
    for tag, attrs in Tree(html).starts():
        assert tag in TAGS and tag not in FORBIDDEN_TAGS, tag
        for name, value in attrs.items():
            assert not name.startswith("on"), (tag, name)
            url = _plain_url(value)
            assert not url.startswith(("javascript:", "vbscript:", "data:")), (tag, name, value)
            if name in URL_ATTRIBUTES and url:
                assert url.startswith("#") or url.split(":")[0] in URL_SCHEMES, (tag, name)
            if name == "style":
                assert not UNSAFE_CSS.search(url.replace('"', "").replace("'", "")), value


def test_corpus_is_large_enough() -> None:
    assert len(VECTORS) >= 40


@pytest.mark.parametrize("vector", VECTORS, ids=[f"v{i:03d}" for i in range(len(VECTORS))])
def test_xss_vector_is_neutralised(vector: str, catalog) -> None:
    result = sanitize(vector, inline_ids={"logo"})
    assert_inert(result.html)
    assert set(result.changes) <= set(catalog["sanitize_changes"].values["change"])


def test_assert_inert_catches_what_it_should() -> None:
    for unsafe in (
        "<script>x</script>",
        '<a href=" java\tscript:x">a</a>',
        '<img src="data:image/png;base64,AA">',
        '<p onclick="x">a</p>',
        "<iframe></iframe>",
        '<p style="width:expression(x)">a</p>',
    ):
        with pytest.raises(AssertionError):
            assert_inert(unsafe)


def test_change_types_are_the_catalog_values(catalog) -> None:
    assert {c.value for c in ChangeType} == set(catalog["sanitize_changes"].values["change"])
    assert {r.value for r in ReferenceResult} == set(catalog["inline_references"].values["result"])


def test_script_and_title_text_is_dropped_not_shown_and_style_is_filtered() -> None:
    html = "<p>a</p><script>alert(1)</script><style>p { color: red }</style><title>T</title>"
    assert sanitize(html, inline_ids=set()).html == "<p>a</p><style>p{color:red}</style>"


NEWSLETTER = """\
<table width="100%" cellpadding="0" cellspacing="0" border="0" bgcolor="#f4f4f4" \
role="presentation">
<tbody>
<tr>
<td align="center" valign="top" style="padding: 20px 10px; background-color: #f4f4f4;">
<table width="600" cellpadding="0" cellspacing="0" border="0" bgcolor="#ffffff" \
style="max-width: 600px; border: 1px solid #dddddd; border-collapse: collapse;">
<tbody>
<tr>
<td align="center" style="padding: 24px;">
<img src="cid:logo@relay.example" alt="Relay" width="120" height="40" border="0" \
style="display: block;">
</td>
</tr>
<tr>
<td style="font-family: Arial, Helvetica, sans-serif; font-size: 16px; line-height: 24px; \
color: #333333; padding: 0 24px;">
<h1 style="margin: 0 0 12px 0; font-size: 24px; font-weight: bold;">November update</h1>
<p style="margin: 0 0 12px 0;">Hello Ana, here is what changed this month &amp; what is next:</p>
<ul style="padding-left: 20px; margin: 0 0 12px 0;">
<li>Scheduled sends now respect <strong>time zones</strong>.</li>
<li>Inline images use <em>cid:</em> references.</li>
<li><a href="https://relay.example/changelog" style="color: #1a73e8; \
text-decoration: underline;" target="_blank">Full changelog</a></li>
</ul>
<ol start="2"><li>Second step</li><li>Third step</li></ol>
<blockquote style="border-left: 4px solid #cccccc; margin: 0; padding-left: 12px;">\
<font color="#666666" face="Georgia">Quoted text</font></blockquote>
<p><img src="cid:chart%40relay.example" alt="Chart" width="560" style="width: 100%; \
height: auto;"></p>
<hr size="1" noshade>
<center><a href="mailto:support@relay.example">Contact support</a></center>
</td>
</tr>
<tr>
<td bgcolor="#eeeeee" colspan="2" style="padding: 12px 24px; font-size: 12px; color: #888888; \
text-align: center;">
You receive this because you use Relay.<br>
<a href="https://relay.example/unsubscribe?u=42&amp;l=en">Unsubscribe</a> |
<a href="#top">Back to top</a>
</td>
</tr>
</tbody>
</table>
</td>
</tr>
</tbody>
</table>
"""
NEWSLETTER_IDS = {"logo@relay.example", "chart@relay.example"}


def _semantic(html: str) -> list[tuple]:
    """Events with style as a property map and the rel nh3 adds to links left out."""
    events = []
    for event in Tree(html).events:
        if event[0] == "start":
            attrs = {k: v for k, v in event[2].items() if k != "rel"}
            if "style" in attrs:
                attrs["style"] = {
                    name: re.sub(r"\s*,\s*", ",", " ".join(value.split()))
                    for name, value in css_declarations(attrs["style"])
                }
            event = ("start", event[1], attrs)
        events.append(event)
    return events


def test_newsletter_survives_intact() -> None:
    result = sanitize(NEWSLETTER, inline_ids=NEWSLETTER_IDS)
    assert _semantic(result.html) == _semantic(NEWSLETTER)
    assert result.changes == Counter()
    assert result.cid_references == NEWSLETTER_IDS
    assert result.orphans == ()
    links = [a for tag, a in Tree(result.html).starts() if tag == "a"]
    assert all(a["rel"] == "noopener noreferrer" for a in links if "href" in a)


def test_allowed_style_properties_are_kept_and_others_counted() -> None:
    html = (
        '<p style="COLOR: Red; position: fixed; font-size: 14px; background-image: '
        'url(https://t.example/x.png); width: expression(alert(1)); margin-top: 4px">x</p>'
    )
    result = sanitize(html, inline_ids=set())
    (_, attrs), *_ = Tree(result.html).starts()
    assert dict(css_declarations(attrs["style"])) == {
        "color": "Red",
        "font-size": "14px",
        "background-image": "url(https://t.example/x.png)",  # remote images are allowed
        "margin-top": "4px",
    }
    assert result.changes == Counter({ChangeType.STYLE_PROPERTY: 2})


def test_a_style_with_nothing_to_remove_is_kept_as_written() -> None:
    html = '<p style="font-family: &quot;A;B&quot;, serif; color: red !important;">x</p>'
    result = sanitize(html, inline_ids=set())
    (_, attrs), *_ = Tree(result.html).starts()
    assert attrs["style"] == 'font-family: "A;B", serif; color: red !important;'


def test_a_rewritten_style_is_escaped_back_into_the_attribute() -> None:
    html = """<p style='font-family: "A&amp;B&nbsp;C"; position: fixed' title="t">x</p>"""
    result = sanitize(html, inline_ids=set())
    assert 'style="font-family:&quot;A&amp;B&nbsp;C&quot;"' in result.html
    (_, attrs), *_ = Tree(result.html).starts()
    assert attrs == {"style": 'font-family:"A&B\u00a0C"', "title": "t"}


@pytest.mark.parametrize(
    "output",
    [
        "<p title=unquoted>x</p>",
        "<p title='single'>x</p>",
        '<p  title="two spaces">x</p>',
        '<P title="upper">x</P>',
        '<img src="cid:x"/>',
        '<p title="a>b">x</p>',  # html5ever writes `>` in a value as &gt;
        '<p title="cut off"',
    ],
)
def test_nh3_output_in_an_unexpected_form_is_refused(output: str) -> None:
    """The policy pass reads html5ever's own way of writing tags; anything else could hide an
    attribute from it, so it refuses instead of passing the tag through unchecked."""
    decisions = sanitize_module._Decisions(sanitize_module._Policy(False, frozenset()))
    with pytest.raises(UnexpectedMarkup, match="cannot check the tag"):
        sanitize_module._apply_policy(output, decisions)


MARKUP_PIECES = (
    *("<", ">", "</", '"', "'", "=", " ", "/", "\n", "&", "&quot;", "&lt;", "&#34;", "\u00a0"),
    *("<p ", "<a ", "<img ", "<td ", "<svg ", "<table ", "<!--", "-->", "<script>", "<style>"),
    *("style", "href", "src", "cite", "title", "onclick", "xlink:href", "background"),
    *('style="', "style='", 'href="', "src='", "color: red;", "COLOR:Red", "position:fixed"),
    *("cid:x", "https://t.example/p.gif", "javascript:", "java\tscript:", "#top", "url(", ")"),
    *("expression(", "/*", "\\", '"a;b"', "ü", "東", "x"),
)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(MARKUP_PIECES), max_size=40).map("".join))
def test_any_markup_comes_out_inert_and_readable(html: str) -> None:
    try:
        result = sanitize(html, inline_ids={"x"})
    except MissingInlineImage:
        return
    assert_inert(result.html)
    again = sanitize(result.html, inline_ids={"x"})
    assert again.html == result.html  # clean output is a fixed point


def test_a_dropped_relative_link_leaves_rel_last_and_the_output_a_fixed_point() -> None:
    """nh3 writes its rel where it dropped a relative href; cleaning that again moves it."""
    result = sanitize('<a href="page.html" style="color: red;">x</a>', inline_ids=set())
    assert result.html == '<a style="color: red;" rel="noopener noreferrer">x</a>'
    assert sanitize(result.html, inline_ids=set()).html == result.html


def test_changes_are_counted_by_type() -> None:
    html = (
        "<script>a()</script><SCRIPT src=x></SCRIPT>"
        '<p onclick="a()" onmouseover="b()" style="position:absolute;color:red">p</p>'
        '<a href="javascript:a()">j</a><a href="vbscript:a">v</a><img src="data:image/png,AA">'
        '<img src="https://tracker.example/p.gif"><td background="https://t.example/bg.png">'
        "<iframe src='https://x.example'></iframe><marquee>m</marquee><form><input></form>"
    )
    result = sanitize(html, inline_ids=set())
    assert_inert(result.html)
    assert result.changes == Counter(
        {
            ChangeType.SCRIPT: 2,
            ChangeType.EVENT_HANDLER: 2,
            ChangeType.STYLE_PROPERTY: 1,
            ChangeType.UNSAFE_URL: 3,
            ChangeType.REMOTE_RESOURCE: 1,  # the td background; the https image is allowed
            ChangeType.TAG: 4,
        }
    )


def test_clean_input_reports_no_changes() -> None:
    result = sanitize(
        '<p style="color:red">Hi <a href="https://a.example">a</a></p>', inline_ids=set()
    )
    assert result.changes == Counter()


def test_missing_inline_image_is_an_error_naming_the_cid() -> None:
    with pytest.raises(MissingInlineImage) as caught:
        sanitize('<img src="cid:logo"><img src="cid:chart%40x">', inline_ids={"logo"})
    assert isinstance(caught.value, ValueError)
    assert caught.value.content_ids == ("chart@x",)
    assert caught.value.content_id == "chart@x"
    assert "cid:chart@x" in str(caught.value)


def test_cid_in_a_link_counts_as_a_reference() -> None:
    with pytest.raises(MissingInlineImage):
        sanitize('<a href="CID:doc">doc</a>', inline_ids=set())
    result = sanitize('<a href="CID:doc">doc</a>', inline_ids={"doc"})
    assert result.cid_references == {"doc"}


def test_cid_removed_with_its_element_is_not_required() -> None:
    result = sanitize('<iframe src="cid:gone"></iframe><p>x</p>', inline_ids=set())
    assert result.cid_references == frozenset()


def test_unreferenced_inline_image_is_an_orphan(catalog) -> None:
    result = sanitize('<img src="cid:logo">', inline_ids={"logo", "unused", "also-unused"})
    assert result.cid_references == {"logo"}
    assert result.orphans == ("also-unused", "unused")
    assert result.reference_counts == {ReferenceResult.MATCHED: 1, ReferenceResult.ORPHAN: 2}
    assert set(result.reference_counts) == set(catalog["inline_references"].values["result"])


def _image_sources(result: Sanitized) -> list[str | None]:
    return [attrs.get("src") for tag, attrs in Tree(result.html).starts() if tag == "img"]


REMOTE = (
    '<img src="https://cdn.relay.example/a.png">'
    '<img src="http://cdn.relay.example/b.png">'
    '<img src="https://cdn.relay.example@evil.example/c.png">'
    '<img src="https://evil.example/d.png">'
    '<img src="https://evil.example\\@cdn.relay.example/f.png">'
    '<img src="//cdn.relay.example/e.png">'
    '<a href="https://evil.example/page">links stay</a>'
)


def test_remote_images_none_loaded_when_blocked() -> None:
    result = sanitize(REMOTE, inline_ids=set(), allow_remote_images=False)
    assert _image_sources(result) == [None] * 6
    assert result.changes == Counter(
        {ChangeType.REMOTE_RESOURCE: 5, ChangeType.UNSAFE_URL: 1}  # the scheme-relative one
    )
    assert 'href="https://evil.example/page"' in result.html


def test_remote_images_from_allowed_hosts_are_kept_over_https_only() -> None:
    result = sanitize(
        REMOTE,
        inline_ids=set(),
        allow_remote_images=False,
        allowed_remote_hosts=frozenset({"CDN.relay.example"}),
    )
    assert _image_sources(result) == ["https://cdn.relay.example/a.png", *[None] * 5]
    assert result.changes[ChangeType.REMOTE_RESOURCE] == 4


def test_remote_https_images_load_by_default_and_http_never() -> None:
    result = sanitize(REMOTE, inline_ids=set())
    assert _image_sources(result)[:4] == [
        "https://cdn.relay.example/a.png",
        None,  # plain http: anyone on the way could swap it
        None,  # user information before the host: refused in every mode
        "https://evil.example/d.png",
    ]
    assert result.changes[ChangeType.REMOTE_RESOURCE] == 3  # http, @ and backslash hosts


def test_cite_urls_are_checked_too() -> None:
    result = sanitize('<blockquote cite="javascript:alert(1)">q</blockquote>', inline_ids=set())
    assert result.html == "<blockquote>q</blockquote>"
    assert result.changes == Counter({ChangeType.UNSAFE_URL: 1})


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        (
            '<noscript><p onclick="x">a</p></noscript><textarea><img src="javascript:x">'
            "</textarea>",
            {ChangeType.TAG: 2},
        ),
        ("<xmp><img src=x onerror=alert(1)></xmp>", {ChangeType.TAG: 1}),
        ("<textarea><script>alert(1)</script></textarea>", {ChangeType.TAG: 1}),
        ("<!--><script>alert(1)</script>-->", {ChangeType.SCRIPT: 1}),
    ],
)
def test_changes_are_counted_as_a_browser_tokenizes(html: str, expected: dict) -> None:
    """Counts where the scan differs from html.parser, which they used to come from: the text of
    raw-text elements is no markup (html.parser counted the tags, handlers and URLs in it), and
    `<!-->` is a whole comment (html.parser read on to `-->` and missed the script)."""
    result = sanitize(html, inline_ids=set())
    assert_inert(result.html)
    assert result.changes == Counter(expected)


def test_cid_look_alikes_outside_attributes_are_not_references() -> None:
    html = '<p title="<img src=&quot;cid:a&quot;>">src="cid:b"</p><img alt=\'x" src="cid:c\'>'
    result = sanitize(html + '<img src="cid:logo">', inline_ids={"logo"})
    assert result.cid_references == {"logo"}


def test_concurrent_sanitizing_shares_the_cleaner_safely() -> None:
    """One nh3 Cleaner serves every thread; callers on a thread pool get what they would alone."""
    documents = [*VECTORS, NEWSLETTER, '<a href="#top">x</a><a href="rel/path">y</a>'] * 3

    def clean(html: str) -> str:
        try:
            return sanitize(html, inline_ids=NEWSLETTER_IDS).html
        except MissingInlineImage as exc:
            return str(exc)

    alone = [clean(html) for html in documents]
    with ThreadPoolExecutor(max_workers=8) as pool:
        assert list(pool.map(clean, documents)) == alone
