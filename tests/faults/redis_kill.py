"""A redis-server that can be killed at a chosen command and brought back with its data.

The server writes every command to its append-only file before answering (`appendfsync
always`), so after SIGKILL and a restart on the same folder and port it holds exactly what it
had acknowledged: what a failover or a crash leaves an SRE to look at. `killing_at(n)` makes a
client whose n-th round trip to the server (a command, or a whole pipeline) finds it dead.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import redis

from relayops.stack.daemons import LOOPBACK, Running, free_port, redis_ready, start, stop
from tests.daemons import require_binary


class DurableRedis:
    def __init__(self, folder: Path) -> None:
        self.binary = require_binary("redis-server", "redis-server")
        self.folder = folder
        self.port = free_port()
        self.url = f"redis://{LOOPBACK}:{self.port}/0"
        self.running: Running | None = None
        self.sent = 0  # round trips of the last `killing_at` client

    def start(self) -> None:
        argv = [self.binary, "--port", str(self.port), "--bind", LOOPBACK]
        argv += ["--dir", str(self.folder), "--save", ""]
        argv += ["--appendonly", "yes", "--appendfsync", "always"]
        self.running = start(
            "redis-server", argv, self.folder / "redis.log", redis_ready(self.port)
        )

    def kill(self) -> None:
        """SIGKILL: no shutdown, no last write."""
        assert self.running is not None
        os.kill(self.running.pid, signal.SIGKILL)
        stop(self.running, timeout=2)
        self.running = None

    def freeze(self) -> None:
        """SIGSTOP: connections are still accepted by the kernel and never answered (a hung
        server); `thaw` resumes it."""
        assert self.running is not None
        os.kill(self.running.pid, signal.SIGSTOP)

    def thaw(self) -> None:
        assert self.running is not None
        os.kill(self.running.pid, signal.SIGCONT)

    def stop(self) -> None:
        if self.running is not None:
            stop(self.running)
            self.running = None

    def killing_at(self, round_trip: int) -> redis.Redis:
        """A client whose `round_trip`-th send to the server kills it first."""
        server = self
        server.sent = 0

        class Dying(redis.Connection):
            def send_packed_command(self, command, check_health=True):
                server.sent += 1
                if server.sent == round_trip and server.running is not None:
                    server.kill()
                return super().send_packed_command(command, check_health)

        pool = redis.ConnectionPool(
            connection_class=Dying, host=LOOPBACK, port=self.port, socket_timeout=2
        )
        return redis.Redis(connection_pool=pool)


@contextmanager
def durable_redis(folder: Path) -> Iterator[DurableRedis]:
    server = DurableRedis(folder)
    server.start()
    try:
        yield server
    finally:
        if server.running is not None:
            os.kill(server.running.pid, signal.SIGCONT)
        server.stop()
