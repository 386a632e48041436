"""Spec problems that name the file, the line, the field path and the fix."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

Loc = tuple[str | int, ...]


def format_loc(loc: Loc) -> str:
    """('slos', 0, 'objective') -> 'slos[0].objective'."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


@dataclass(frozen=True)
class SpecIssue:
    file: Path
    loc: Loc
    message: str
    line: int | None = None

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else str(self.file)
        return f"{where}: {format_loc(self.loc)}: {self.message}"


class SpecError(Exception):
    """One or more invalid specs; nothing may be rendered from them."""

    def __init__(self, issues: list[SpecIssue]):
        self.issues = sorted(issues, key=lambda i: (str(i.file), i.line or 0, format_loc(i.loc)))
        super().__init__("\n".join(str(i) for i in self.issues))
