"""Real daemons on loopback for integration tests, on top of relayops.stack.daemons."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from relayops.stack.commands import alertmanager
from relayops.stack.commands import redis as redis_launch
from relayops.stack.daemons import DaemonExited, Running, free_port, start, stop

__all__ = ["ALERTMANAGER", "free_port", "require_binary", "run_alertmanager", "run_redis"]

ALERTMANAGER = "prometheus-alertmanager"


def require_binary(name: str, package: str) -> str:
    """Absolute path of `name`; skip the test when it is missing, naming the Debian package."""
    found = shutil.which(name)
    if found is None:
        pytest.skip(f"{name} is not installed: apt-get install {package} (or make tools)")
    return found


@contextmanager
def run_alertmanager(
    config_path: Path, tmp_path: Path, binary: str = ALERTMANAGER, attempts: int = 3
) -> Iterator[str]:
    """Run Alertmanager on a free loopback port with no cluster gossip; yield its base URL.

    Another process can take the port between `free_port` and the bind, so an early exit is
    retried on a new port.
    """
    storage = tmp_path / "alertmanager-data"
    storage.mkdir(parents=True, exist_ok=True)
    launch = alertmanager(binary, config_path, storage)
    for attempt in range(attempts):
        argv, ready, base = launch(free_port())
        try:
            running = start("alertmanager", argv, tmp_path / "alertmanager.log", ready)
        except DaemonExited:
            if attempt == attempts - 1:
                raise
            continue
        try:
            yield base
        finally:
            stop(running)
        return


@contextmanager
def run_redis(folder: Path, attempts: int = 3) -> Iterator[tuple[str, Running]]:
    """redis-server on a free loopback port, its data and log in `folder`; yields its URL and
    the started process. A port taken between choosing and binding it is tried again."""
    binary = require_binary("redis-server", "redis-server")
    data = folder / "redis-data"
    data.mkdir(exist_ok=True)
    launch = redis_launch(binary, data)
    for attempt in range(attempts):
        argv, ready, url = launch(free_port())
        try:
            running = start("redis-server", argv, folder / "redis.log", ready)
        except DaemonExited:
            if attempt == attempts - 1:
                raise
            continue
        try:
            yield url, running
        finally:
            stop(running)
        return
