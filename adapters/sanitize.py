"""Sanitize outgoing HTML for email with nh3 (ammonia) and account for what was removed.

nh3 does not report what it removed, so an html.parser pass over the input counts the changes by
type, using the same URL and CSS rules that the nh3 filters enforce. The counts are approximate
where html.parser and ammonia's html5ever parse malformed markup differently; the clean HTML is
always nh3's.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from copy import deepcopy
from dataclasses import dataclass
from enum import StrEnum
from html.parser import HTMLParser
from urllib.parse import unquote, urlsplit

import nh3


class ChangeType(StrEnum):
    """Values of the `change` label of the `sanitize_changes` counter in specs/service.yaml."""

    SCRIPT = "script_removed"
    EVENT_HANDLER = "event_handler_removed"
    UNSAFE_URL = "unsafe_url_removed"
    STYLE_PROPERTY = "style_property_removed"
    REMOTE_RESOURCE = "remote_resource_removed"
    TAG = "tag_removed"


class ReferenceResult(StrEnum):
    """Values of the `result` label of the `inline_references` counter."""

    MATCHED = "matched"
    ORPHAN = "orphan"


class MissingInlineImage(ValueError):
    """The HTML references cid: content ids for which no inline image was given."""

    def __init__(self, content_ids: tuple[str, ...]) -> None:
        self.content_ids = content_ids
        self.content_id = content_ids[0]
        named = ", ".join(f"cid:{cid}" for cid in content_ids)
        super().__init__(f"the HTML references {named} but no inline image has that content id")


@dataclass(frozen=True)
class Sanitized:
    html: str
    changes: Counter[ChangeType]
    cid_references: frozenset[str]  # content ids the clean HTML references, all matched
    orphans: tuple[str, ...]  # inline images never referenced: send them as attachments

    @property
    def reference_counts(self) -> dict[ReferenceResult, int]:
        return {
            ReferenceResult.MATCHED: len(self.cid_references),
            ReferenceResult.ORPHAN: len(self.orphans),
        }


TAGS = frozenset(
    {
        *("table", "caption", "colgroup", "col", "thead", "tbody", "tfoot", "tr", "td", "th"),
        *("p", "div", "span", "a", "img", "br", "hr", "center", "font", "blockquote"),
        *("b", "strong", "i", "em", "u", "s", "strike", "small", "big", "sub", "sup", "tt"),
        *("h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "li", "dl", "dt", "dd"),
        *("pre", "code", "kbd", "samp", "var", "abbr", "cite", "q", "del", "ins", "mark"),
    }
)
# Dropped with their text, which would otherwise show up in the message body.
CONTENT_TAGS = frozenset(
    {"script", "style", "title", "noscript", "template", "iframe", "object", "applet"}
    | {"noembed", "noframes", "xmp"}
)
# Document structure that fragment parsing drops anyway; not worth counting.
_STRUCTURE_TAGS = frozenset({"html", "head", "body"})
_EXTRA_ATTRIBUTES: dict[str, set[str]] = {
    "*": {
        "style",
        "align",
        "valign",
        "width",
        "height",
        "bgcolor",
        "border",
        "title",
        "dir",
        "lang",
    },
    "a": {"href", "name", "target"},
    "img": {"src", "alt", "hspace", "vspace"},
    "table": {"cellpadding", "cellspacing", "role"},
    "td": {"colspan", "rowspan", "nowrap"},
    "th": {"colspan", "rowspan", "nowrap"},
    "font": {"color", "face", "size"},
    "hr": {"noshade", "color"},
    "ol": {"type"},
    "ul": {"type"},
    "li": {"value", "type"},
}
URL_SCHEMES = frozenset({"cid", "http", "https", "mailto"})
_REMOTE_SCHEMES = frozenset({"http", "https"})
_SIDES = ("", "-top", "-right", "-bottom", "-left")
STYLE_PROPERTIES = frozenset(
    {
        *("color", "background-color", "width", "height", "min-width", "max-width"),
        *("min-height", "max-height", "line-height", "vertical-align", "display"),
        *("font", "font-family", "font-size", "font-style", "font-weight", "font-variant"),
        *("text-align", "text-decoration", "text-transform", "text-indent", "white-space"),
        *("letter-spacing", "word-spacing", "word-break", "word-wrap", "overflow-wrap"),
        *("border-collapse", "border-spacing", "border-radius", "table-layout"),
        *("list-style-type", "list-style-position", "direction"),
        *(f"margin{side}" for side in _SIDES),
        *(f"padding{side}" for side in _SIDES),
        *(f"border{side}{part}" for side in _SIDES for part in ("", "-color", "-style", "-width")),
    }
)
# Values that load resources or run code in some client, whatever the property.
_UNSAFE_CSS_VALUE = re.compile(r"url\(|expression|javascript:|vbscript:|[\\<]|/\*", re.IGNORECASE)
# Attributes whose value is a URL, kept or not; the ones that load a resource on display.
_URL_ATTRIBUTES = frozenset({"href", "src", "action", "formaction", "xlink:href", "cite"})
_RESOURCE_ATTRIBUTES = frozenset({"src", "background", "poster", "lowsrc", "dynsrc", "srcset"})
_AUDITED_URL_ATTRIBUTES = _URL_ATTRIBUTES | _RESOURCE_ATTRIBUTES
_C0_AND_SPACE = "".join(map(chr, range(0x21)))
_SCHEME = re.compile(r"([a-z][a-z0-9+.-]*):")


def _normal_url(value: str) -> str:
    """The URL a browser sees: tabs and newlines removed, controls and spaces trimmed."""
    return re.sub(r"[\t\n\r]", "", value).strip(_C0_AND_SPACE)


def _scheme(url: str) -> str | None:
    found = _SCHEME.match(url.lower())
    return found.group(1) if found else None


def css_declarations(style: str) -> Iterator[tuple[str, str]]:
    """(property, value) pairs of a style attribute; `;` inside quotes or brackets is kept."""
    depth, quote, start = 0, "", 0
    for i, char in enumerate(style + ";"):
        if quote:
            quote = "" if char == quote else quote
        elif char in "\"'":
            quote = char
        elif char in "([":
            depth += 1
        elif char in ")]":
            depth = max(depth - 1, 0)
        elif char == ";" and depth == 0:
            name, colon, value = style[start:i].partition(":")
            if colon or name.strip():
                yield name.strip().lower(), value.strip()
            start = i + 1


def _safe_declaration(name: str, value: str) -> bool:
    return name in STYLE_PROPERTIES and not _UNSAFE_CSS_VALUE.search(value)


@dataclass(frozen=True)
class _Policy:
    allow_remote_images: bool
    allowed_remote_hosts: frozenset[str]

    def url_change(self, attr: str, raw: str) -> ChangeType | None:
        """The change removing this URL attribute counts as, or None when it is kept."""
        url = _normal_url(raw)
        if not url or url.startswith("#"):
            return None
        scheme = _scheme(url)
        if scheme not in URL_SCHEMES:
            return ChangeType.UNSAFE_URL
        if attr in _RESOURCE_ATTRIBUTES and scheme in _REMOTE_SCHEMES:
            return None if self.remote_allowed(url) else ChangeType.REMOTE_RESOURCE
        return None

    def remote_allowed(self, url: str) -> bool:
        if self.allow_remote_images:
            return True
        try:
            parts = urlsplit(url)
        except ValueError:
            return False
        if "\\" in url or "@" in parts.netloc:
            return False  # browsers and urlsplit disagree on the host of these
        return parts.hostname in self.allowed_remote_hosts

    def attribute_filter(self, tag: str, attr: str, value: str) -> str | None:
        """nh3 hook: drop unsafe URLs, blocked remote images and unsafe CSS declarations."""
        if attr == "style":
            kept = [f"{n}:{v}" for n, v in css_declarations(value) if _safe_declaration(n, v)]
            return ";".join(kept) or None
        if attr in _URL_ATTRIBUTES and self.url_change(attr, value) is not None:
            return None  # nh3 does not check the scheme of every URL attribute, e.g. cite
        return value


def _keep_fragment_links(url: str) -> str | None:
    """Relative URLs mean nothing in a mail client; only in-message #anchors are kept."""
    return url if url.startswith("#") else None


