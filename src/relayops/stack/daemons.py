"""Start a daemon by its own PID, wait until it answers, and stop exactly that process."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import httpx

from relayops.stack.signals import held_stop_signals

LOOPBACK = "127.0.0.1"
DEBIAN_PACKAGES = {
    "prometheus": "prometheus",
    "prometheus-alertmanager": "prometheus-alertmanager",
    "prometheus-pushgateway": "prometheus-pushgateway",
    "redis-server": "redis-server",
}

# Children started by this Python process, so that stopping them also reaps them.
_children: dict[int, subprocess.Popen] = {}


class DaemonError(RuntimeError):
    """A daemon cannot be started: missing binary, port taken, or early exit."""


class DaemonExited(DaemonError):
    """The daemon exited while starting (a port taken since it was chosen, a bad config)."""


@dataclass(frozen=True)
class Running:
    """A started daemon: its PID and what identifies that PID as ours later."""

    pid: int
    identity: str


def find_binaries(names: list[str]) -> dict[str, str]:
    """Absolute path of each binary; one error naming every missing one and its package."""
    found = {name: shutil.which(name) for name in names}
    missing = [name for name, path in found.items() if path is None]
    if missing:
        lines = [
            f"{name} not found on PATH (Debian package {DEBIAN_PACKAGES.get(name, name)})"
            for name in missing
        ]
        raise DaemonError("\n".join([*lines, "install them with `make tools`"]))
    return {name: path for name, path in found.items() if path is not None}


def free_port() -> int:
    """A TCP port on the loopback that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return sock.getsockname()[1]


_T = TypeVar("_T")


def on_free_port(attempt: Callable[[int], _T], tries: int = 3) -> _T:
    """`attempt(port)` on a free loopback port. Another process can take the port between
    choosing it and the daemon's bind, so a daemon that exits early (DaemonExited) is tried
    again on a new port, `tries` times in all."""
    for _ in range(tries - 1):
        with contextlib.suppress(DaemonExited):
            return attempt(free_port())
    return attempt(free_port())


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((LOOPBACK, port))
        except OSError:
            return False
        return True


_probe_lock = threading.Lock()
_probe: list[httpx.Client] = []


def probe_client() -> httpx.Client:
    """The one client every readiness probe shares, made by the first (stacks start in
    parallel threads). Making an httpx client loads the CA bundle, about 40 ms of CPU; a probe
    polled every 50 ms by each of dozens of starting daemons kept the CPU busy with that alone."""
    with _probe_lock:
        if not _probe:
            _probe.append(httpx.Client(timeout=0.5))
        return _probe[0]


def http_ready(url: str) -> Callable[[], bool]:
    def check() -> bool:
        try:
            return probe_client().get(url).status_code == 200
        except httpx.HTTPError:
            return False

    return check


def redis_ready(port: int) -> Callable[[], bool]:
    """PING over a plain socket, so redis-cli is not needed."""

    def check() -> bool:
        try:
            with socket.create_connection((LOOPBACK, port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(64).startswith(b"+PONG")
        except OSError:
            return False

    return check


def identity(pid: int) -> str | None:
    """The kernel start time and command name of `pid`, or None once it is gone (or a zombie).

    Comparing both with what was recorded at start guards against a reused PID. The command
    line is not used: Redis rewrites its own once started, so it would differ between the
    record made at spawn (for `stack down` after a crash) and the one made when ready.
    """
    try:
        stat = (Path("/proc") / str(pid) / "stat").read_text()
    except OSError:
        return None
    name = stat[stat.index("(") + 1 : stat.rindex(")")]
    fields = stat.rsplit(")", 1)[1].split()
    if fields[0] == "Z":
        return None
    return f"{fields[19]}:{name}"


def tail(path: Path, lines: int = 20) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:]) or "(empty log)"


def start(
    name: str,
    argv: list[str],
    log: Path,
    ready: Callable[[], bool],
    spawned: Callable[[Running], None] | None = None,
) -> Running:
    """Start argv in its own session (it outlives the caller), logging to `log`; wait ready.

    `spawned` is told the process as soon as it exists, before the wait, so a caller can
    record it where `stack down` finds it even if the caller dies while waiting. Raises
    DaemonError with the tail of the log if it exits or is not ready within 10 s; a daemon
    that is merely slow is stopped first.
    """
    log.parent.mkdir(parents=True, exist_ok=True)
    with held_stop_signals(), log.open("wb") as out:
        process = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        _children[process.pid] = process
        if spawned is not None:
            spawned(Running(process.pid, identity(process.pid) or ""))
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if process.poll() is not None:
            _children.pop(process.pid, None)
            raise DaemonExited(
                f"{name} exited with status {process.returncode} while starting; "
                f"last lines of {log}:\n{tail(log)}"
            )
        if ready():
            found = identity(process.pid)
            if found is not None:
                return Running(process.pid, found)
        time.sleep(0.05)
    stop(Running(process.pid, identity(process.pid) or ""))
    raise DaemonError(f"{name} was not ready after 10 s; last lines of {log}:\n{tail(log)}")


def _wait_gone(pid: int, timeout: float) -> bool:
    child = _children.get(pid)
    if child is not None:
        try:
            child.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return False
        _children.pop(pid, None)
        return True
    deadline = time.monotonic() + timeout
    while identity(pid) is not None:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def _signal_if_ours(running: Running, signum: int) -> bool:
    """Send `signum` if the PID is still the process started; False (nothing sent) when it is
    gone or now belongs to another program."""
    if identity(running.pid) != running.identity:
        return False
    with contextlib.suppress(ProcessLookupError):
        os.kill(running.pid, signum)
    return True


def stop(running: Running, timeout: float = 5.0) -> bool:
    """SIGTERM the process if it is still the one started, wait, SIGKILL after `timeout`.

    Returns False when the PID is gone or now belongs to another program (nothing is sent).
    """
    if not _signal_if_ours(running, signal.SIGTERM):
        _wait_gone(running.pid, 0)
        return False
    if not _wait_gone(running.pid, timeout):
        with contextlib.suppress(ProcessLookupError):
            os.kill(running.pid, signal.SIGKILL)
        _wait_gone(running.pid, timeout)
    return True


def kill(running: Running) -> bool:
    """SIGKILL the process if it is still the one started (no grace: a forced stop); False
    when the PID is gone or now belongs to another program."""
    if not _signal_if_ours(running, signal.SIGKILL):
        return False
    _wait_gone(running.pid, 1.0)
    return True
