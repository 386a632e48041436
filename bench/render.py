"""Benchmark: rendering time per SLO for the shipped specs and synthetic provider sets.

Prints ms per SLO for rules + alerts (the part whose target is < 2 ms per SLO, growing
linearly), and separately for the generated promtool tests, which simulate every alert.

Each figure is the best of REPEATS runs PAUSE_S seconds apart: the shared VM this runs on has
spells, seconds to minutes long, in which Python runs up to twice as slowly, and runs back to
back fall in the same spell.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from relayops.render import render_all  # noqa: E402
from relayops.rules.alerts import alert_groups  # noqa: E402
from relayops.rules.output import rule_file  # noqa: E402
from relayops.rules.recording import recording_groups  # noqa: E402
from relayops.spec import SpecSet, load_specs  # noqa: E402
from relayops.spec.slo import SLO  # noqa: E402

SIZES = (20, 100, 200)
REPEATS = 5
PAUSE_S = 2.0


def synthetic(specs: SpecSet, count: int) -> SpecSet:
    """`count` providers shaped like Gmail, each with three SLOs."""
    template = specs.provider("gmail")
    third = SLO.model_validate(
        {
            "name": "latency_fast",
            "description": "Send requests that complete within 1 second.",
            "objective": 0.95,
            "sli": {"type": "latency", "threshold_seconds": 1.0},
        }
    )
    providers = tuple(
        template.model_copy(
            update={
                "name": f"p{i:03d}",
                "provider": f"prov{i:03d}",
                "display_name": f"P{i:03d}",
                "action": f"p{i:03d}.send",
                "slos": (*template.slos, third),
            }
        )
        for i in range(count)
    )
    return SpecSet(service=specs.service, providers=providers)


def render_rules(specs: SpecSet) -> int:
    size = 0
    for spec in specs.providers:
        size += len(rule_file(recording_groups(specs, spec), "bench"))
        size += len(rule_file(alert_groups(specs, spec), "bench"))
    return size


def best_ms(work, repeats: int = REPEATS) -> float:
    times = []
    for repeat in range(repeats):
        if repeat:
            time.sleep(PAUSE_S)
        start = time.perf_counter()
        work()
        times.append((time.perf_counter() - start) * 1000)
    return min(times)


def main() -> None:
    shipped = load_specs(REPO / "specs")
    slos = sum(len(p.slos) for p in shipped.providers)
    print(f"relayops render benchmark (best of {REPEATS}, {PAUSE_S:g} s apart; promtool excluded)")
    print(f"{'spec set':<28}{'SLOs':>6}{'total ms':>12}{'ms per SLO':>13}")
    ms = best_ms(lambda: render_rules(shipped))
    print(f"{'shipped, rules + alerts':<28}{slos:>6}{ms:>12.1f}{ms / slos:>13.3f}")
    per_slo = []
    for count in SIZES:
        specs = synthetic(shipped, count)
        n = sum(len(p.slos) for p in specs.providers)
        ms = best_ms(lambda specs=specs: render_rules(specs))
        per_slo.append(ms / n)
        print(f"{f'{count} providers × 3 SLOs':<28}{n:>6}{ms:>12.1f}{ms / n:>13.3f}")
    spread = (max(per_slo) - min(per_slo)) / statistics.mean(per_slo)
    print(f"ms per SLO spread across sizes: {spread:.0%} (flat means linear growth)")
    ms = best_ms(lambda: render_all(shipped, REPO / "specs"), repeats=1)
    print(
        f"{'shipped, full render':<28}{slos:>6}{ms:>12.1f}{ms / slos:>13.3f}"
        "   (rules, alerts and simulated promtool tests)"
    )


if __name__ == "__main__":
    main()
