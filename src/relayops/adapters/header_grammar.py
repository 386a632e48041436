"""Header values the email package writes back, and reads back, exactly as given.

For these values the package's header classes would parse a value and fold it back into the
same characters: plain address lists (`a@b, c@d`), `<id@domain>` message and content ids, the
Date format, and printable-ASCII Subject and X- headers with single spaces and no encoded-word
start. relayops.adapters.mime stores them unparsed (the parse costs a few hundred
microseconds), and relayops.adapters.built_check compares their written text directly.
tests/adapters/test_mime.py checks each grammar against the package's own output.
"""

from __future__ import annotations

import re

_ATEXT = "A-Za-z0-9!#$%&'*+/=?^_`{|}~-"
_DOT_ATOM = rf"[{_ATEXT}]+(?:\.[{_ATEXT}]+)*"
_ADDR_SPEC = rf"{_DOT_ATOM}@{_DOT_ATOM}"
_BY_KIND = {
    **dict.fromkeys(
        ("from", "to", "cc", "bcc", "reply-to"),
        re.compile(rf"{_ADDR_SPEC}(?:, {_ADDR_SPEC})*"),
    ),
    **dict.fromkeys(("message-id", "content-id"), re.compile(rf"<{_DOT_ATOM}(?:@{_DOT_ATOM})?>")),
    # ASCII digits only: \d would also take other scripts' digits
    "date": re.compile(
        r"[A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d [+-]\d{4}", re.ASCII
    ),
}
_UNSTRUCTURED = re.compile(r"[!-~]+(?: [!-~]+)*")  # printable ASCII words, single spaces


def written_as_given(name: str, value: str) -> bool:
    lowered = name.lower()
    grammar = _BY_KIND.get(lowered)
    if grammar is not None:
        return grammar.fullmatch(value) is not None
    return (
        (lowered == "subject" or lowered.startswith("x-"))
        and _UNSTRUCTURED.fullmatch(value) is not None
        and "=?" not in value
    )
