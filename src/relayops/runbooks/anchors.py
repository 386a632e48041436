"""GitHub-style heading anchors and relative links of rendered Markdown."""

from __future__ import annotations

import re

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_HEADING = re.compile(r"^ {0,3}#{1,6}[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$")
_LINK = re.compile(r"\[([^\]]*)\]\(([^)\s]*)\)")
_NOT_SLUG = re.compile(r"[^\w\- ]")


def github_anchor(heading: str) -> str:
    """The id GitHub gives a heading: link text kept, markup and punctuation dropped."""
    text = _LINK.sub(r"\1", heading).replace("`", "").replace("*", "")
    return _NOT_SLUG.sub("", text.strip().lower()).replace(" ", "-")


def _outside_fences(markdown: str) -> list[str]:
    """Lines that are not inside fenced code blocks (PromQL comments look like headings)."""
    lines, fence = [], ""
    for line in markdown.splitlines():
        opening = _FENCE.match(line)
        if fence:
            if opening and opening.group(1).startswith(fence):
                fence = ""
        elif opening:
            fence = opening.group(1)
        else:
            lines.append(line)
    return lines


def heading_anchors(markdown: str) -> list[str]:
    """Anchors of every ATX heading, with GitHub's -1, -2 suffixes on repeats."""
    seen: dict[str, int] = {}
    anchors = []
    for line in _outside_fences(markdown):
        match = _HEADING.match(line)
        if not match:
            continue
        base = github_anchor(match.group(1))
        count = seen.get(base, 0)
        seen[base] = count + 1
        anchors.append(base if count == 0 else f"{base}-{count}")
    return anchors


def relative_links(markdown: str) -> list[str]:
    """Targets of inline links that stay inside the rendered tree (no scheme, not mailto)."""
    return [
        target
        for line in _outside_fences(markdown)
        for _, target in _LINK.findall(line)
        if target and ":" not in target.split("#", 1)[0]
    ]
