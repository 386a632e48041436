"""Serialise a small skeleton, then splice the bulk in: the builders write short unique
stand-ins where megabytes of content go, and the content replaces them afterwards in one copy,
instead of a Python-level encoder walking every byte of it."""

from __future__ import annotations

import secrets


def stand_in() -> str:
    """A token that cannot occur in real content."""
    return f"relayops-stand-in-{secrets.token_hex(16)}"


def splice(skeleton: bytes, splices: dict[bytes, list[bytes]]) -> bytes:
    """`skeleton` with each stand-in (a key of `splices`, found exactly once) replaced by its
    content, given as pieces: they are copied once, into the result, and never joined on their
    own first."""
    starts = {}
    for piece in splices:
        if skeleton.count(piece) != 1:
            raise RuntimeError("a stand-in was not found once in the serialised message")
        starts[skeleton.index(piece)] = piece
    pieces, end = [], 0
    for start, piece in sorted(starts.items()):
        pieces.append(skeleton[end:start])
        pieces += splices[piece]
        end = start + len(piece)
    pieces.append(skeleton[end:])
    return b"".join(pieces)
