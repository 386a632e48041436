"""A stop signal never lands between creating a daemon's process and recording it: the handler
(which may raise, as `relayops stack up`'s does) runs when that step is over. The signal is
sent to this process for real, at the worst moment."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import pytest

from relayops.stack.daemons import Running, start, stop
from relayops.stack.signals import held_stop_signals, on_stop_signals


class Stopped(BaseException):
    pass


def raise_stopped(signum: int, frame: object) -> None:
    raise Stopped(signum)


def test_a_signal_in_a_held_block_is_handled_when_it_ends() -> None:
    done = []
    with on_stop_signals(raise_stopped), pytest.raises(Stopped):
        with held_stop_signals():
            os.kill(os.getpid(), signal.SIGTERM)
            done.append("the rest of the block")
        done.append("after the block")
    assert done == ["the rest of the block"]


def test_outside_a_held_block_the_handler_runs_at_once() -> None:
    done = []
    with on_stop_signals(raise_stopped), pytest.raises(Stopped):
        os.kill(os.getpid(), signal.SIGTERM)
        done.append("never")
    assert done == []


def test_a_daemon_signalled_while_it_is_recorded_is_recorded_before_the_handler_runs(
    tmp_path: Path,
) -> None:
    recorded: list[Running] = []

    def spawned(running: Running) -> None:
        os.kill(os.getpid(), signal.SIGTERM)  # the stop arrives before the record is made
        recorded.append(running)

    argv = [sys.executable, "-c", "import time; time.sleep(60)"]
    with on_stop_signals(raise_stopped), pytest.raises(Stopped):
        start("sleeper", argv, tmp_path / "sleeper.log", lambda: False, spawned)
    assert len(recorded) == 1, "the handler cut the record short: the daemon would be left"
    assert stop(recorded[0])
