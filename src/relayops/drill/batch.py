"""A batch of drills: render the time-scaled rules once, plan each drill, run them side by
side (each on a stack of its own) and write their reports. Used by `relayops drill` and by
the drill benchmark."""

from __future__ import annotations

import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from relayops.drill.observe import ObserveError
from relayops.drill.parallel import DrillError, Emit, Outcome, Ready, Work, run_drills
from relayops.drill.plan import DrillPlan, plan_drill
from relayops.drill.report import write_report
from relayops.drill.run import DrillResult, run_drill
from relayops.drill.stopping import StopRequest
from relayops.drill.world import DEFAULT_SCALE, drill_world
from relayops.render import DRILL_MANAGED
from relayops.rules.output import write_tree
from relayops.spec import SpecSet
from relayops.stack import StackError, running_stack
from relayops.synth.driver import PushError

DEFAULT_RATE = 20.0  # production requests/s
DEFAULT_MAX_SECONDS = 120.0


@dataclass(frozen=True)
class Batch:
    specs_dir: Path
    scale: int = DEFAULT_SCALE
    rate: float = DEFAULT_RATE  # production requests/s
    max_seconds: float = DEFAULT_MAX_SECONDS
    jobs: int = 0  # 0: every drill at once
    report_dir: Path | None = None


def _work(batch: Batch, specs: SpecSet, tree: Path, tmp: Path, stop: StopRequest) -> Work:
    """One drill on a stack of its own, loading only its provider's rules; reports are drawn
    one at a time (matplotlib)."""
    report_lock = threading.Lock()

    def work(plan: DrillPlan, emit: Emit, ready: Ready) -> tuple[DrillResult, Path | None]:
        run_dir = tmp / f"{plan.scenario.name}-{plan.provider}"
        try:
            with running_stack(
                batch.specs_dir, run_dir, rendered=tree, redis=False, providers=(plan.provider,)
            ) as stack:
                ready()
                result = run_drill(specs, stack, plan, emit, stop)
                if batch.report_dir is None:
                    return result, None
                with report_lock:
                    return result, write_report(specs, stack, result, batch.report_dir)
        except StackError as exc:
            raise DrillError(f"the drill stack did not start: {exc}") from exc
        except (ObserveError, PushError) as exc:
            raise DrillError(str(exc)) from exc

    return work


def run_batch(
    batch: Batch,
    specs: SpecSet,
    pairs: Sequence[tuple[str, str]],
    out: Emit = print,
    stop: StopRequest | None = None,
) -> tuple[list[Outcome], float]:
    """Run the (scenario, provider) drills; their outcomes in order, and the wall time.
    Cancelled once `stop` is requested, after every started stack is stopped."""
    stop = StopRequest() if stop is None else stop
    began = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="relayops-drill-") as tmp:
        tree = Path(tmp) / "tree"
        world = drill_world(specs, batch.specs_dir, batch.scale)
        write_tree(tree, world.files, DRILL_MANAGED)
        plans = [
            plan_drill(world, name, p, rate=batch.rate, max_seconds=batch.max_seconds)
            for name, p in pairs
        ]
        for plan in plans:
            out(
                f"drill {plan.scenario.name} on {plan.provider}: scenario {plan.run_seconds:.0f}s, "
                f"recovery {plan.recovery_seconds:.0f}s, expecting "
                f"{', '.join(e.ref for e in plan.fires) or 'no alert'}"
            )
        stop.check()
        work = _work(batch, specs, tree, Path(tmp), stop)
        outcomes = run_drills(plans, work, batch.jobs or len(plans), out, stop)
    return outcomes, time.monotonic() - began
