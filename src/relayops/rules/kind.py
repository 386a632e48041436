"""What every kind of alert is: its unit, its rule group, what it watches, how its alerts are
built from a provider's spec, and how an on-call engineer triages one. Each kind is one module
of `relayops.rules.kinds` (with its runbook template); the renderers ask the kind, never a
string."""

from __future__ import annotations

from abc import ABC, abstractmethod
from enum import StrEnum
from typing import TYPE_CHECKING, ClassVar

from relayops.spec.units import Unit

if TYPE_CHECKING:
    from relayops.rules.alert_def import AlertDef
    from relayops.rules.builder import AlertBuilder
    from relayops.rules.triage import Step, Triage


class RuleGroup(StrEnum):
    """The alert rule groups of a provider's alerts file, by suffix."""

    SLO = "slo"
    SEND_PATH = "send-path"
    OPERATIONS = "operations"


class Kind(ABC):
    """One kind of alert. Subclasses set the class attributes and build their alerts."""

    name: ClassVar[str]  # also names the runbook template, kind_<name>.md.j2
    unit: ClassVar[Unit] = Unit.NUMBER  # the unit its levels are written in
    group: ClassVar[RuleGroup] = RuleGroup.SEND_PATH
    topic: ClassVar[str | None] = None  # runbooks link alerts that watch the same topic

    @abstractmethod
    def alerts(self, build: AlertBuilder) -> list[AlertDef]:
        """This kind's alerts of one provider, in rendering order (none if not configured)."""

    @abstractmethod
    def triage(self, steps: Triage, alert: AlertDef) -> list[Step]:
        """The triage queries of its runbook, in the order an on-call engineer runs them."""

    def section_steps(self, steps: Triage, alert: AlertDef) -> list[Step]:
        """Queries shown under one rule's section of the runbook (a tier's windows)."""
        return []

    def topic_of(self, alert: AlertDef) -> str | None:
        return self.topic

    @property
    def runbook_template(self) -> str:
        return f"kind_{self.name}.md.j2"

    def __eq__(self, other: object) -> bool:
        """A kind is its name: equal to the kind of that name, or to the name itself."""
        if isinstance(other, Kind):
            return self.name == other.name
        if isinstance(other, str):
            return self.name == other
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.name)

    def __str__(self) -> str:
        return self.name

    def __repr__(self) -> str:
        return f"<alert kind {self.name}>"
