"""Threads asking one gate for decisions as fast as a busy send path would, each decision
recorded with when it started, how long it took and its answer."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from relayops.controller.gate import Gate

THREADS = 8


@dataclass(frozen=True)
class Decision:
    started: float
    took: float
    allowed: bool


class Deciders:
    """THREADS threads asking the gate about their own units until stopped."""

    def __init__(self, gate: Gate) -> None:
        self._gate = gate
        self._stop = threading.Event()
        self._seen: list[list[Decision]] = [[] for _ in range(THREADS)]
        self._threads = [
            threading.Thread(target=self._decide, args=(n,), daemon=True) for n in range(THREADS)
        ]

    def __enter__(self) -> Deciders:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=5)

    def _decide(self, n: int) -> None:
        seen = self._seen[n]
        i = 0
        while not self._stop.is_set():
            started = time.monotonic()
            allowed = self._gate.allows(f"ws-{n}", f"actor-{n}-{i}")
            seen.append(Decision(started, time.monotonic() - started, allowed))
            i += 1
            time.sleep(0.0002)

    def decisions(self) -> list[Decision]:
        assert not any(t.is_alive() for t in self._threads), "a decider is still blocked"
        return sorted((d for seen in self._seen for d in seen), key=lambda d: d.started)
