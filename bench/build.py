"""Benchmark: sanitizing, building and serialising one rich message for each provider.

The message has 50 KB of HTML (a newsletter: a `<style>` block with classes and media queries,
then table rows with classes and inline styles), two 100 KB inline images and a 1 MB
attachment. Both providers sanitize the HTML first; Gmail is then mime_bytes (sent as is to the
media upload endpoint above the JSON limit, as this message is), Outlook the sendMail body. A round
takes the median of RUNS runs per provider, split into sanitize + build and serialise; the
target is 10 ms per provider.

The adapter lives in a long-running process, so WARMUP runs come first and are not counted: the
first few runs grow the allocator's heap, start the sanitizer's audit thread and fill the
caches of the email package's header classes, and take two to three times as long.

The shared VM this runs on has spells in which ordinary Python runs 1.5 to 2 times slower (its
vCPU shares a core with a busy neighbour; SHA-NI hashing, for one, keeps its speed). They come
and go within seconds, or last minutes; sampled every few seconds, two readings in three can
fall in one. So the benchmark takes ROUNDS short rounds, PAUSE_S seconds apart, times a fixed
pure-Python probe around each, prints every round and marks the rounds whose probe ran SPELL
times slower than the quickest, so a reader can tell the machine from the code. Each provider
is judged on the median of all its rounds' medians, spells included: the target has to hold
on the machine as it is, not only in its quick moments.
"""

from __future__ import annotations

import base64
import os
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from relayops.adapters.built_check import check_graph  # noqa: E402
from relayops.adapters.gmail.provider import GMAIL_JSON_LIMIT  # noqa: E402
from relayops.adapters.message import Attachment, Message  # noqa: E402
from relayops.adapters.message_id import MessageId  # noqa: E402
from relayops.adapters.mime import mime_bytes  # noqa: E402
from relayops.adapters.outlook.graph import stand_in_body  # noqa: E402
from relayops.adapters.sanitize import sanitize  # noqa: E402

WARMUP = 5
RUNS = 20
ROUNDS = 20
PAUSE_S = 2.0
SPELL = 1.3
PROBE_RUNS = 5
PROBE_LOOPS = 200_000
TARGET_MS = 10.0
NOW = datetime(2026, 1, 1, tzinfo=UTC)


NEWSLETTER_CSS = """
  body { margin: 0; padding: 0; background: #eef1f5; font-family: Helvetica, Arial, sans-serif; }
  .wrapper { width: 100%; background-color: #eef1f5; }
  .container { width: 600px; max-width: 600px; background: #ffffff; }
  .header { background: #1a2b4c; color: #ffffff; padding: 24px; font-size: 22px; }
  .row td { padding: 4px 8px; border-bottom: 1px solid #e2e8f0; font-size: 14px; }
  .row .label { color: #334155; width: 70%; }
  .btn { display: inline-block; background: #2563eb; color: #ffffff !important;
         text-decoration: none; padding: 10px 18px; border-radius: 6px; font-weight: bold; }
  .footer { font-size: 12px; color: #64748b; padding: 20px; text-align: center; }
  @media only screen and (max-width: 600px) {
    .container { width: 100% !important; }
    .row td { display: block !important; width: auto !important; }
  }
  @media (prefers-color-scheme: dark) {
    .container { background: #161b26 !important; color: #f5f5f6 !important; }
  }
"""


def rich_message() -> Message:
    row = (
        '<tr class="row"><td class="label" style="padding:4px">Prüfposition {i}</td>'
        '<td><img src="cid:{cid}" class="thumb"></td></tr>\n'
    )
    rows = "".join(row.format(i=i, cid=("chart" if i % 2 else "logo")) for i in range(700))
    head = f'<html><head><style type="text/css">{NEWSLETTER_CSS}</style></head><body>'
    body = f'<table class="wrapper"><tr><td><table class="container">{rows}</table></td></tr>'
    html = (head + body)[: 50 * 1024 - len("</table></body></html>")] + "</table></body></html>"
    images = tuple(
        Attachment(f"{cid}.png", "image/png", os.urandom(100 * 1024), inline=True, content_id=cid)
        for cid in ("logo", "chart")
    )
    report = Attachment("Überweisung März.pdf", "application/pdf", os.urandom(1024 * 1024))
    return Message(
        sender="relay@example.com",
        to=("anna@example.com", "ben@example.org"),
        cc=("carla@example.net",),
        bcc=("audit@example.com",),
        subject="Prüfbericht — 東京 ✓",
        text="Der Prüfbericht liegt bei.\n" * 200,
        html=html,
        attachments=(*images, report),
        headers={"X-Relay-Idempotency-Key": "bench-0001"},
        message_id=MessageId("bench-0001", "relay.example"),
    )


