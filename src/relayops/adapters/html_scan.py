"""A fast scan of the start tags in HTML, tokenized roughly as a browser would.

Regular expressions stand in for html.parser: comments, doctypes, end tags and the content of
raw-text elements (script, style, ...) are skipped, and an unclosed quote or comment runs to the
end of the input, as in a browser; a tag cut off by the end still counts. No tree is built, so
misnested or foreign (SVG, MathML) content may be read differently from a browser: good enough
for counting, never for deciding what is safe.
"""

from __future__ import annotations

import re
from collections import Counter
from html import unescape

_S = r"\t\n\f\r "  # HTML whitespace
# Attributes as the tokenizer splits them: `/` separates like whitespace, a name may start with
# `=`, a quoted value may hold `>`. Possessive, so a scan never backtracks.
_ATTRIBUTES = (
    rf"(?:[{_S}/]*+[^{_S}/>][^{_S}/>=]*+"
    rf"(?:[{_S}]*+=[{_S}]*+(?:\"[^\"]*+\"?|'[^']*+'?|[^{_S}>]*+))?+)*+[{_S}/]*+(?:>|\Z)"
)
# Their text is not markup: a `<p onclick>` inside <script> is no tag.
_RAW_TEXT = ("script", "style", "xmp", "iframe", "noembed", "noframes", "noscript", "title")
_RAW_TEXT_ELEMENTS = "|".join(
    rf"(?i:{name})(?=[{_S}/>]|\Z){_ATTRIBUTES}.*?(?=</(?i:{name})[{_S}/>]|\Z)"
    for name in (*_RAW_TEXT, "textarea")
)
# Each match is a start tag (with the text of a raw-text element after it) or markup to skip.
_TOKEN = re.compile(
    r"<(?:!--(?:-?>|.*?(?:--!?>|\Z))"  # comment; `<!-->` is a whole one
    r"|[!?][^>]*+>?"  # doctype, CDATA, processing instruction: bogus comments
    rf"|/(?:[a-zA-Z][^{_S}/>]*+(?=[{_S}/]){_ATTRIBUTES}|(?![a-zA-Z])[^>]*+>?)"  # end tag
    rf"|{_RAW_TEXT_ELEMENTS}"
    rf"|[a-zA-Z][^{_S}/>]*+{_ATTRIBUTES})",
    re.DOTALL,
)
_START_TAG = re.compile(rf"<([^{_S}/>]+)({_ATTRIBUTES})")
_ATTRIBUTE = re.compile(
    rf"[{_S}/]*([^{_S}/>][^{_S}/>=]*)(?:[{_S}]*=[{_S}]*(?:\"([^\"]*)\"?|'([^']*)'?|([^{_S}>]*)))?"
)


def start_tags(html: str) -> Counter[str]:
    """The source text of each start tag, `<` to `>`, with how often it occurs.

    Email repeats the same tags many times over, so a caller parses each distinct one once. The
    text of a raw-text element (script, style, ...) follows its start tag.
    """
    found = Counter(_TOKEN.findall(html))
    for skipped in [token for token in found if token[1] in "!?/"]:
        del found[skipped]
    return found


def parse_start_tag(source: str) -> tuple[str, dict[str, str]]:
    """The lowercased tag name and attributes of a start tag from start_tags.

    Values have their character references decoded; of repeated attributes the first counts.
    """
    tag = _START_TAG.match(source)
    if tag is None:
        raise ValueError(f"not a start tag: {source[:40]!r}")
    attributes: dict[str, str] = {}
    for attribute, *quoted in _ATTRIBUTE.findall(tag.group(2)):
        value = "".join(quoted)
        attributes.setdefault(attribute.lower(), unescape(value) if "&" in value else value)
    return tag.group(1).lower(), attributes
