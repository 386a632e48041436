"""Drill plans for tests, made as `relayops drill` makes them: the shipped specs' rules
time-scaled ×60, the default rate and run limit."""

from __future__ import annotations

from relayops.drill.batch import (
    DEFAULT_MAX_SECONDS,
    DEFAULT_RATE,
    DEFAULT_SCALE,
    PLACEHOLDER_WEBHOOK,
)
from relayops.drill.plan import DrillPlan, drill_pipeline, plan_drill
from relayops.drill.theory import Pipeline
from relayops.render import render_time_scaled
from relayops.spec import SpecSet
from relayops.synth.scenarios import scenarios
from tests.specs_util import SPECS


def scaled_pipeline(specs: SpecSet) -> Pipeline:
    """The drill stack's pipeline for the rules rendered ×DEFAULT_SCALE."""
    return drill_pipeline(render_time_scaled(specs, SPECS, DEFAULT_SCALE, PLACEHOLDER_WEBHOOK))


def drill_plan(
    specs: SpecSet, scenario: str, provider: str, pipeline: Pipeline | None = None
) -> DrillPlan:
    """The plan of one drill; pass `pipeline` to spare rendering the rules again."""
    return plan_drill(
        specs,
        scenarios(specs),
        scenario,
        provider,
        DEFAULT_SCALE,
        DEFAULT_RATE,
        DEFAULT_MAX_SECONDS,
        pipeline or scaled_pipeline(specs),
    )
