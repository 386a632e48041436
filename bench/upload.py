"""Benchmark: large uploads to the fake servers: a 100 MB attachment through Graph upload
sessions, and a 36 MB message through Gmail's resumable upload (the limit is 35 MiB).

The fakes run in a child process, so their own copy of the upload does not count. Two runs:
one measures throughput and the growth of the process's peak resident set, one the peak of
Python memory allocated during the upload over what was allocated before it (tracemalloc),
with the 100 MB attachment already in memory. Target: both growths stay under 3 × the 4 MiB
chunk size.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import resource
import sys
import time
import tracemalloc
from collections.abc import Iterator
from multiprocessing.connection import Connection
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import httpx  # noqa: E402

from relayops.adapters.gmail.upload import send_resumable  # noqa: E402
from relayops.adapters.message import Attachment, Message  # noqa: E402
from relayops.adapters.message_id import MessageId  # noqa: E402
from relayops.adapters.mime import mime_bytes  # noqa: E402
from relayops.adapters.outlook.upload import RANGE_LIMIT, send_large  # noqa: E402
from relayops.adapters.retry import Backoff, Outcome  # noqa: E402
from relayops.adapters.smoke import StaticToken  # noqa: E402
from relayops.fakes import FakeGmail, FakeGraph  # noqa: E402
from relayops.fakes.gmail import DEFAULT_TOKEN as GMAIL_TOKEN  # noqa: E402
from relayops.fakes.graph import DEFAULT_TOKEN  # noqa: E402

SIZE = 100 * 1024 * 1024
GMAIL_MESSAGE_DATA = 25 * 1024 * 1024  # 36 MB (34 MiB) once base64-encoded in MIME
CHUNK = RANGE_LIMIT  # Graph's "up to 4 MB" per range: 4,000,000 bytes
TARGET_GROWTH = 3 * CHUNK


def serve(fake: type[FakeGraph] | type[FakeGmail], conn: Connection) -> None:
    """Child process: run a fake server until the parent says stop."""
    with fake() as server:
        conn.send(server.url)
        conn.recv()
        conn.send(server.delivery_count)


@contextlib.contextmanager
def child_server(fake: type[FakeGraph] | type[FakeGmail]) -> Iterator[tuple[str, list[int]]]:
    """The URL of a fake server in a child process, and a list that gets its delivery count
    once stopped."""
    parent, child = multiprocessing.Pipe()
    process = multiprocessing.Process(target=serve, args=(fake, child), daemon=True)
    process.start()
    delivered: list[int] = []
    try:
        yield parent.recv(), delivered
        parent.send("stop")
        delivered.append(parent.recv())
    finally:
        process.join(10)
        if process.is_alive():
            process.kill()


def _peak_rss() -> int:
    """The process's peak resident set so far, in bytes (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def message(index: int, data: bytes) -> Message:
    return Message(
        sender="",
        to=("ana@customer.example",),
        subject=f"Quarterly archive {index}",
        text="The archive is attached.",
        attachments=(Attachment("archive.zip", "application/zip", data),),
        message_id=MessageId(f"bench-upload-{index}", "relay.invalid"),
    )


def upload(url: str, data: bytes, index: int) -> float:
    """Seconds one upload took; raises when it did not end SENT."""
    with httpx.Client(timeout=60) as client:
        started = time.perf_counter()
        attempted = send_large(
            client,
            url,
            message(index, data),
            StaticToken(DEFAULT_TOKEN),
            save_to_sent_items=True,
            backoff=Backoff(),
            chunk_bytes=CHUNK,
        )
        seconds = time.perf_counter() - started
    if attempted.outcome is not Outcome.SENT:
        raise RuntimeError(f"upload {index} ended {attempted.outcome}: {attempted.detail}")
    return seconds


def outlook() -> bool:
    data = os.urandom(SIZE)
    with child_server(FakeGraph) as (url, delivered):
        rss_before = _peak_rss()
        seconds = upload(url, data, 1)
        rss_growth = _peak_rss() - rss_before
        tracemalloc.start()
        before, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        upload(url, data, 2)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    growth = peak - before
    verdict = "met" if max(growth, rss_growth) < TARGET_GROWTH else "MISSED"
    print("Outlook upload session, 100 MB attachment to the fake Graph (child process)")
    print(f"  throughput   {SIZE / seconds / 1e6:7.1f} MB/s ({seconds:.2f} s)")
    print(
        f"  peak growth  {growth / 2**20:7.1f} MiB (target < {TARGET_GROWTH / 2**20:.0f} MiB, "
        f"3 × the {CHUNK / 1e6:g} MB chunk)  {verdict}"
    )
    print(f"  peak RSS     {rss_growth / 2**20:7.1f} MiB growth over the first upload")
    print(f"  delivered    {delivered[0]} of 2")
    return verdict == "met" and delivered == [2]


def gmail() -> bool:
    """A message just under Gmail's 35 MB upload limit through the resumable protocol; the
    fake parses it as Gmail would, which is part of the figure."""
    raw = mime_bytes(message(3, os.urandom(GMAIL_MESSAGE_DATA)), domain="relay.invalid")
    with child_server(FakeGmail) as (url, delivered), httpx.Client(timeout=60) as client:
        started = time.perf_counter()
        attempted = send_resumable(client, url, raw, StaticToken(GMAIL_TOKEN), backoff=Backoff())
        seconds = time.perf_counter() - started
    print(f"Gmail resumable upload, {len(raw) / 1e6:.1f} MB message to the fake Gmail")
    rate = len(raw) / seconds / 1e6
    print(f"  throughput   {rate:7.1f} MB/s ({seconds:.2f} s), {attempted.outcome}")
    return attempted.outcome is Outcome.SENT and delivered == [1]


def main() -> int:
    results = [outlook(), gmail()]
    return 0 if all(results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
