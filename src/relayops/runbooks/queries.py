"""The triage queries of a runbook: each kind's own, from its module."""

from __future__ import annotations

from relayops.rules.alert_def import AlertDef
from relayops.rules.triage import Step, Triage
from relayops.spec import SpecSet
from relayops.spec.provider import ProviderSpec

__all__ = ["Step", "section_steps", "triage_steps"]


def triage_steps(specs: SpecSet, spec: ProviderSpec, alert: AlertDef) -> list[Step]:
    """The triage queries of an alert's kind, in the order an on-call engineer runs them."""
    return alert.kind.triage(Triage(specs, spec), alert)


def section_steps(specs: SpecSet, spec: ProviderSpec, alert: AlertDef) -> list[Step]:
    """The queries under one rule's section (a burn tier's windows)."""
    return alert.kind.section_steps(Triage(specs, spec), alert)
