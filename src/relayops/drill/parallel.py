"""Run many drills at once, each on a stack of its own, with a live progress display.

Drills of one provider cannot share a stack (their alerts carry the same labels), so each gets
its own Prometheus, Alertmanager, Pushgateway and sink; the longest are started first. Every
line a drill prints is prefixed with its name, and a status line follows every few seconds.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from relayops.drill.plan import DrillPlan
from relayops.drill.run import DrillResult
from relayops.drill.stopping import StopRequest

Emit = Callable[[str], None]
Ready = Callable[[], None]
Work = Callable[[DrillPlan, Emit, Ready], tuple[DrillResult, Path | None]]

STATUS_EVERY_SECONDS = 15.0


class StartGate:
    """Holds every drill of a batch until all their stacks have started (or failed to), so no
    drill pushes and measures while other daemons are still starting and taking the CPU."""

    def __init__(self, count: int, stop: StopRequest):
        self._left = count
        self._stop = stop
        self._changed = threading.Condition()

    def arrive(self) -> None:
        with self._changed:
            self._left -= 1
            self._changed.notify_all()

    def wait(self) -> None:
        """Until every stack arrived; Cancelled once a stop is requested."""
        with self._changed:
            while self._left > 0 and not self._stop.requested:
                self._changed.wait(timeout=0.1)
        self._stop.check()


class DrillError(RuntimeError):
    """A drill could not run (its stack did not start, a component failed); not a verdict."""


@dataclass(frozen=True)
class Outcome:
    plan: DrillPlan
    seconds: float  # wall time of the drill, stack start and report included
    result: DrillResult | None = None
    report: Path | None = None
    error: str | None = None

    @property
    def name(self) -> str:
        return f"{self.plan.scenario.name}/{self.plan.provider}"

    @property
    def passed(self) -> bool:
        return self.result is not None and self.result.passed


def planned_seconds(plan: DrillPlan) -> float:
    return plan.run_seconds + plan.recovery_seconds


class _Board:
    """Counts for the status line, and one lock for every line printed."""

    def __init__(self, total: int, out: Emit):
        self.out = out
        self.lock = threading.Lock()
        self.total = total
        self.running = 0
        self.outcomes: list[Outcome] = []
        self.started = time.monotonic()

    def say(self, line: str) -> None:
        with self.lock:
            self.out(line)

    def status(self) -> str:
        with self.lock:
            done = len(self.outcomes)
            passed = sum(o.passed for o in self.outcomes)
            waiting = self.total - done - self.running
            elapsed = time.monotonic() - self.started
            return (
                f"--- {elapsed:5.0f}s: {self.running} running, {done} done ({passed} passed, "
                f"{done - passed} not), {waiting} waiting"
            )


def run_drills(
    plans: Sequence[DrillPlan],
    work: Work,
    jobs: int,
    out: Emit = print,
    stop: StopRequest | None = None,
) -> list[Outcome]:
    """Run `work` for every plan, at most `jobs` at a time, longest first; outcomes in the
    order of `plans`. A DrillError in one drill is recorded as its outcome; others go on.
    Once `stop` is requested no drill starts and Cancelled is raised when every running one
    has left its work.

    `work` calls its `ready` argument once its stack is up; when every drill runs at once,
    that waits for all the other stacks too (StartGate)."""
    stop = StopRequest() if stop is None else stop
    board = _Board(len(plans), out)
    finished = threading.Event()
    gate = StartGate(len(plans), stop) if jobs >= len(plans) else None

    def one(plan: DrillPlan) -> Outcome:
        stop.check()
        prefix = f"[{plan.scenario.name}/{plan.provider}] "
        with board.lock:
            board.running += 1
        began = time.monotonic()
        arrived = threading.Event()

        def ready() -> None:
            if gate is not None and not arrived.is_set():
                arrived.set()
                gate.arrive()
                gate.wait()

        try:
            result, report = work(plan, lambda line: board.say(prefix + line), ready)
            outcome = Outcome(plan, time.monotonic() - began, result, report)
        except DrillError as exc:
            outcome = Outcome(plan, time.monotonic() - began, error=str(exc))
            board.say(f"{prefix}ERROR {exc}")
        finally:
            if gate is not None and not arrived.is_set():
                arrived.set()
                gate.arrive()
        with board.lock:
            board.running -= 1
            board.outcomes.append(outcome)
        verdict = "PASS" if outcome.passed else "FAIL"
        board.say(f"{prefix}{verdict} in {outcome.seconds:.0f}s")
        return outcome

    def ticker() -> None:
        while not finished.wait(STATUS_EVERY_SECONDS):
            board.say(board.status())

    threading.Thread(target=ticker, daemon=True).start()
    order = sorted(range(len(plans)), key=lambda i: -planned_seconds(plans[i]))
    pool = ThreadPoolExecutor(max_workers=max(1, jobs))
    try:
        futures = {i: pool.submit(one, plans[i]) for i in order}
        outcomes = [futures[i].result() for i in range(len(plans))]
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        finished.set()
    board.say(board.status())
    return outcomes
