"""SIGTERM and SIGINT handled the same way for a block of code, the previous handlers restored
afterwards. A command that starts daemons must stop them on either: they run in sessions of
their own and would outlive it."""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager

STOPS = (signal.SIGTERM, signal.SIGINT)

Handler = Callable[[int, object], None]


@contextmanager
def on_stop_signals(handler: Handler) -> Iterator[None]:
    previous = {signum: signal.signal(signum, handler) for signum in STOPS}
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)


def ignore_stop_signals() -> None:
    """From now until the block ends: a clean-up that must not be cut short is under way."""
    for signum in STOPS:
        signal.signal(signum, signal.SIG_IGN)
