"""Stopping a batch of drills part-way, with every daemon it started.

The stacks' daemons run in sessions of their own (a `stack up` stack outlives its command), so
a drill process that just exits leaves them running. The first SIGTERM or SIGINT asks every
drill to stop at its next wait (at most a poll or a push tick away); each then leaves its
`running_stack` block, which stops its daemons, and the command exits 128 + the signal number.
A second signal forces it: every daemon of every stack still recorded is killed (SIGKILL, no
grace) and the process exits.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from relayops.stack import kill_every_stack
from relayops.stack.signals import on_stop_signals


class Cancelled(Exception):
    """The batch was asked to stop; not a verdict on any drill."""


class StopRequest:
    """Set once, from a signal handler or a test; every wait of a drill goes through it."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self.signum = 0

    def request(self, signum: int) -> None:
        self.signum = signum
        self._event.set()

    @property
    def requested(self) -> bool:
        return self._event.is_set()

    @property
    def reason(self) -> str:
        return signal.Signals(self.signum).name if self.signum else "a stop request"

    def check(self) -> None:
        """Raise Cancelled once a stop was requested."""
        if self._event.is_set():
            raise Cancelled(f"stopped by {self.reason}")

    def sleep(self, seconds: float) -> None:
        """time.sleep that raises Cancelled as soon as a stop is requested."""
        if self._event.wait(max(0.0, seconds)):
            raise Cancelled(f"stopped by {self.reason}")


@contextmanager
def stopping_on_signals(stop: StopRequest, say: Callable[[str], None]) -> Iterator[None]:
    """SIGTERM and SIGINT request `stop` for the block; a second one stops every stack and
    exits at once. The previous handlers are restored afterwards."""

    def handle(signum: int, frame: object) -> None:
        if not stop.requested:
            stop.request(signum)
            say(
                f"relayops: {stop.reason}: stopping the drills and their daemons "
                "(send it again to force)"
            )
            return
        killed = kill_every_stack()
        name = signal.Signals(signum).name
        say(f"relayops: {name} while stopping: killed {len(killed)} daemon(s)")
        os._exit(128 + signum)

    with on_stop_signals(handle):
        yield
