"""Shared base of the fake provider servers: a real threaded HTTP server on 127.0.0.1.

Subclasses declare routes and provider-style error bodies. The base reads each request (keeping
at most `body_limit` bytes), records it, applies the shared FaultPlan, counts deliveries, and
stops cleanly: it closes open keep-alive connections and joins every handler thread.
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import struct
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Generic, Protocol, Self, TypeVar
from urllib.parse import parse_qs, urlsplit

from relayops.fakes.faults import Fault, FaultKind, FaultPlan

_CHUNK = 64 * 1024
_JOIN_SECONDS = 5.0


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # names lower-cased
    body: bytes  # empty when too_large: the body was read and discarded
    body_size: int
    too_large: bool = False

    def param(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def json(
        cls,
        status: int,
        payload: Any,
        headers: Mapping[str, str] | None = None,
        content_type: str = "application/json; charset=UTF-8",
    ) -> Response:
        return cls(
            status, json.dumps(payload).encode(), {"Content-Type": content_type, **(headers or {})}
        )


@dataclass(frozen=True)
class Drop:
    """Close the connection without a response."""

    hard: bool


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body_size: int
    at: float  # time.time() when the request had been read
    fault: FaultKind | None = None
    status: int | None = None  # None when dropped


@dataclass(frozen=True)
class Route:
    method: str
    pattern: re.Pattern[str]
    handler: Callable[[Request, re.Match[str]], Response]


class Delivery(Protocol):
    def header(self, name: str) -> str | None: ...


D = TypeVar("D", bound=Delivery)


def bare_id(value: str) -> str:
    """A message id without surrounding whitespace and angle brackets."""
    return value.strip().strip("<>")


class FakeServer(Generic[D]):
    """Base of a fake provider; use as a context manager or call start() and stop()."""

    def __init__(self, faults: FaultPlan | None = None) -> None:
        self.faults = faults if faults is not None else FaultPlan()
        self._lock = threading.Lock()
        self._requests: list[RecordedRequest] = []
        self._deliveries: list[D] = []
        self._stopping = threading.Event()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._routes = self.routes()

    def routes(self) -> list[Route]:
        raise NotImplementedError

    def error_response(self, status: int, message: str | None = None) -> Response:
        """The provider's error response for `status`; also used by STATUS faults."""
        raise NotImplementedError

    def body_limit(self, path: str) -> int:
        """Largest request body accepted on `path`; larger ones get a 413."""
        raise NotImplementedError

    def start(self) -> Self:
        if self._httpd is not None or self._stopping.is_set():
            raise RuntimeError("a fake server starts once")
        self._httpd = _HTTPServer(self)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"{type(self).__name__}-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, close open connections, join handler threads, free the port."""
        httpd, thread = self._httpd, self._thread
        if httpd is None or thread is None or self._stopping.is_set():
            return
        self._stopping.set()  # wakes SLOW faults
        httpd.shutdown()
        httpd.close_connections()
        httpd.server_close()
        thread.join(_JOIN_SECONDS)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("not started")
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    @property
    def deliveries(self) -> list[D]:
        with self._lock:
            return list(self._deliveries)

    @property
    def delivery_count(self) -> int:
        with self._lock:
            return len(self._deliveries)

    def delivered(self, header: str, value: str) -> int:
        """How many stored messages carry `header: value` (angle brackets ignored)."""
        wanted = bare_id(value)
        found = (d.header(header) for d in self.deliveries)
        return sum(1 for value in found if value is not None and bare_id(value) == wanted)

    def deliver(self, message: D) -> None:
        with self._lock:
            self._deliveries.append(message)

    def dispatch(self, request: Request) -> Response | Drop:
        record = RecordedRequest(
            request.method,
            request.path,
            {name: list(values) for name, values in request.query.items()},
            dict(request.headers),
            request.body_size,
            time.time(),
        )
        with self._lock:
            self._requests.append(record)
        fault = self.faults.take(request.path)
        record.fault = fault.kind if fault else None
        outcome = self._apply(fault, request)
        if isinstance(outcome, Response):
            record.status = outcome.status
        return outcome

    def handle(self, request: Request) -> Response:
        if request.too_large:
            return self.error_response(413)
        method_mismatch = False
        for route in self._routes:
            match = route.pattern.fullmatch(request.path)
            if match is None:
                continue
            if route.method == request.method:
                return route.handler(request, match)
            method_mismatch = True
        if method_mismatch:
            return self.error_response(405, f"Method {request.method} not allowed.")
        return self.error_response(404, f"No resource at {request.path}.")

    def _apply(self, fault: Fault | None, request: Request) -> Response | Drop:
        if fault is None:
            return self.handle(request)
        status = fault.status or 500
        match fault.kind:
            case FaultKind.SLOW:
                if self._stopping.wait(fault.seconds):
                    return Drop(hard=False)
                return self.handle(request)
            case FaultKind.RESET:
                return Drop(fault.hard)
            case FaultKind.STATUS:
                return _override(self.error_response(status), fault, status)
            case FaultKind.ACCEPT_THEN:
                response = self.handle(request)
                if not 200 <= response.status < 300:
                    return response
                base = response if fault.keep_body else self.error_response(status)
                return _override(base, fault, status)


