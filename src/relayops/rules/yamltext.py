"""A small block-style YAML writer for rule and test files.

PyYAML, even with libyaml, spent more time writing the rule files than building them; rule
files are plain nested maps, lists, strings and numbers, so this writer covers exactly that.
Strings stay plain where no YAML 1.1 reader (PyYAML, Go's yaml) could read them as anything
else, and are single-quoted otherwise; every rendered file is checked to load back equal.
"""

from __future__ import annotations

import json
import math
import re
from functools import lru_cache

_PLAIN = re.compile(r"[A-Za-z_][^\n\r\t'`]*")
_DURATION = re.compile(r"(?:\d+[smhdwy])+")
_WORDS = {"y", "n", "yes", "no", "on", "off", "true", "false", "null"}


def _plain_ok(text: str) -> bool:
    return bool(
        (_PLAIN.fullmatch(text) or _DURATION.fullmatch(text))
        and text.lower() not in _WORDS
        and ": " not in text
        and " #" not in text
        and not text.endswith((":", " "))
    )


def scalar(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return ".nan"
        if math.isinf(value):
            return ".inf" if value > 0 else "-.inf"
        text = repr(value)
        if "." not in text and "e" in text:
            text = text.replace("e", ".0e", 1)
        return text
    if isinstance(value, str):
        return _string(value)
    raise TypeError(f"cannot write {type(value).__name__} {value!r} as YAML")


@lru_cache(maxsize=65536)
def _string(value: str) -> str:
    """A string as a YAML scalar (rule files repeat the same names and label values)."""
    if _plain_ok(value):
        return value
    if value.isprintable():
        return "'" + value.replace("'", "''") + "'"
    return json.dumps(value, ensure_ascii=False)


def _literal_ok(text: str) -> bool:
    """Multi-line text that a `|-` block keeps exactly: printable lines, no edge blanks."""
    lines = text.split("\n")
    return len(lines) > 1 and all(
        line.isprintable() and line == line.strip() and line for line in lines
    )


def _block(value: object, indent: str, out: list[str]) -> None:
    """Append the lines of a map or list whose entries start at `indent`."""
    if isinstance(value, dict):
        for key, item in value.items():
            head = f"{indent}{_string(key) if type(key) is str else scalar(key)}:"
            if type(item) is str:
                if "\n" in item and _literal_ok(item):
                    out.append(f"{head} |-")
                    out.extend(f"{indent}  {line}" for line in item.split("\n"))
                else:
                    out.append(f"{head} {_string(item)}")
            elif isinstance(item, dict | list) and item:
                out.append(head)
                _block(item, indent if isinstance(item, list) else indent + "  ", out)
            else:
                out.append(f"{head} {_inline(item)}")
        return
    for item in value:
        if isinstance(item, dict | list) and item:
            start = len(out)
            _block(item, indent + "  ", out)
            out[start] = f"{indent}- {out[start][len(indent) + 2 :]}"
        else:
            out.append(f"{indent}- {_inline(item)}")


def _inline(value: object) -> str:
    if isinstance(value, dict):
        return "{}"
    if isinstance(value, list):
        return "[]"
    return scalar(value)


def dumps(data: dict) -> str:
    out: list[str] = []
    _block(data, "", out)
    return "\n".join(out) + "\n"
