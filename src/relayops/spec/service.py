"""Service-wide settings (specs/service.yaml): ownership, intervals, receivers, metric catalog."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from relayops.spec.base import SnakeName, SpecModel
from relayops.spec.durations import Duration, parse_duration
from relayops.spec.metrics import MetricDef
from relayops.spec.targets import TARGETS, OperatorTarget, Target

SEVERITIES = ("critical", "warning", "info")


class Receiver(SpecModel):
    """Where a severity goes. Secrets are named by file path, never written here."""

    type: Literal["pagerduty", "slack"]
    channel: str | None = Field(default=None, pattern=r"^#[a-z0-9_-]+$")
    secret_file: str = Field(
        min_length=1, description="File holding the PagerDuty routing key or Slack webhook URL."
    )
    send_resolved: bool = True
    group_by: tuple[str, ...] = ("alertname", "provider")
    group_wait: Duration = Field(default=parse_duration("30s"))
    group_interval: Duration = Field(default=parse_duration("5m"))
    repeat_interval: Duration = Field(default=parse_duration("4h"))

    @model_validator(mode="after")
    def _channel(self) -> Receiver:
        if self.type == "slack" and not self.channel:
            raise ValueError("a slack receiver needs channel, e.g. '#ops-relay'")
        return self


class ServiceSpec(SpecModel):
    service: SnakeName
    team: SnakeName
    scrape_interval: Duration
    evaluation_interval: Duration
    rate_window: Duration = Field(
        default=parse_duration("5m"), description="Window of threshold and signal rates."
    )
    period_rules_interval: Duration = Field(
        default=parse_duration("5m"),
        description="Interval of the group that records the SLOs' tiles, their long burn "
        "windows and their period ratio.",
    )
    long_windows_from: Duration = Field(
        default=parse_duration("2h"),
        description="Burn windows this long or longer are derived from the tiles recorded every "
        "period_rules_interval instead of read from the raw counters: each evaluation reads one "
        "tile per interval instead of every raw sample. A tier reading one sees a change up to "
        "one period_rules_interval later, so its `for` must be at least that long.",
    )
    runbook_base_url: str = Field(pattern=r"^https?://\S+[^/]$")
    dashboard_base_url: str = Field(pattern=r"^https?://\S+[^/]$")
    receivers: dict[Literal["critical", "warning", "info"], Receiver]
    metrics: dict[SnakeName, MetricDef]
    targets: tuple[Target, ...] = Field(
        default=("prometheus",),
        description="What `relayops render` writes the rules as (relayops.spec.targets); "
        "`render --target` overrides it.",
    )
    prometheus_operator: OperatorTarget = Field(default_factory=OperatorTarget)

    @field_validator("targets")
    @classmethod
    def _targets(cls, value: tuple[Target, ...]) -> tuple[Target, ...]:
        if not value:
            raise ValueError(f"name at least one target of {', '.join(TARGETS)}")
        twice = sorted({t for t in value if value.count(t) > 1})
        if twice:
            raise ValueError(f"{', '.join(twice)} listed twice; list each target once")
        return value

    @model_validator(mode="after")
    def _receivers(self) -> ServiceSpec:
        missing = [s for s in SEVERITIES if s not in self.receivers]
        if missing:
            raise ValueError(f"receivers needs an entry for every severity; add {missing}")
        return self
