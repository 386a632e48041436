"""How to run each component on a given loopback port: argv, readiness check and URL."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import httpx

from relayops.stack.daemons import LOOPBACK, http_ready, probe_client, redis_ready

Ready = Callable[[], bool]
# port -> (argv, readiness check, URL)
Launch = Callable[[int], tuple[list[str], Ready, str]]


def _http(port: int) -> str:
    return f"http://{LOOPBACK}:{port}"


def sink(log: Path) -> Launch:
    def launch(port: int) -> tuple[list[str], Ready, str]:
        argv = [sys.executable, "-m", "relayops.stack.sink", f"--port={port}", f"--log={log}"]
        return argv, http_ready(f"{_http(port)}/-/ready"), _http(port)

    return launch


def redis(binary: str, data_dir: Path) -> Launch:
    """No snapshots or append-only file: drill data is thrown away with the stack."""

    def launch(port: int) -> tuple[list[str], Ready, str]:
        argv = [binary, "--port", str(port), "--bind", LOOPBACK, "--dir", str(data_dir)]
        argv += ["--save", "", "--appendonly", "no"]
        return argv, redis_ready(port), f"redis://{LOOPBACK}:{port}/0"

    return launch


def pushgateway(binary: str) -> Launch:
    """In memory only: Debian's build persists to /var/lib/prometheus/pushgateway.data by
    default, which every stack would load at start and write at exit, so one stack's groups
    (another drill's, a test's) would appear in the next."""

    def launch(port: int) -> tuple[list[str], Ready, str]:
        argv = [binary, f"--web.listen-address={LOOPBACK}:{port}", "--persistence.file="]
        return argv, http_ready(f"{_http(port)}/-/ready"), _http(port)

    return launch


def alertmanager(binary: str, config: Path, data_dir: Path) -> Launch:
    """An empty cluster address turns gossip off (it would bind 0.0.0.0:9094)."""

    def launch(port: int) -> tuple[list[str], Ready, str]:
        argv = [
            binary,
            f"--config.file={config}",
            f"--storage.path={data_dir}",
            f"--web.listen-address={LOOPBACK}:{port}",
            "--cluster.listen-address=",
        ]
        return argv, http_ready(f"{_http(port)}/-/ready"), _http(port)

    return launch


def prometheus(binary: str, config: Path, data_dir: Path) -> Launch:
    """Alerts are resent every second (default 1m) so drills see state changes quickly."""

    def launch(port: int) -> tuple[list[str], Ready, str]:
        argv = [
            binary,
            f"--config.file={config}",
            f"--storage.tsdb.path={data_dir}",
            f"--web.listen-address={LOOPBACK}:{port}",
            "--rules.alert.resend-delay=1s",
        ]
        return argv, prometheus_wired(_http(port)), _http(port)

    return launch


def prometheus_wired(url: str) -> Ready:
    """Ready, scraping the Pushgateway, and sending to Alertmanager.

    Prometheus applies discovered targets and Alertmanagers up to 5 s after it is ready;
    until then pushed metrics are not scraped and alerts are dropped, which would skew the
    first drill's timings.
    """
    ready = http_ready(f"{url}/-/ready")

    def check() -> bool:
        if not ready():
            return False
        try:
            targets = probe_client().get(f"{url}/api/v1/targets").json()["data"]
            managers = probe_client().get(f"{url}/api/v1/alertmanagers").json()["data"]
        except (httpx.HTTPError, ValueError, KeyError):
            return False
        scraped = any(t["health"] == "up" for t in targets["activeTargets"])
        return scraped and bool(managers["activeAlertmanagers"])

    return check
