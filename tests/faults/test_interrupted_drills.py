"""Signals to a running `relayops drill` or `relayops stack up` leave no daemon behind (the
defect: SIGTERM exited at once leaving Prometheus, Alertmanager, the Pushgateway and the sink
running; SIGINT did not stop the drill within 30 s).

The daemons are found from /proc as children of the command (tests/faults/children.py), not from
the stack records the code under test writes; "gone" means the PID no longer belongs to the
process that was started.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from relayops.stack.state import STATE_FILE
from tests.daemons import require_binary
from tests.faults.children import ChildWatcher
from tests.specs_util import SPECS

REPO = Path(__file__).resolve().parents[2]
STOPPED_WITHIN = 20.0  # seconds from the signal to the command's exit, daemons stopped
DRILL = ["drill", "run", "error-rate-crit", "--provider", "gmail", "--specs", str(SPECS)]


@pytest.fixture(autouse=True)
def _daemons_installed() -> None:
    for name, package in [
        ("prometheus", "prometheus"),
        ("prometheus-alertmanager", "prometheus-alertmanager"),
        ("prometheus-pushgateway", "prometheus-pushgateway"),
    ]:
        require_binary(name, package)


class Command:
    """`relayops ARGS` in a child process, its output lines collected as they come."""

    def __init__(self, args: list[str], tmp: Path) -> None:
        env = {**os.environ, "TMPDIR": str(tmp), "PYTHONUNBUFFERED": "1"}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "relayops.cli", *args],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.children = ChildWatcher(self.process.pid)
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    def wait_for(self, found: Callable[[], bool], what: str, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while not found():
            if self.process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"never saw {what}; output:\n" + "\n".join(self.lines[-30:]))
            time.sleep(0.05)

    def saw(self, text: str) -> Callable[[], bool]:
        return lambda: any(text in line for line in self.lines)

    def signal(self, signum: int) -> float:
        self.process.send_signal(signum)
        return time.monotonic()

    def exit_code(self, since: float) -> tuple[int, float]:
        """The exit status and the seconds from `since` to the exit."""
        try:
            code = self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            pytest.fail("the command did not exit within 60 s of the signal")
        took = time.monotonic() - since
        self._reader.join(timeout=5)
        return code, took


@contextmanager
def relayops(args: list[str], tmp: Path) -> Iterator[Command]:
    command = Command(args, tmp)
    try:
        yield command
    finally:
        if command.process.poll() is None:
            command.process.kill()
            command.process.wait()
        for pid in command.children.still_running():
            os.kill(pid, signal.SIGKILL)


def stack_files(tmp: Path) -> list[Path]:
    return list(tmp.rglob(STATE_FILE))


def assert_clean_stop(command: Command, since: float, signum: int) -> None:
    code, took = command.exit_code(since)
    left = command.children.still_running()
    seen = command.children.finish()
    assert len(seen) >= 2, f"the test saw only {len(seen)} daemon(s) start"
    assert not left, f"still running after {signal.Signals(signum).name}: {sorted(left)}"
    assert code == 128 + signum, "\n".join(command.lines[-20:])
    assert took < STOPPED_WITHIN, f"took {took:.1f} s to stop"


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_during_the_drill_stops_every_daemon(tmp_path: Path, signum: int) -> None:
    with relayops(DRILL, tmp_path) as drill:
        drill.wait_for(drill.saw("warmed up"), "the drill warm up")
        sent = drill.signal(signum)
        assert_clean_stop(drill, sent, signum)
        name = signal.Signals(signum).name
        assert drill.saw(f"drills stopped by {name}; every daemon they started is stopped")()
        assert not stack_files(tmp_path)


def test_a_signal_while_the_stack_starts_stops_every_daemon(tmp_path: Path) -> None:
    """SIGINT once the first daemon is recorded: the rest of the stack is still starting."""
    with relayops(DRILL, tmp_path) as drill:
        drill.wait_for(lambda: len(drill.children.seen()) >= 1, "the first daemon")
        sent = drill.signal(signal.SIGINT)
        assert_clean_stop(drill, sent, signal.SIGINT)


def test_a_second_signal_forces_the_stop(tmp_path: Path) -> None:
    """Prometheus is frozen (SIGSTOP), so the clean stop after SIGTERM hangs on it for its 5 s
    grace; SIGINT meanwhile kills every daemon of the stack and exits."""
    with relayops(DRILL, tmp_path) as drill:
        drill.wait_for(drill.saw("warmed up"), "the drill warm up")
        [prometheus] = [
            pid for pid, who in drill.children.seen().items() if who.endswith(":prometheus")
        ]
        os.kill(prometheus, signal.SIGSTOP)
        sent = drill.signal(signal.SIGTERM)
        drill.wait_for(drill.saw("send it again to force"), "the first signal's notice", 10)
        time.sleep(0.5)
        drill.signal(signal.SIGINT)
        code, took = drill.exit_code(sent)
        assert not drill.children.still_running()
        assert code == 128 + signal.SIGINT and took < STOPPED_WITHIN
        assert drill.saw("SIGINT while stopping: killed 4 daemon(s)")(), drill.lines[-3:]
        assert not drill.saw("every daemon they started is stopped")()


def test_stack_up_interrupted_while_starting_stops_what_it_started(tmp_path: Path) -> None:
    require_binary("redis-server", "redis-server")
    state = tmp_path / "stack"
    with relayops(["stack", "up", "--specs", str(SPECS), "--state", str(state)], tmp_path) as up:
        up.wait_for(lambda: len(up.children.seen()) >= 2, "two daemons")
        sent = up.signal(signal.SIGTERM)
        assert_clean_stop(up, sent, signal.SIGTERM)
        assert up.saw("stack up stopped by SIGTERM; stopped what it had started")()


def test_stack_down_after_stack_up_was_killed(tmp_path: Path) -> None:
    """SIGKILL while the stack starts: each daemon was recorded as soon as its process existed,
    so `stack down` finds every one, including the one that was still starting."""
    require_binary("redis-server", "redis-server")
    state = tmp_path / "stack"
    with relayops(["stack", "up", "--specs", str(SPECS), "--state", str(state)], tmp_path) as up:
        up.wait_for(lambda: len(up.children.seen()) >= 3, "three daemons")
        up.signal(signal.SIGKILL)
        up.process.wait(timeout=10)
        started = up.children.finish()
        assert len(started) >= 3
        down = subprocess.run(
            [sys.executable, "-m", "relayops.cli", "stack", "down", "--state", str(state)],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )
        assert down.returncode == 0, down.stderr
        assert not up.children.still_running(), down.stdout
        assert not state.exists()
