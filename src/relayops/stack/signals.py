"""SIGTERM and SIGINT handled the same way for a block of code, the previous handlers restored
afterwards. A command that starts daemons must stop them on either: they run in sessions of
their own and would outlive it.

A handler may raise (`relayops stack up` unwinds to stop what it started), and Python runs it
between any two bytecodes of the main thread: right after a daemon's process was created and
before it was recorded, it would leave that daemon running with nobody to stop it. Code that
creates and records a process runs under `held_stop_signals`: a signal arriving meanwhile is
handled as soon as the block ends.
"""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import FrameType

STOPS = (signal.SIGTERM, signal.SIGINT)

Handler = Callable[[int, object], None]


@dataclass
class _Held:
    depth: int = 0  # nested held_stop_signals blocks running
    pending: list[tuple[int, FrameType | None]] = field(default_factory=list)


_HELD = _Held()


def _holding(handler: Handler) -> Handler:
    def run(signum: int, frame: FrameType | None) -> None:
        if _HELD.depth:
            _HELD.pending.append((signum, frame))
        else:
            handler(signum, frame)

    return run


@contextmanager
def on_stop_signals(handler: Handler) -> Iterator[None]:
    previous = {signum: signal.signal(signum, _holding(handler)) for signum in STOPS}
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)


@contextmanager
def held_stop_signals() -> Iterator[None]:
    """Run the block whole: a stop signal arriving in it is handled when it ends (where the
    handler may raise), by the handler in place then."""
    _HELD.depth += 1
    try:
        yield
    finally:
        _HELD.depth -= 1
        if not _HELD.depth and _HELD.pending:
            signum, frame = _HELD.pending[0]
            _HELD.pending.clear()
            handler = signal.getsignal(signum)
            if callable(handler):
                handler(signum, frame)


def ignore_stop_signals() -> None:
    """From now until the block ends: a clean-up that must not be cut short is under way."""
    for signum in STOPS:
        signal.signal(signum, signal.SIG_IGN)