def _override(base: Response, fault: Fault, status: int) -> Response:
    body = base.body if fault.body is None else fault.body
    return Response(status, body, {**base.headers, **fault.headers})


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as provider clients use
    # Headers and body go out in two writes; with Nagle on, the body waits for the client's
    # delayed ACK of the headers (about 40 ms a response on keep-alive connections).
    disable_nagle_algorithm = True
    server_version = "relay-fake"
    sys_version = ""
    server: _HTTPServer

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_PUT(self) -> None:
        self._serve()

    def do_PATCH(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the per-request log lines; requests are recorded instead."""

    def _serve(self) -> None:
        try:
            request = self._read_request()
        except ValueError:
            self.send_error(400, "Malformed body framing")
            return
        outcome = self.server.fake.dispatch(request)
        if isinstance(outcome, Drop):
            self._drop(outcome.hard)
        else:
            self._write(outcome)

    def _read_request(self) -> Request:
        split = urlsplit(self.path)
        limit = self.server.fake.body_limit(split.path)
        kept, size = bytearray(), 0
        for chunk in self._body_chunks():
            size += len(chunk)
            if size <= limit:
                kept += chunk
        too_large = size > limit
        return Request(
            method=self.command,
            path=split.path,
            query=parse_qs(split.query, keep_blank_values=True),
            headers={name.lower(): value for name, value in self.headers.items()},
            body=b"" if too_large else bytes(kept),
            body_size=size,
            too_large=too_large,
        )

    def _body_chunks(self) -> Iterator[bytes]:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            yield from self._chunked()
            return
        yield from self._exactly(int(self.headers.get("Content-Length") or 0))

    def _chunked(self) -> Iterator[bytes]:
        while size := int(self.rfile.readline(1024).split(b";")[0].strip() or b"0", 16):
            yield from self._exactly(size)
            self.rfile.readline(1024)  # the CRLF closing the chunk
        while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
            pass  # trailer fields

    def _exactly(self, size: int) -> Iterator[bytes]:
        remaining = size
        while remaining > 0:
            chunk = self.rfile.read(min(remaining, _CHUNK))
            if not chunk:
                return  # the client went away, or the server is stopping
            remaining -= len(chunk)
            yield chunk

    def _write(self, response: Response) -> None:
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        self.wfile.write(response.body)

    def _drop(self, hard: bool) -> None:
        self.close_connection = True
        if hard:
            linger = struct.pack("ii", 1, 0)
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
            self.connection.close()


class _HTTPServer(ThreadingHTTPServer):
    request_queue_size = 128
    block_on_close = False  # stop() joins the handler threads itself

    def __init__(self, fake: FakeServer[Any]) -> None:
        self.fake = fake
        self._live: dict[socket.socket, threading.Thread] = {}
        self._live_lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        # Registered on the serving thread, so stop() sees every connection once shutdown() returns.
        thread = threading.Thread(
            target=self.process_request_thread, args=(request, client_address), daemon=True
        )
        with self._live_lock:
            self._live[request] = thread
        thread.start()

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            with self._live_lock:
                self._live.pop(request, None)

    def close_connections(self) -> None:
        with self._live_lock:
            live = dict(self._live)
        for connection in live:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        for thread in live.values():
            thread.join(_JOIN_SECONDS)

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], OSError):
            return  # the client went away, or stop() closed the connection
        super().handle_error(request, client_address)
