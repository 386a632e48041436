"""Real daemons on loopback for integration tests: free ports, start, wait ready, stop."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

ALERTMANAGER = "prometheus-alertmanager"


def require_binary(name: str, package: str) -> str:
    """Absolute path of `name`; skip the test when it is missing, naming the Debian package."""
    found = shutil.which(name)
    if found is None:
        pytest.skip(f"{name} is not installed: apt-get install {package} (or make tools)")
    return found


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_ready(process: subprocess.Popen, url: str, timeout: float) -> bool:
    """True once `url` answers 200; False if the process exits first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        try:
            if httpx.get(url, timeout=0.5).status_code == 200:
                return True
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise TimeoutError(f"{url} not ready after {timeout}s")


@contextmanager
def run_alertmanager(
    config_path: Path, tmp_path: Path, binary: str = ALERTMANAGER, attempts: int = 3
) -> Iterator[str]:
    """Run Alertmanager on a free loopback port with no cluster gossip; yield its base URL.

    Another process can take the port between `free_port` and the bind, so an early exit is
    retried on a new port. The daemon is stopped with SIGTERM by its own PID.
    """
    storage = tmp_path / "alertmanager-data"
    storage.mkdir(parents=True, exist_ok=True)
    log_path = tmp_path / "alertmanager.log"
    for _ in range(attempts):
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [
                    binary,
                    f"--config.file={config_path}",
                    f"--storage.path={storage}",
                    f"--web.listen-address=127.0.0.1:{port}",
                    "--cluster.listen-address=",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            try:
                if _wait_ready(process, f"{base}/-/ready", timeout=10):
                    yield base
                    return
            finally:
                _stop(process)
    raise RuntimeError(f"Alertmanager did not start:\n{log_path.read_text(errors='replace')}")
