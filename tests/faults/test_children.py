"""The child watcher names a daemon by the program it runs, even when it first saw the child
between fork and exec (the defect: a drill's Prometheus was recorded under Python's name, so a
test looking for `prometheus` among the drill's children found nothing)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from tests.faults.children import ChildWatcher

FORK_THEN_EXEC = """
import os, time
pid = os.fork()
if pid == 0:
    time.sleep(0.5)
    os.execvp("sleep", ["sleep", "30"])
print(pid, flush=True)
os.waitpid(pid, 0)
"""


def test_a_child_seen_before_exec_is_named_after_it() -> None:
    parent = subprocess.Popen([sys.executable, "-c", FORK_THEN_EXEC], stdout=subprocess.PIPE)
    watcher = ChildWatcher(parent.pid)
    assert parent.stdout is not None
    child = int(parent.stdout.readline())
    try:
        time.sleep(0.2)
        before_exec = watcher.seen()[child]
        time.sleep(0.8)
        assert not before_exec.endswith(":sleep")
        assert watcher.seen()[child].endswith(":sleep")
        assert set(watcher.still_running()) == {child}
    finally:
        os.kill(child, signal.SIGKILL)
        parent.wait(timeout=10)
