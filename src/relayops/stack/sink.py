"""The drill webhook sink: records every POSTed Alertmanager notification with its arrival time.

Run as `python -m relayops.stack.sink --port P --log FILE`. Each POST body is appended to FILE
as one JSON line, the Alertmanager payload plus `received_at` (time.time()), and answered 200.
`GET /-/ready` answers 200 for readiness checks.
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from relayops.stack.daemons import LOOPBACK


def record(body: bytes, received_at: float) -> dict:
    """The log entry for one POST body; a body that is not a JSON object is kept as text."""
    try:
        payload = json.loads(body)
    except ValueError:
        payload = None
    if not isinstance(payload, dict):
        payload = {"body": body.decode(errors="replace")}
    return {**payload, "received_at": received_at}


def read_notifications(sink_log: Path) -> list[dict]:
    """Every notification recorded so far, oldest first; none when the log does not exist."""
    try:
        text = sink_log.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    # A line still being written by the sink has no newline yet: leave it for the next read.
    return [json.loads(line) for line in text.split("\n")[:-1] if line]


def make_server(port: int, log: Path) -> ThreadingHTTPServer:
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            line = json.dumps(record(body, time.time()), sort_keys=True) + "\n"
            with lock, log.open("a", encoding="utf-8") as out:
                out.write(line)
            self._answer(200, b"ok\n")

        def do_GET(self) -> None:
            if self.path == "/-/ready":
                self._answer(200, b"ready\n")
            else:
                self._answer(404, b"POST notifications here\n")

        def _answer(self, status: int, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            """Requests are already in the notification log; keep stderr for errors."""

    return ThreadingHTTPServer((LOOPBACK, port), Handler)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--log", type=Path, required=True)
    args = parser.parse_args(argv)
    args.log.parent.mkdir(parents=True, exist_ok=True)
    args.log.touch()
    server = make_server(args.port, args.log)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