Serialise = Callable[[], int]  # serialises what was built, returns the size in bytes


def _sanitized(message: Message) -> Message:
    clean = sanitize(message.html or "", inline_ids={a.content_id for a in message.inline})
    return replace(message, html=clean.html)


def gmail(message: Message) -> Serialise:
    """As the adapter sends it: `raw` (URL-safe base64) in JSON under the JSON limit, the
    RFC 5322 bytes themselves to the media upload endpoint above it."""
    body = mime_bytes(_sanitized(message), now=NOW)
    if len(body) * 4 // 3 > GMAIL_JSON_LIMIT:
        return lambda: len(body)
    return lambda: len(base64.urlsafe_b64encode(body))


def outlook(message: Message) -> Serialise:
    """As the adapter builds it: the sendMail body, checked against the message, then
    spliced."""
    clean = _sanitized(message)
    stand_in = stand_in_body(clean, save_to_sent_items=True)
    check_graph(stand_in.skeleton, clean)
    body = stand_in.spliced()
    return lambda: len(body)


class Round(NamedTuple):
    build_ms: float
    serialise_ms: float
    total_ms: float
    size: int


def measure(build: Callable[[Message], Serialise], message: Message) -> Round:
    """Medians in ms of build, serialise and both over RUNS runs, and the serialised size."""
    builds, serialises, totals = [], [], []
    size = 0
    for _ in range(RUNS):
        start = time.perf_counter()
        serialise = build(message)
        built = time.perf_counter()
        size = serialise()
        done = time.perf_counter()
        builds.append((built - start) * 1000)  # sanitize + build
        serialises.append((done - built) * 1000)
        totals.append((done - start) * 1000)
    return Round(*(statistics.median(t) for t in (builds, serialises, totals)), size)


def probe_ms() -> float:
    """The median time of a fixed pure-Python loop: how fast the interpreter runs right now."""
    timings = []
    for _ in range(PROBE_RUNS):
        start = time.perf_counter()
        total = 0
        for i in range(PROBE_LOOPS):
            total += i
        timings.append((time.perf_counter() - start) * 1000)
    return statistics.median(timings)


PROVIDERS: dict[str, Callable[[Message], Serialise]] = {"gmail": gmail, "outlook": outlook}


def main() -> int:
    message = rich_message()
    for build in PROVIDERS.values():
        for _ in range(WARMUP):
            build(message)()
    print(
        f"sanitize + build + serialise one rich message: median of {RUNS} runs after {WARMUP} "
        f"warm-up runs, {ROUNDS} rounds {PAUSE_S:g} s apart (target < {TARGET_MS:g} ms)"
    )
    print(f"  {'round':>5}  {'probe ms':>8}  " + "  ".join(f"{n + ' ms':>10}" for n in PROVIDERS))
    rounds: dict[str, list[Round]] = {name: [] for name in PROVIDERS}
    probes: list[float] = []
    for number in range(1, ROUNDS + 1):
        if number > 1:
            time.sleep(PAUSE_S)
        before = probe_ms()
        for name, build in PROVIDERS.items():
            rounds[name].append(measure(build, message))
        probes.append((before + probe_ms()) / 2)
    in_spell = [probe > SPELL * min(probes) for probe in probes]
    for number, (probe, spell) in enumerate(zip(probes, in_spell, strict=True)):
        medians = "  ".join(f"{rounds[name][number].total_ms:10.1f}" for name in PROVIDERS)
        print(f"  {number + 1:>5}  {probe:8.2f}  {medians}{'  spell' if spell else ''}")
    print(f"  {sum(in_spell)} of {ROUNDS} rounds in a spell (probe over {SPELL:g} x the quickest)")
    missed = False
    for name, measured in rounds.items():
        judged = statistics.median(r.total_ms for r in measured)
        build = statistics.median(r.build_ms for r in measured)
        serialise = statistics.median(r.serialise_ms for r in measured)
        met = judged < TARGET_MS
        missed |= not met
        print(
            f"  {name:8} median of all rounds {judged:5.1f} ms (build {build:5.1f}, "
            f"serialise {serialise:4.1f}), rounds "
            f"{min(r.total_ms for r in measured):.1f}-{max(r.total_ms for r in measured):.1f} ms"
            f"  {measured[0].size / 1e6:4.2f} MB  {'met' if met else 'MISSED'}"
        )
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
