"""Theoretical detection times of burn-rate tiers (Google SRE Workbook, ch. 5)."""

from __future__ import annotations

from relayops.spec.slo import SLO, BurnTier

BURNS = {"Full outage": None, "10× budget burn": 10.0, "2× budget burn": 2.0}


def burn_of(slo: SLO, burn: float | None) -> float:
    """A budget-burn multiple; None means a full outage (every request bad)."""
    return 1 / slo.error_budget if burn is None else burn


def detection_seconds(slo: SLO, tier: BurnTier, burn: float) -> float | None:
    """Seconds from the start of a constant burn, on a previously healthy service, to firing.

    The long window's error ratio grows as burn × budget × elapsed / window, so it crosses
    factor × budget after window × factor / burn; the short window crosses first. Then `for`.
    None when the tier never fires at this burn (burn ≤ factor).
    """
    factor = tier.factor(slo.period)
    if burn <= factor:
        return None
    return tier.long_window * factor / burn + tier.for_
