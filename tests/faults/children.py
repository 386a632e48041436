"""Every process a command starts, found from /proc rather than from the command's own records.

A daemon started in a session of its own is still a child of the process that started it until
that process exits, so scanning /proc for processes whose parent is the command every few
milliseconds, until it exits, sees each daemon it started. What a test then asserts about them
does not depend on the state files the code under test writes.
"""

from __future__ import annotations

import threading
from pathlib import Path

from relayops.stack.daemons import identity

_PROC = Path("/proc")


def _parent(pid: int) -> int | None:
    try:
        stat = (_PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[1])


class ChildWatcher:
    def __init__(self, parent: int) -> None:
        self.parent = parent
        self._seen: dict[int, str] = {}
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._scan, daemon=True)
        self._thread.start()

    def _scan(self) -> None:
        while not self._done.wait(0.005):
            for entry in _PROC.iterdir():
                if entry.name.isdigit() and _parent(int(entry.name)) == self.parent:
                    self._record(int(entry.name))
            if identity(self.parent) is None:
                return

    def _record(self, pid: int) -> None:
        """Record the child, or its new name if it has exec'd since it was first seen.

        A child seen between fork and exec still carries the parent's command name; the start
        time stays the same across exec, so a later scan renames it (a different start time
        would be a reused PID, which keeps the first record).
        """
        found = identity(pid)
        if found is None:
            return
        known = self._seen.get(pid)
        if known is None or known.split(":", 1)[0] == found.split(":", 1)[0]:
            self._seen[pid] = found

    def seen(self) -> dict[int, str]:
        """The children seen so far, by PID, with their identities (scanning goes on)."""
        return dict(self._seen)

    def finish(self) -> dict[int, str]:
        """Stop scanning (the parent has exited); every child seen, by PID, with its identity."""
        self._done.set()
        self._thread.join(timeout=5)
        return dict(self._seen)

    def still_running(self) -> dict[int, str]:
        """The children seen that are still the same processes."""
        return {pid: who for pid, who in self.finish().items() if identity(pid) == who}
