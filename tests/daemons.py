"""Real daemons on loopback for integration tests, on top of relayops.stack.daemons."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from relayops.stack.commands import Launch, alertmanager
from relayops.stack.commands import redis as redis_launch
from relayops.stack.daemons import Running, free_port, on_free_port, start, stop

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

    An early exit is retried on a new port (on_free_port).
    """
    storage = tmp_path / "alertmanager-data"
    storage.mkdir(parents=True, exist_ok=True)
    launch = alertmanager(binary, config_path, storage)
    running, base = on_free_port(
        _starter("alertmanager", launch, tmp_path / "alertmanager.log"), attempts
    )
    try:
        yield base
    finally:
        stop(running)


@contextmanager
def run_redis(folder: Path, attempts: int = 3) -> Iterator[tuple[str, Running]]:
    """redis-server on a free loopback port, its data and log in `folder`; yields its URL and
    the started process. A port taken between choosing and binding it is tried again."""
    binary = require_binary("redis-server", "redis-server")
    data = folder / "redis-data"
    data.mkdir(exist_ok=True)
    running, url = on_free_port(
        _starter("redis-server", redis_launch(binary, data), folder / "redis.log"), attempts
    )
    try:
        yield url, running
    finally:
        stop(running)


def _starter(name: str, launch: Launch, log: Path) -> Callable[[int], tuple[Running, str]]:
    """Starts `name` on the port it is given, for on_free_port; returns the process and URL."""

    def attempt(port: int) -> tuple[Running, str]:
        argv, ready, url = launch(port)
        return start(name, argv, log, ready), url

    return attempt
