"""Benchmark: one controller cycle for both providers against a local stack (Prometheus with
the rules time-scaled ×60, Pushgateway fed healthy traffic, Redis). Target: under 300 ms.

Each cycle takes the lock, reads the state, runs every measurement query at one evaluation
time, decides, writes with compare-and-set, audits and pushes telemetry. Needs the Debian
daemons (`make tools`).
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import redis  # noqa: E402

from relayops.controller.cycle import Sinks, Status, run_cycle  # noqa: E402
from relayops.controller.manual import set_percent  # noqa: E402
from relayops.controller.measure import prometheus_query  # noqa: E402
from relayops.controller.state import RolloutStore  # noqa: E402
from relayops.render import DRILL_MANAGED, render_time_scaled  # noqa: E402
from relayops.rules.output import write_tree  # noqa: E402
from relayops.spec import load_specs  # noqa: E402
from relayops.spec.timescale import time_scaled  # noqa: E402
from relayops.stack import running_stack  # noqa: E402
from relayops.synth.driver import Driver  # noqa: E402
from relayops.synth.scenarios import scenarios  # noqa: E402

SCALE = 60
CYCLES = 20
TARGET_MS = 300.0


def main() -> int:
    specs_dir = REPO / "specs"
    specs = load_specs(specs_dir)
    scaled = time_scaled(specs, SCALE)
    healthy = scenarios(specs)["healthy"]
    with tempfile.TemporaryDirectory(prefix="relayops-bench-") as tmp:
        tree = Path(tmp) / "tree"
        write_tree(
            tree, render_time_scaled(specs, specs_dir, SCALE, "http://127.0.0.1:9/x"), DRILL_MANAGED
        )
        with running_stack(specs_dir, Path(tmp), rendered=tree) as stack:
            stop = threading.Event()

            def push(provider: str) -> None:
                driver = Driver(specs, specs.provider(provider), stack.pushgateway_url)
                while not stop.is_set():
                    driver.run(healthy, 1.0, 20.0, tick_s=0.25, time_scale=SCALE)

            pushers = [threading.Thread(target=push, args=(p.name,)) for p in specs.providers]
            for thread in pushers:
                thread.start()
            time.sleep(8)
            client = redis.Redis.from_url(stack.redis_url)
            query = prometheus_query(stack.prometheus_url)
            sinks = Sinks(Path(tmp) / "audit.jsonl", stack.pushgateway_url)
            for provider in specs.providers:  # a person starts each rollout
                store = RolloutStore(client, provider.name)
                set_percent(store, 0, "bench", "bench", time.time() - 3600, None)
            timings, undecided = [], []
            for _ in range(CYCLES):
                began = time.perf_counter()
                for provider in specs.providers:
                    outcome = run_cycle(
                        scaled,
                        provider.name,
                        query,
                        client,
                        time.time(),
                        dry_run=False,
                        who="bench",
                        sinks=sinks,
                    )
                    if outcome.status is not Status.DECIDED:
                        undecided.append(f"{provider.name}: {outcome.message}")
                timings.append((time.perf_counter() - began) * 1000)
            stop.set()
            for thread in pushers:
                thread.join()
    if undecided:
        print(f"controller cycles that decided nothing: {undecided[:3]}")
        return 1
    median = statistics.median(timings)
    print(
        f"controller cycle, both providers: median {median:.1f} ms, best {min(timings):.1f} ms, "
        f"worst {max(timings):.1f} ms over {CYCLES} cycles "
        f"(target < {TARGET_MS:.0f} ms: {'met' if median < TARGET_MS else 'MISSED'})"
    )
    return 0 if median < TARGET_MS else 1


if __name__ == "__main__":
    raise SystemExit(main())
