"""One provider's spec (specs/<name>.yaml)."""

from __future__ import annotations

from pydantic import Field, model_validator

from relayops.spec.base import CamelName, SnakeName, SpecModel
from relayops.spec.rollout import Rollout
from relayops.spec.send import SendPolicy
from relayops.spec.signals import Signal
from relayops.spec.slo import SLO
from relayops.spec.thresholds import Thresholds


class ProviderSpec(SpecModel):
    name: SnakeName = Field(description="Slug; must equal the file name (gmail for gmail.yaml).")
    display_name: CamelName = Field(description="Prefix of this provider's alert names.")
    provider: SnakeName = Field(description="Value of the 'provider' label.")
    action: str = Field(pattern=r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$")
    slos: tuple[SLO, ...] = Field(min_length=1)
    thresholds: Thresholds = Field(default_factory=Thresholds)
    signals: tuple[Signal, ...] = ()
    rollout: Rollout
    send: SendPolicy = Field(default_factory=SendPolicy)

    @model_validator(mode="after")
    def _unique(self) -> ProviderSpec:
        for kind, names in (
            ("slos", [s.name for s in self.slos]),
            ("signals", [s.name for s in self.signals]),
        ):
            dupes = sorted({n for n in names if names.count(n) > 1})
            if dupes:
                raise ValueError(f"{kind} names must be unique; {dupes} appear more than once")
        return self

    @property
    def selector(self) -> dict[str, str]:
        """Label matchers that pick this provider's send-path series."""
        return {"provider": self.provider, "action": self.action}
