"""What every drill of a batch shares, computed once and passed down: the specs time-scaled,
the rule tree rendered from them, the pipeline its rule files imply, the scenario catalog."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from relayops.drill.theory import Pipeline, evaluation_hops
from relayops.render import render_scaled
from relayops.spec import SpecSet
from relayops.spec.timescale import DRILL_SCRAPE_SECONDS, time_scaled
from relayops.synth.scenarios import Scenario, scenarios

PLACEHOLDER_WEBHOOK = "http://127.0.0.1:9/drill"  # the stack points every webhook at its sink
DEFAULT_SCALE = 60
TICK_SECONDS = 0.25  # the driver's push interval in drills


@dataclass(frozen=True)
class DrillWorld:
    specs: SpecSet  # as written: what synth pushes against (production names and rates)
    scale: int
    scaled: SpecSet  # every window and `for` divided by `scale`: what the rules evaluate
    files: Mapping[str, str]  # the time-scaled rule and Alertmanager tree, path -> text
    pipeline: Pipeline
    catalog: Mapping[str, Scenario]


def drill_world(
    specs: SpecSet,
    specs_dir: Path,
    scale: int = DEFAULT_SCALE,
    webhook: str = PLACEHOLDER_WEBHOOK,
) -> DrillWorld:
    scaled = time_scaled(specs, scale)
    files = render_scaled(scaled, specs_dir, scale, webhook)
    return DrillWorld(specs, scale, scaled, files, drill_pipeline(files), scenarios(specs))


def drill_pipeline(rendered: Mapping[str, str], tick: float = TICK_SECONDS) -> Pipeline:
    """The drill stack's pipeline for a rendered (time-scaled) tree, path -> text: the
    evaluation hops of its Prometheus rule files."""
    scrape = float(DRILL_SCRAPE_SECONDS)
    rule_files = (text for path, text in sorted(rendered.items()) if path.startswith("prometheus/"))
    return Pipeline(tick, scrape, scrape, evaluation_hops(rule_files, scrape))
