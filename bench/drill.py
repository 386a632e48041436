"""Benchmark: wall time of `drill all` for both providers at the default time scale, and of
each drill in it (stack start, warm-up, scenario, recovery and report included). The checks a
failed drill did not pass are printed with their evidence.

Target: `drill all` under 6 minutes. Needs the Debian daemons (`make tools`).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from relayops.drill.batch import Batch, run_batch  # noqa: E402
from relayops.spec import load_specs  # noqa: E402
from relayops.synth.scenarios import scenarios  # noqa: E402

TARGET_SECONDS = 360.0


def main() -> int:
    specs_dir = REPO / "specs"
    specs = load_specs(specs_dir)
    pairs = [(name, p) for name, s in scenarios(specs).items() for p in s.providers]
    with tempfile.TemporaryDirectory(prefix="relayops-bench-") as reports:
        batch = Batch(specs_dir, report_dir=Path(reports))
        outcomes, wall = run_batch(batch, specs, pairs, out=lambda line: None)
    print(f"drill all: {len(outcomes)} drills, both providers, ×{batch.scale}, side by side")
    print(f"{'drill':40s} {'wall':>7s} {'scenario+recovery':>18s}  result")
    for o in sorted(outcomes, key=lambda o: -o.seconds):
        planned = o.plan.run_seconds + o.plan.recovery_seconds
        verdict = "pass" if o.passed else (o.error or "FAIL")
        print(f"{o.name:40s} {o.seconds:6.1f}s {planned:17.1f}s  {verdict}")
    failed = [o.name for o in outcomes if not o.passed]
    for o in sorted(outcomes, key=lambda o: o.name):
        if o.result is not None and not o.passed:
            for check in o.result.checks:
                if not check.ok:
                    print(f"  {o.name}: {check.name}: {check.evidence}")
    print(
        f"drill all wall time: {wall:.1f}s (target < {TARGET_SECONDS:.0f}s: "
        f"{'met' if wall < TARGET_SECONDS else 'MISSED'}); {len(outcomes) - len(failed)} "
        f"of {len(outcomes)} passed"
    )
    return 0 if not failed and wall < TARGET_SECONDS else 1


if __name__ == "__main__":
    raise SystemExit(main())
