"""Test doubles the send-path tests share."""

from __future__ import annotations


class RotatingTokens:
    """A token source that starts with `first`, whose refresh returns `rotated` (by default
    the same), counting refreshes."""

    def __init__(self, first: str, rotated: str | None = None) -> None:
        self.current, self.rotated, self.refreshes = first, rotated or first, 0

    def token(self) -> str:
        return self.current

    def refresh(self) -> str:
        self.refreshes += 1
        self.current = self.rotated
        return self.current
