"""Every Redis key the controller and the gate use, in one place.

`flags:<provider>:rollout_percent` holds the percentage the gate reads (a decimal string with
at most two decimals, e.g. "25" or "2.5"); the rest is the controller's own state.
"""

from __future__ import annotations

from dataclasses import dataclass

AUDIT_STREAM = "relayops:rollout:audit"


@dataclass(frozen=True)
class RolloutKeys:
    provider: str  # the provider spec name (gmail, outlook)

    @property
    def percent(self) -> str:
        return f"flags:{self.provider}:rollout_percent"

    @property
    def state(self) -> str:
        """Hash: last change time, previous percent, last rollback time, paused, errors."""
        return f"flags:{self.provider}:rollout_state"

    @property
    def history(self) -> str:
        """List of the latest decisions that changed something, newest first (JSON)."""
        return f"flags:{self.provider}:rollout_history"

    @property
    def counters(self) -> str:
        """Hash of telemetry totals kept across cron runs (runs by status, decisions by result)."""
        return f"flags:{self.provider}:rollout_counters"

    @property
    def lock(self) -> str:
        """`SET NX EX` run lock: one controller run per provider at a time."""
        return f"locks:rollout:{self.provider}"
