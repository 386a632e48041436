"""Sanitize outgoing HTML for email with nh3 (ammonia) and account for what was removed.

nh3 parses, drops tags, attributes and URL schemes outside the allow-lists and writes the HTML
back. It keeps what email needs for its looks: `<style>` blocks, `class` and `id` (so in-message
`#anchor` links keep working), inline styles, `cid:` images and, by the provider's
`send.remote_images` setting, https images. The CSS of style blocks and attributes is then
filtered on tinycss2's tokens (relayops.adapters.css_policy), and the URL policy applied to the
attributes of nh3's output. nh3 does not report what it removed, so a scan of the start tags in
the input (html_scan) counts attribute and tag changes with the same rules, and the CSS filter
counts its own. The counts are approximate where that scan and html5ever read malformed markup
differently; the clean HTML is always what nh3 and the policy passes let through.
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from copy import deepcopy
from dataclasses import dataclass, field
from enum import StrEnum
from html import unescape
from typing import Any
from urllib.parse import unquote, urlsplit

import nh3

from relayops.adapters import css_policy
from relayops.adapters.css_policy import ChangeType, CssVerdict
from relayops.adapters.html_scan import parse_start_tag, start_tags


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
        "style",  # its CSS is filtered by css_policy
    }
)
# Dropped with their text, which would otherwise show up in the message body.
CONTENT_TAGS = frozenset(
    {"script", "title", "noscript", "template", "iframe", "object", "applet"}
    | {"noembed", "noframes", "xmp"}
)
# Document structure that fragment parsing drops anyway; not worth counting.
_STRUCTURE_TAGS = frozenset({"html", "head", "body"})
_EXTRA_ATTRIBUTES: dict[str, set[str]] = {
    "*": {
        "style",
        "class",
        "id",
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


@dataclass(frozen=True)
class _Policy:
    """Which https images may load: all of them, or those of `allowed_remote_hosts` (none when
    empty). Plain http never loads: a network on the way could swap the image."""

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

    def css_url_change(self, raw: str) -> ChangeType | None:
        """The change removing a CSS url(), or None: cid: images, and https images as above."""
        url = _normal_url(raw)
        scheme = _scheme(css_policy.normal(url))
        if scheme == "cid":
            return None
        if scheme in _REMOTE_SCHEMES:
            return None if self.remote_allowed(url) else ChangeType.REMOTE_RESOURCE
        return ChangeType.UNSAFE_URL

    def remote_allowed(self, url: str) -> bool:
        try:
            parts = urlsplit(url)
        except ValueError:
            return False
        if parts.scheme.lower() != "https" or "\\" in url or "@" in parts.netloc:
            return False  # browsers and urlsplit disagree on the host of the latter two
        return self.allow_remote_images or parts.hostname in self.allowed_remote_hosts


_UNDECIDED: Any = object()


@dataclass
class _Decisions:
    """The policy's verdict on each distinct style and URL, for the nh3 hook and the audit alike.

    Email repeats the same styles and links many times over; each is decided once per message.
    """

    policy: _Policy
    styles: dict[str, CssVerdict] = field(default_factory=dict)
    urls: dict[tuple[str, str], ChangeType | None] = field(default_factory=dict)

    def style(self, value: str) -> CssVerdict:
        """The style attribute as kept ("" for none), what was removed, the cids it uses.

        A style with nothing to remove is kept as written."""
        verdict = self.styles.get(value)
        if verdict is None:
            verdict = css_policy.filter_declarations(value, self.policy.css_url_change)
            self.styles[value] = verdict
        return verdict

    def url_change(self, attr: str, value: str) -> ChangeType | None:
        change = self.urls.get((attr, value), _UNDECIDED)
        if change is _UNDECIDED:
            change = self.urls[attr, value] = self.policy.url_change(attr, value)
        return change

    def kept_value(self, attr: str, value: str) -> str | None:
        """A style or URL attribute's value as kept, None when it is dropped: unsafe URLs,
        blocked remote images and unsafe CSS declarations go."""
        if attr == "style":
            return self.style(value).text or None
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


# No filter_style_properties: nh3 would rewrite the style attribute before the policy below
# reads it (dropping `COLOR:` as unknown, cutting `expression(f(1))` short). The CSS policy
# parses the style as written and keeps only allowed properties with safe values.
_CLEANER = nh3.Cleaner(
    tags=TAGS,
    clean_content_tags=CONTENT_TAGS,
    attributes=_attributes(),
    url_schemes=URL_SCHEMES,
    url_relative=_keep_fragment_links,
)
# nh3 lets go of the GIL while html5ever parses and cleans, so a worker thread audits the input
# meanwhile; the caller's thread runs nh3 itself, so the worker's wake-up is not on the way. The
# style and URL policy is applied to nh3's output afterwards (_apply_policy), not through an
# attribute_filter hook, which would take the GIL back for every attribute and wait each time
# for the audit to let go of it.
_AUDITOR = ThreadPoolExecutor(thread_name_prefix="sanitize-audit")


def _audit(html: str, decisions: _Decisions) -> Counter[ChangeType]:
    """Counts, over the input, what the nh3 configuration above removes."""
    changes: Counter[ChangeType] = Counter()
    for source, count in start_tags(html).items():
        tag, attributes = parse_start_tag(source)
        changes[ChangeType.EVENT_HANDLER] += count * sum(n.startswith("on") for n in attributes)
        if tag == "script":
            changes[ChangeType.SCRIPT] += count
        elif tag not in TAGS:
            if tag not in _STRUCTURE_TAGS:
                changes[ChangeType.TAG] += count
        else:
            for name, value in attributes.items():
                if name == "style":
                    for change, removed in decisions.style(value).changes.items():
                        changes[change] += count * removed
                elif name in _AUDITED_URL_ATTRIBUTES:
                    change = _removed_url(name, value, decisions)
                    if change is not None:
                        changes[change] += count
    return +changes


def _removed_url(name: str, value: str, decisions: _Decisions) -> ChangeType | None:
    url = _normal_url(value)
    if not url:
        return None
    change = decisions.url_change(name, value)
    if change is None and name not in _URL_ATTRIBUTES and _scheme(url) in _REMOTE_SCHEMES:
        return ChangeType.REMOTE_RESOURCE  # e.g. <td background>, never kept even when allowed
    return change


# html5ever, which writes nh3's output, writes a start tag as `<name`, ` attr="value"` for each
# attribute, then `>`. It escapes `"`, `<` and `>` in attribute values and `<` in text, so every
# `<` starts a tag, a tag ends at the first `>` and a tag's text occurs nowhere else. This finds
# every start tag with anything after its name; one not in that form is refused.
_TAG_WITH_ATTRIBUTES = re.compile(r"<[a-zA-Z][^\s/>]*[\s/][^>]*>?")
_READABLE_TAG = re.compile(r'<([a-z][a-z0-9]*)((?: [a-z][a-z0-9:-]*="[^"]*")+)>')
_ATTRIBUTE = re.compile(r' ([a-z][a-z0-9:-]*)="([^"]*)"')
_POLICED_ATTRIBUTES = _URL_ATTRIBUTES | {"style"}
_ATTRIBUTE_ESCAPES = str.maketrans(
    {"&": "&amp;", "\u00a0": "&nbsp;", '"': "&quot;", "<": "&lt;", ">": "&gt;"}
)


class UnexpectedMarkup(ValueError):
    """nh3's output has a start tag that the policy pass cannot read, so the HTML is refused
    rather than sent with that tag unchecked."""


def _apply_policy(clean: str, decisions: _Decisions) -> tuple[str, set[str]]:
    """nh3's output with the style and URL policy applied to each attribute, and the content ids
    its href and src attributes reference.

    Email repeats the same tags many times over: each distinct tag is read once, and the output
    is rewritten only where a tag changes, which ordinary email never needs.
    """
    references: set[str] = set()
    rewritten: dict[str, str] = {}
    for tag in set(_TAG_WITH_ATTRIBUTES.findall(clean)):
        readable = _READABLE_TAG.fullmatch(tag)
        if readable is None:
            raise UnexpectedMarkup(
                f"the sanitizer cannot check the tag {tag[:80]!r} it produced; the message was not"
                " sent: simplify the markup around that tag"
            )
        name, attributes = readable.groups()
        kept = f"<{name}{_kept_attributes(attributes, decisions, references)}>"
        if kept != tag:
            rewritten[tag] = kept
    if rewritten:
        clean = _TAG_WITH_ATTRIBUTES.sub(lambda tag: rewritten.get(tag[0], tag[0]), clean)
    return clean, references


def _kept_attributes(attributes: str, decisions: _Decisions, references: set[str]) -> str:
    """The tag's attributes as kept, `rel` last. nh3 drops any rel it is given and adds its
    own, last, except where it dropped a relative href: there rel takes the href's place, and
    cleaning the output again would move it, so clean output would not be a fixed point."""
    kept, rel = [], []
    for name, written in _ATTRIBUTE.findall(attributes):
        if name == "rel":
            rel.append(f' rel="{written}"')
            continue
        if name in _POLICED_ATTRIBUTES:
            value = unescape(written)
            policed = decisions.kept_value(name, value)
            if policed is None:
                continue
            if name == "style":
                references |= decisions.style(value).references
            if name in ("href", "src"):
                url = _normal_url(policed)
                if _scheme(url) == "cid":
                    references.add(unquote(url[len("cid:") :]))
            if policed != value:
                written = policed.translate(_ATTRIBUTE_ESCAPES)
        kept.append(f' {name}="{written}"')
    return "".join(kept + rel)


# html5ever writes a style element's text raw, and that text cannot hold `</style`: the first
# `</style>` after a `<style` start tag closes it.
_STYLE_BLOCK = re.compile(r"(<style(?: [^>]*)?>)(.*?)</style>", re.DOTALL)


@functools.lru_cache(maxsize=256)
def _filtered_stylesheet(css: str, policy: _Policy) -> css_policy.CssVerdict:
    """Templates repeat their style blocks from message to message: each is filtered once."""
    return css_policy.filter_stylesheet(css, policy.css_url_change)


def _filter_style_blocks(clean: str, policy: _Policy) -> tuple[str, Counter[ChangeType], set[str]]:
    """nh3's output with the CSS of every style block filtered (an empty block dropped), the
    changes that made, and the cid: images the kept CSS references."""
    changes: Counter[ChangeType] = Counter()
    references: set[str] = set()

    def filtered(block: re.Match[str]) -> str:
        verdict = _filtered_stylesheet(block[2], policy)
        changes.update(verdict.changes)
        references.update(verdict.references)
        return f"{block[1]}{verdict.text}</style>" if verdict.text else ""

    if "<style" not in clean:
        return clean, changes, references
    return _STYLE_BLOCK.sub(filtered, clean), changes, references


def sanitize(
    html: str,
    *,
    inline_ids: set[str],
    allow_remote_images: bool = True,
    allowed_remote_hosts: frozenset[str] = frozenset(),
) -> Sanitized:
    """Clean `html` for email; raise MissingInlineImage for a cid: no inline image matches.

    Remote images load over https only: all of them by default, or with `allow_remote_images`
    False only those of `allowed_remote_hosts` (none when it is empty)."""
    policy = _Policy(allow_remote_images, frozenset(h.lower() for h in allowed_remote_hosts))
    decisions = _Decisions(policy)
    audit = _AUDITOR.submit(_audit, html, decisions)
    cleaned = _CLEANER.clean(html)
    changes = audit.result()
    cleaned, block_changes, block_references = _filter_style_blocks(cleaned, policy)
    changes.update(block_changes)
    clean, references = _apply_policy(cleaned, decisions)
    references |= block_references
    missing = tuple(sorted(references - inline_ids))
    if missing:
        raise MissingInlineImage(missing)
    return Sanitized(
        html=clean,
        changes=changes,
        cid_references=frozenset(references),
        orphans=tuple(sorted(inline_ids - references)),
    )