def _attributes() -> dict[str, set[str]]:
    attributes = {
        tag: set(names) for tag, names in deepcopy(nh3.ALLOWED_ATTRIBUTES).items() if tag in TAGS
    }
    for tag, names in _EXTRA_ATTRIBUTES.items():
        attributes.setdefault(tag, set()).update(names)
    return attributes


class _Audit(HTMLParser):
    """Counts, over the input, what the nh3 configuration above removes."""

    def __init__(self, policy: _Policy) -> None:
        super().__init__(convert_charrefs=True)
        self.policy = policy
        self.changes: Counter[ChangeType] = Counter()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        handlers = sum(1 for name, _ in attrs if name.startswith("on"))
        self.changes[ChangeType.EVENT_HANDLER] += handlers
        if tag == "script":
            self.changes[ChangeType.SCRIPT] += 1
        elif tag not in TAGS:
            if tag not in _STRUCTURE_TAGS:
                self.changes[ChangeType.TAG] += 1
        else:
            for name, value in attrs:
                self._attribute(name, value or "")

    def _attribute(self, name: str, value: str) -> None:
        if name == "style":
            removed = sum(1 for n, v in css_declarations(value) if not _safe_declaration(n, v))
            self.changes[ChangeType.STYLE_PROPERTY] += removed
        elif name in _AUDITED_URL_ATTRIBUTES and _normal_url(value):
            change = self.policy.url_change(name, value)
            never_kept = name not in _URL_ATTRIBUTES  # e.g. <td background>, even when allowed
            if change is None and never_kept and _scheme(_normal_url(value)) in _REMOTE_SCHEMES:
                change = ChangeType.REMOTE_RESOURCE
            if change is not None:
                self.changes[change] += 1


class _CidCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.content_ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            url = _normal_url(value or "")
            if name in ("href", "src") and _scheme(url) == "cid":
                self.content_ids.add(unquote(url[len("cid:") :]))


def _parse(parser: HTMLParser, html: str) -> None:
    parser.feed(html)
    parser.close()


def sanitize(
    html: str,
    *,
    inline_ids: set[str],
    allow_remote_images: bool = False,
    allowed_remote_hosts: frozenset[str] = frozenset(),
) -> Sanitized:
    """Clean `html` for email; raise MissingInlineImage for a cid: no inline image matches."""
    policy = _Policy(allow_remote_images, frozenset(h.lower() for h in allowed_remote_hosts))
    clean = nh3.clean(
        html,
        tags=set(TAGS),
        clean_content_tags=set(CONTENT_TAGS),
        attributes=_attributes(),
        attribute_filter=policy.attribute_filter,
        url_schemes=set(URL_SCHEMES),
        filter_style_properties=set(STYLE_PROPERTIES),
        url_relative=_keep_fragment_links,
    )
    audit = _Audit(policy)
    _parse(audit, html)
    collector = _CidCollector()
    _parse(collector, clean)
    missing = tuple(sorted(collector.content_ids - inline_ids))
    if missing:
        raise MissingInlineImage(missing)
    return Sanitized(
        html=clean,
        changes=+audit.changes,
        cid_references=frozenset(collector.content_ids),
        orphans=tuple(sorted(inline_ids - collector.content_ids)),
    )
