"""The controller's own series, pushed to the Pushgateway on its own grouping key.

Names and labels come from the spec's metric catalog (the ones the rendered alerts and the
controller dashboard read). Counters are totals kept in Redis across cron runs, so each run
pushes the running totals, and POST (pushadd) leaves every other group and series alone.
A failed run does not push the last-success gauge, so the stalled alert keeps ageing.
"""

from __future__ import annotations

from collections.abc import Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, pushadd_to_gateway

from relayops.spec import SpecSet
from relayops.spec.metrics import Role

JOB = "relay-rollout-controller"


def registry_for(
    specs: SpecSet,
    provider_label: str,
    totals: Mapping[str, int],
    percent: float,
    consecutive_errors: int,
    succeeded_at: float | None,
) -> CollectorRegistry:
    """The series of one provider's run; `totals` holds runs:<status> and decisions:<result>."""
    registry = CollectorRegistry()

    def metric(role: str, kind):
        definition = specs.metric(role)
        return kind(definition.name, definition.help, definition.labels, registry=registry)

    runs = metric(Role.CONTROLLER_RUNS, Counter)
    decisions = metric(Role.CONTROLLER_DECISIONS, Counter)
    for role, counter, prefix, label in (
        (Role.CONTROLLER_RUNS, runs, "runs:", "status"),
        (Role.CONTROLLER_DECISIONS, decisions, "decisions:", "result"),
    ):
        for value in specs.metric(role).values[label]:
            counter.labels(provider=provider_label, **{label: value}).inc(
                totals.get(prefix + value, 0)
            )
    metric(Role.CONTROLLER_PERCENT, Gauge).labels(provider=provider_label).set(percent)
    metric(Role.CONTROLLER_ERRORS, Gauge).labels(provider=provider_label).set(consecutive_errors)
    if succeeded_at is not None:
        metric(Role.CONTROLLER_LAST_SUCCESS, Gauge).labels(provider=provider_label).set(
            succeeded_at
        )
    return registry


def push(url: str, provider_label: str, registry: CollectorRegistry) -> None:
    pushadd_to_gateway(
        url, job=JOB, registry=registry, grouping_key={"provider": provider_label}, timeout=5
    )
