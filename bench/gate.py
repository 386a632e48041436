"""Benchmark: send-path gate decisions per second from the local cache (target > 200,000/s).

The cached path is what every send pays, so it runs against an in-memory fake Redis at 50%
(every decision hashes). When redis-server is installed, one is started on a free loopback
port to time an uncached read (cache_seconds=0: one GET per decision).
"""

from __future__ import annotations

import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import redis  # noqa: E402

from controller.gate import Gate  # noqa: E402
from controller.keys import RolloutKeys  # noqa: E402
from relayops.spec import SpecSet, load_specs  # noqa: E402
from relayops.stack.commands import redis as redis_launch  # noqa: E402
from relayops.stack.daemons import free_port, start, stop  # noqa: E402

TARGET = 200_000
DECISIONS = 200_000
REPEATS = 5
READS = 2_000


class FakeRedis:
    def __init__(self, value: bytes) -> None:
        self.value = value

    def get(self, name: str) -> bytes:
        return self.value


def cached_rate(specs: SpecSet, provider: str) -> float:
    """Best of REPEATS runs, in decisions per second."""
    gate = Gate(specs, provider, FakeRedis(b"50"), cache_seconds=3600)
    units = [f"unit-{i:08d}" for i in range(DECISIONS)]
    best = float("inf")
    for _ in range(REPEATS):
        started = time.perf_counter()
        for unit in units:
            gate.allows(unit, unit)
        best = min(best, time.perf_counter() - started)
    return DECISIONS / best


def uncached_read_us(specs: SpecSet, binary: str) -> float:
    """Median microseconds of a decision that reads the key from a real Redis."""
    with tempfile.TemporaryDirectory(prefix="bench-gate-") as tmp:
        argv, ready, url = redis_launch(binary, Path(tmp))(free_port())
        running = start("redis-server", argv, Path(tmp) / "redis.log", ready)
        try:
            client = redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)
            client.set(RolloutKeys("gmail").percent, "50")
            gate = Gate(specs, "gmail", client, cache_seconds=0)
            gate.percent()  # connect outside the timing
            timings = []
            for i in range(READS):
                started = time.perf_counter()
                gate.allows("ws", f"actor-{i}")
                timings.append(time.perf_counter() - started)
            return statistics.median(timings) * 1e6
        finally:
            stop(running)


def main() -> None:
    specs = load_specs(REPO / "specs")
    print(f"gate decisions from the local cache (target > {TARGET:,}/s):")
    for provider in ("gmail", "outlook"):
        rate = cached_rate(specs, provider)
        verdict = "ok" if rate > TARGET else "BELOW TARGET"
        print(f"  {provider:8} {rate:12,.0f} decisions/s  {verdict}")
    binary = shutil.which("redis-server")
    if binary is None:
        print("uncached read: skipped (redis-server not installed)")
        return
    cost = uncached_read_us(specs, binary)
    print(f"uncached read (GET from a local redis-server): {cost:.0f} µs median per decision")


if __name__ == "__main__":
    main()
