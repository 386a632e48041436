"""Benchmark: `relayops render` and `relayops check` as a user runs them, and rules + alerts
per SLO as the spec set grows. Each judged on the median of all its rounds; exits 1 when one
misses its target.

- `relayops render` of the shipped specs, whole process (Python start-up, spec loading,
  rendering, README sections with amtool, writing): target <= 2 s with the simulation cache
  warm, as in a pre-commit hook after the first render; also with one alert level changed
  (the scenarios that level touches are simulated again). A render with an empty cache is
  printed beside them with no target: it simulates every generated promtool test.
- `relayops check` of the shipped specs: target <= 30 s of CPU, its own and promtool's (the
  CPU of the processes it waited for), with the cache warm.
- Rules + alerts, no tests, for the shipped specs and for 20 / 100 / 200 providers of three
  SLOs each: target < 2 ms per SLO for every set (linear growth).
"""

from __future__ import annotations

import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from relayops.cli.main import promtool_env  # noqa: E402
from relayops.rules.alerts import alert_groups  # noqa: E402
from relayops.rules.output import rule_file  # noqa: E402
from relayops.rules.recording import recording_groups  # noqa: E402
from relayops.spec import SpecSet, load_specs  # noqa: E402
from relayops.spec.env import CACHE_DIR  # noqa: E402
from relayops.spec.slo import SLO  # noqa: E402

ROUNDS = 5
RENDER_TARGET_S = 2.0
CHECK_TARGET_CPU_S = 30.0
PER_SLO_TARGET_MS = 2.0
SIZES = (20, 100, 200)


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


def render_rules(specs: SpecSet) -> None:
    for spec in specs.providers:
        rule_file(recording_groups(specs, spec), "bench")
        rule_file(alert_groups(specs, spec), "bench")


class Workspace:
    """A copy of the specs, the rendered tree and the README, and a simulation cache."""

    def __init__(self, root: Path):
        self.root = root
        self.specs = root / "specs"
        self.out = root / "rendered"
        self.readme = root / "README.md"
        self.cache = root / "cache"
        shutil.copytree(REPO / "specs", self.specs)
        shutil.copytree(REPO / "rendered", self.out)
        shutil.copy(REPO / "README.md", self.readme)

    def run(self, command: str, *extra: str) -> tuple[float, float]:
        """(wall seconds, CPU seconds of it and its children) of one `relayops` command."""
        argv = [sys.executable, "-m", "relayops.cli", command, "--specs", str(self.specs)]
        argv += ["--out", str(self.out), "--readme", str(self.readme), *extra]
        env = {**os.environ, CACHE_DIR: str(self.cache)}
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
        wall = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if done.returncode != 0:
            raise SystemExit(f"relayops {command} failed:\n{done.stdout}{done.stderr}")
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        return wall, cpu

    def change_a_level(self, warning: float) -> None:
        path = self.specs / "gmail.yaml"
        data = yaml.safe_load(path.read_text())
        levels = {"warning": warning, "critical": 0.05, "min_request_rate": 0.1, "for": "5m"}
        data["thresholds"] = {"error_ratio": levels}
        path.write_text(yaml.safe_dump(data, sort_keys=False))


def rounds(work: Callable[[], float]) -> list[float]:
    return [work() for _ in range(ROUNDS)]


def verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def whole_process(root: Path) -> bool:
    space = Workspace(root)

    def cold() -> float:
        shutil.rmtree(space.cache, ignore_errors=True)
        return space.run("render")[0]

    colds = rounds(cold)
    warms = rounds(lambda: space.run("render")[0])
    levels = iter(0.011 + 0.001 * i for i in range(ROUNDS))

    def changed() -> float:
        space.change_a_level(next(levels))
        return space.run("render")[0]

    changes = rounds(changed)
    shutil.copy(REPO / "specs" / "gmail.yaml", space.specs / "gmail.yaml")
    space.run("render")
    checks = rounds(lambda: space.run("check")[1])
    warm, change, check = (statistics.median(r) for r in (warms, changes, checks))
    print(f"whole process, shipped specs (median of {ROUNDS}; rounds in brackets):")

    def line(label: str, values: list[float], unit: str, target: str) -> None:
        figures = "  ".join(f"{v:.2f}" for v in values)
        print(f"  {label:<44}{statistics.median(values):7.2f} {unit}  [{figures}]  {target}")

    line("relayops render, empty cache", colds, "s", "(no target)")
    line(
        "relayops render, warm cache",
        warms,
        "s",
        f"<= {RENDER_TARGET_S:g} s {verdict(warm <= RENDER_TARGET_S)}",
    )
    ok_change = change <= RENDER_TARGET_S
    line(
        "relayops render, one level changed",
        changes,
        "s",
        f"<= {RENDER_TARGET_S:g} s {verdict(ok_change)}",
    )
    ok_check = check <= CHECK_TARGET_CPU_S
    line(
        "relayops check, CPU incl. promtool",
        checks,
        "s",
        f"<= {CHECK_TARGET_CPU_S:g} s {verdict(ok_check)}",
    )
    promtool_per_file(space.out / "tests")
    return warm <= RENDER_TARGET_S and ok_change and ok_check


def promtool_per_file(tests: Path) -> None:
    """Where check's CPU goes: promtool on each generated test file, one at a time, once."""
    promtool = shutil.which("promtool")
    costs = []
    for path in sorted(tests.glob("*.yml")):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        subprocess.run(
            [promtool, "test", "rules", path.name],
            cwd=tests,
            capture_output=True,
            env=promtool_env(),
        )
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        costs.append((cpu, path.name))
    print("  promtool CPU per generated test file (one run each):")
    for cpu, name in sorted(costs, reverse=True):
        print(f"    {name:<34}{cpu:6.1f} s")


def per_slo() -> bool:
    shipped = load_specs(REPO / "specs")
    sets = [("shipped", shipped)] + [
        (f"{n} providers x 3 SLOs", synthetic(shipped, n)) for n in SIZES
    ]
    print(f"rules + alerts per SLO (median of {ROUNDS}; target < {PER_SLO_TARGET_MS:g} ms):")
    ok = True
    for label, specs in sets:
        slos = sum(len(p.slos) for p in specs.providers)

        def timed(specs: SpecSet = specs) -> float:
            start = time.perf_counter()
            render_rules(specs)
            return (time.perf_counter() - start) * 1000

        values = [t / slos for t in rounds(timed)]
        median = statistics.median(values)
        met = median < PER_SLO_TARGET_MS
        ok &= met
        figures = "  ".join(f"{v:.2f}" for v in values)
        print(f"  {label:<26}{slos:>5} SLOs {median:7.3f} ms  [{figures}]  {verdict(met)}")
    return ok


def main() -> int:
    if shutil.which("promtool") is None or shutil.which("amtool") is None:
        print("promtool and amtool are needed (make tools)")
        return 2
    with tempfile.TemporaryDirectory(prefix="bench-render-") as tmp:
        processes_ok = whole_process(Path(tmp))
    rules_ok = per_slo()
    return 0 if processes_ok and rules_ok else 1


if __name__ == "__main__":
    sys.exit(main())
