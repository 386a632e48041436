"""Which CSS an email may keep, judged on tokens from a real CSS parser (tinycss2).

Email keeps its looks through CSS: inline `style` attributes, and `<style>` blocks with classes
and media queries (responsive layouts, dark mode). A declaration is kept when its property is
on the allow-list (or an Outlook `mso-` property), every function in its value is a known
harmless one, and every `url()` is a `cid:` image or an https image the remote-image policy
allows. Everything is judged after the parser has decoded CSS escapes and after NFKC
normalisation, so `\\65xpression(`, a full-width `expression(` and `be\\havior` are seen as
what a browser sees. `@import`, `@font-face` and every at-rule but `@media` and `@supports` go.
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from urllib.parse import unquote

import tinycss2
from tinycss2 import ast


class ChangeType(StrEnum):
    """Values of the `change` label of the `sanitize_changes` counter in specs/service.yaml."""

    SCRIPT = "script_removed"
    EVENT_HANDLER = "event_handler_removed"
    UNSAFE_URL = "unsafe_url_removed"
    STYLE_PROPERTY = "style_property_removed"
    REMOTE_RESOURCE = "remote_resource_removed"
    TAG = "tag_removed"


_SIDES = ("", "-top", "-right", "-bottom", "-left")
STYLE_PROPERTIES = frozenset(
    {
        *("color", "background-color", "width", "height", "min-width", "max-width"),
        *("min-height", "max-height", "line-height", "vertical-align", "display"),
        *("font", "font-family", "font-size", "font-style", "font-weight", "font-variant"),
        *("text-align", "text-decoration", "text-transform", "text-indent", "white-space"),
        *("letter-spacing", "word-spacing", "word-break", "word-wrap", "overflow-wrap"),
        *("border-collapse", "border-spacing", "border-radius", "table-layout"),
        *("list-style", "list-style-type", "list-style-position", "direction"),
        *("background", "background-image", "background-repeat", "background-position"),
        *("background-size", "float", "clear", "overflow", "box-sizing", "text-overflow"),
        *("opacity", "text-shadow", "box-shadow", "caption-side", "empty-cells"),
        *("-webkit-text-size-adjust", "-ms-text-size-adjust", "color-scheme"),
        "supported-color-schemes",
        *(f"margin{side}" for side in _SIDES),
        *(f"padding{side}" for side in _SIDES),
        *(f"border{side}{part}" for side in _SIDES for part in ("", "-color", "-style", "-width")),
        *(f"border-{y}-{x}-radius" for y in ("top", "bottom") for x in ("left", "right")),
    }
)
# Functions that compute a colour, a length or a gradient; url() is judged on its own.
SAFE_FUNCTIONS = frozenset(
    {"rgb", "rgba", "hsl", "hsla", "calc", "min", "max", "clamp", "linear-gradient"}
    | {"radial-gradient", "url"}
)
# Words that mean script or a binding in some client, whatever the property.
_SCRIPT_WORDS = frozenset({"expression", "javascript", "vbscript", "behavior", "-moz-binding"})
_NESTED_AT_RULES = frozenset({"media", "supports"})

UrlJudge = Callable[[str], "ChangeType | None"]


def normal(text: str) -> str:
    """What a browser compares: NFKC (full-width letters fold to ASCII), lower case."""
    return unicodedata.normalize("NFKC", text).lower()


@dataclass
class CssVerdict:
    """CSS as kept, what was removed, and the cid: images it references."""

    text: str
    changes: Counter[ChangeType] = field(default_factory=Counter)
    references: set[str] = field(default_factory=set)


def _walk(tokens: Iterable[ast.Node]) -> Iterator[ast.Node]:
    for token in tokens:
        yield token
        if isinstance(token, ast.FunctionBlock):
            yield from _walk(token.arguments)
        elif isinstance(
            token, ast.ParenthesesBlock | ast.SquareBracketsBlock | ast.CurlyBracketsBlock
        ):
            yield from _walk(token.content)


def _url_of(token: ast.Node) -> str | None:
    if isinstance(token, ast.URLToken):
        return token.value
    if isinstance(token, ast.FunctionBlock) and normal(token.lower_name) == "url":
        strings = [t.value for t in token.arguments if isinstance(t, ast.StringToken)]
        return strings[0] if strings else ""
    return None


def judge_declaration(
    declaration: ast.Declaration, judge_url: UrlJudge, references: set[str]
) -> ChangeType | None:
    """Why the declaration goes (None: it stays); cid: references it keeps go in `references`."""
    name = normal(declaration.lower_name)
    if name not in STYLE_PROPERTIES and not name.startswith("mso-"):
        return ChangeType.STYLE_PROPERTY
    cids = set()
    for token in _walk(declaration.value):
        url = _url_of(token)
        if url is not None:
            change = judge_url(url)
            if change is not None:
                return change
            if normal(url.strip()).startswith("cid:"):
                cids.add(unquote(url.strip()[len("cid:") :]))
            continue
        if isinstance(token, ast.FunctionBlock) and normal(token.lower_name) not in SAFE_FUNCTIONS:
            return ChangeType.STYLE_PROPERTY
        if isinstance(token, ast.IdentToken | ast.StringToken) and any(
            word in normal(token.value) for word in _SCRIPT_WORDS
        ):
            return ChangeType.STYLE_PROPERTY
        if isinstance(token, ast.ParseError):
            return ChangeType.STYLE_PROPERTY
    references |= cids
    return None


def _serialize(declaration: ast.Declaration) -> str:
    important = " !important" if declaration.important else ""
    return f"{declaration.name}:{tinycss2.serialize(declaration.value).strip()}{important}"


def filter_declarations(text: str, judge_url: UrlJudge) -> CssVerdict:
    """A style attribute's declarations as kept ("" when none), and what was removed. Text
    with nothing to remove is kept exactly as written."""
    verdict = CssVerdict("")
    kept = _block(text, judge_url, verdict)
    verdict.text = text if not verdict.changes else kept
    return verdict


def filter_stylesheet(text: str, judge_url: UrlJudge) -> CssVerdict:
    """A `<style>` block's rules as kept, serialised with every `<` escaped so the text can
    never close its element, and what was removed."""
    verdict = CssVerdict("")
    rules = tinycss2.parse_stylesheet(text, skip_comments=True, skip_whitespace=True)
    verdict.text = _rules(rules, judge_url, verdict).replace("<", "\\3c ")
    return verdict


def _rules(rules: Iterable[ast.Node], judge_url: UrlJudge, verdict: CssVerdict) -> str:
    kept = []
    for rule in rules:
        if isinstance(rule, ast.QualifiedRule):
            declarations = _block(rule.content, judge_url, verdict)
            prelude = tinycss2.serialize(rule.prelude).strip()
            if declarations and _prelude_is_plain(rule.prelude):
                kept.append(f"{prelude}{{{declarations}}}")
            elif declarations:
                verdict.changes[ChangeType.STYLE_PROPERTY] += 1
        elif isinstance(rule, ast.AtRule) and normal(rule.lower_at_keyword) in _NESTED_AT_RULES:
            inner = tinycss2.parse_rule_list(
                rule.content or [], skip_comments=True, skip_whitespace=True
            )
            body = _rules(inner, judge_url, verdict)
            if body and _prelude_is_plain(rule.prelude):
                prelude = tinycss2.serialize(rule.prelude).strip()
                kept.append(f"@{rule.at_keyword} {prelude}{{{body}}}")
        elif isinstance(rule, ast.AtRule):
            imports = normal(rule.lower_at_keyword) in ("import", "font-face")
            verdict.changes[
                ChangeType.REMOTE_RESOURCE if imports else ChangeType.STYLE_PROPERTY
            ] += 1
        else:
            verdict.changes[ChangeType.STYLE_PROPERTY] += 1  # a parse error
    return "".join(kept)


def _block(content: str | list[ast.Node] | None, judge_url: UrlJudge, verdict: CssVerdict) -> str:
    """The declarations of a style attribute or a rule's block as kept, `;`-joined; a stray
    rule or parse error among them counts as a removed property."""
    kept = []
    items = tinycss2.parse_blocks_contents(content or [], skip_comments=True, skip_whitespace=True)
    for item in items:
        if isinstance(item, ast.Declaration):
            change = judge_declaration(item, judge_url, verdict.references)
            if change is None:
                kept.append(_serialize(item))
            else:
                verdict.changes[change] += 1
        else:
            verdict.changes[ChangeType.STYLE_PROPERTY] += 1
    return ";".join(kept)


def _prelude_is_plain(prelude: list[ast.Node]) -> bool:
    """A selector or media query holds no function but the harmless ones and no url()."""
    for token in _walk(prelude):
        if _url_of(token) is not None:
            return False
        if isinstance(token, ast.FunctionBlock) and normal(token.lower_name) not in {
            "not",
            "is",
            "where",
            "nth-child",
            "nth-of-type",
            "nth-last-child",
            "lang",
        }:
            return False
    return True
