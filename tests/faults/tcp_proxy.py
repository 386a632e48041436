"""A loopback TCP proxy in front of one server, switchable while connections are open.

- `Mode.PASS` forwards both ways (after `delay` seconds per chunk, for a slow network).
- `Mode.BLACKHOLE` is a partition: nothing is forwarded either way and every connection stays
  open, so a client waits for an answer that does not come and sees no error. Bytes already
  sent stay queued and flow again when the mode goes back to PASS, as TCP retransmits them.
- `Mode.RESET` is a crashed server: every open connection is closed with a TCP reset and every
  new one is reset as soon as it is accepted.

A test that measures what follows a switch takes its own timestamps: after switching to a
fault (the fault cannot have begun later), before switching back (the server cannot have
answered earlier).
"""

from __future__ import annotations

import contextlib
import enum
import socket
import struct
import threading
import time

from relayops.stack.daemons import LOOPBACK

_POLL = 0.01  # seconds between looks at the mode while idle or black-holed
_CHUNK = 65536


class Mode(enum.Enum):
    PASS = "pass"
    BLACKHOLE = "blackhole"
    RESET = "reset"


def _reset(sock: socket.socket) -> None:
    """Close with RST instead of FIN (SO_LINGER on with a zero timeout)."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


class FaultProxy:
    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.mode = Mode.PASS
        self.delay = 0.0
        self._listener = socket.create_server((LOOPBACK, 0))
        self._listener.settimeout(_POLL * 5)
        self.port: int = self._listener.getsockname()[1]
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._threads = [threading.Thread(target=self._accept, daemon=True, name="proxy-accept")]
        self._threads[0].start()

    def switch(self, mode: Mode, delay: float = 0.0) -> None:
        """Change the mode for open and new connections."""
        self.delay = delay
        self.mode = mode
        if mode is Mode.RESET:
            with self._lock:
                doomed, self._open = self._open, set()
            for sock in doomed:
                _reset(sock)

    def close(self) -> None:
        self._closing.set()
        self._listener.close()
        with self._lock:
            doomed, self._open = self._open, set()
        for sock in doomed:
            sock.close()
        for thread in self._threads:
            thread.join(timeout=2)

    def __enter__(self) -> FaultProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _accept(self) -> None:
        while not self._closing.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            if self.mode is Mode.RESET:
                _reset(client)
                continue
            try:
                upstream = socket.create_connection((LOOPBACK, self.upstream_port), timeout=1)
            except OSError:
                _reset(client)
                continue
            with self._lock:
                self._open.update((client, upstream))
            for source, sink in ((client, upstream), (upstream, client)):
                pump = threading.Thread(
                    target=self._pump, args=(source, sink), daemon=True, name="proxy-pump"
                )
                self._threads.append(pump)
                pump.start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        source.settimeout(_POLL)
        while not self._closing.is_set():
            if self._held():
                continue
            try:
                data = source.recv(_CHUNK)
            except TimeoutError:
                continue
            except OSError:
                break
            if not data:
                break
            time.sleep(self.delay)
            while self._held():
                continue
            if self.mode is Mode.RESET:
                break
            try:
                sink.sendall(data)
            except OSError:
                break
        for sock in (source, sink):
            with self._lock:
                self._open.discard(sock)
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def _held(self) -> bool:
        """True, after a short wait, while black-holed and not closing."""
        if self.mode is Mode.BLACKHOLE and not self._closing.is_set():
            time.sleep(_POLL)
            return True
        return False
