"""Which units (actors or workspaces) a rollout percentage lets through.

The spec, for ports to other languages:

1. Build the string ``"<salt>:<unit_id>"`` (the provider's ``rollout.salt``, a colon, the unit
   id) and encode it as UTF-8.
2. Take SHA-256 of those bytes; read the first 8 bytes of the digest as a big-endian unsigned
   64-bit integer.
3. ``bucket`` is that integer modulo 10000: a basis point in [0, 9999].
4. A percentage ``p`` (0 to 100, at most two decimals) is ``round(p × 100)`` basis points; a
   unit is *in* at ``p`` when ``bucket < round(p × 100)``.

The bucket does not depend on ``p``, so a unit in at 10% stays in at 25% (monotonic). The
per-provider salt keeps the same units from coming first in every rollout. Test vectors:
``tests/data/gate_vectors.json``.
"""

from __future__ import annotations

import math
from hashlib import sha256

from relayops.spec.rollout import BASIS_POINTS

_SCALE = BASIS_POINTS // 100  # basis points per percent
_TOLERANCE = 1e-6  # binary floats: 2.55 * 100 is 254.99999999999997, still two decimals


class Bucketer:
    """`bucket` for one salt, with the salt encoded once (the gate's hot path)."""

    __slots__ = ("_prefix",)

    def __init__(self, salt: str) -> None:
        self._prefix = f"{salt}:".encode()

    def __call__(self, unit_id: str) -> int:
        digest = sha256(self._prefix + unit_id.encode()).digest()
        return int.from_bytes(digest[:8], "big") % BASIS_POINTS


def bucket(salt: str, unit_id: str) -> int:
    """The unit's basis point in [0, 9999] under `salt`."""
    return Bucketer(salt)(unit_id)


def basis_points(percent: float) -> int:
    """`percent` (0 to 100, at most two decimals) in basis points; ValueError otherwise."""
    if isinstance(percent, bool) or not isinstance(percent, int | float):
        raise ValueError(f"rollout percentage must be a number, got {percent!r}")
    if math.isnan(percent) or not 0 <= percent <= 100:
        raise ValueError(f"rollout percentage must be between 0 and 100, got {percent!r}")
    scaled = percent * _SCALE
    points = round(scaled)
    if abs(scaled - points) > _TOLERANCE:
        raise ValueError(
            f"rollout percentage has at most two decimals (basis points), got {percent!r}"
        )
    return points


def is_in(salt: str, unit_id: str, percent: float) -> bool:
    """Whether the unit is in the rollout at `percent`."""
    return bucket(salt, unit_id) < basis_points(percent)
