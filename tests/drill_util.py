"""Drill plans for tests, made as `relayops drill` makes them: the shipped specs' rules
time-scaled ×60, the default rate and run limit."""

from __future__ import annotations

from relayops.drill.batch import DEFAULT_MAX_SECONDS, DEFAULT_RATE
from relayops.drill.plan import DrillPlan, plan_drill
from relayops.drill.theory import Pipeline
from relayops.drill.world import DrillWorld, drill_world
from relayops.spec import SpecSet
from tests.specs_util import SPECS


def shipped_world(specs: SpecSet) -> DrillWorld:
    """The drill world of the shipped specs at the default scale."""
    return drill_world(specs, SPECS)


def scaled_pipeline(specs: SpecSet) -> Pipeline:
    """The drill stack's pipeline for the rules rendered at the default scale."""
    return shipped_world(specs).pipeline


def drill_plan(
    specs: SpecSet, scenario: str, provider: str, world: DrillWorld | None = None
) -> DrillPlan:
    """The plan of one drill; pass `world` to spare rendering the rules again."""
    return plan_drill(
        world or shipped_world(specs),
        scenario,
        provider,
        rate=DEFAULT_RATE,
        max_seconds=DEFAULT_MAX_SECONDS,
    )
