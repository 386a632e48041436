"""Benchmark: sends per second through each adapter to its fake server on loopback.

One SendAdapter per provider (one pooled HTTP client), a small HTML message with one inline
image, sent one after another: validation, sanitizing, building, the HTTP round trip and the
fake's own parsing and storing all count. No target is set by the issue; the figure is a
baseline for regressions.
"""

from __future__ import annotations

import base64
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from relayops.adapters.adapter import SendAdapter  # noqa: E402
from relayops.adapters.smoke import PIXEL, AlwaysOpen, StaticToken  # noqa: E402
from relayops.fakes import FakeGmail, FakeGraph  # noqa: E402
from relayops.fakes.gmail import DEFAULT_TOKEN as GMAIL_TOKEN  # noqa: E402
from relayops.fakes.graph import DEFAULT_TOKEN as GRAPH_TOKEN  # noqa: E402
from relayops.spec import load_specs  # noqa: E402

SENDS = 300
PARAMS = {
    "to": ["ana@customer.example"],
    "subject": "Weekly summary",
    "text": "Summary attached.",
    "html": '<table><tr><td style="color:#333">Summary</td></tr></table><img src="cid:logo">',
    "inline": [
        {"data": PIXEL, "filename": "logo.png", "content_type": "image/png", "content_id": "logo"}
    ],
    "attachments": [
        {
            "data": base64.b64encode(b"%PDF-1.4\n" + b"0" * 20_000).decode(),
            "filename": "summary.pdf",
            "content_type": "application/pdf",
        }
    ],
}


def main() -> int:
    specs = load_specs(REPO / "specs")
    print(f"sends per second through the adapter to the local fake server ({SENDS} sends each)")
    for provider, fake, token in (
        ("gmail", FakeGmail, GMAIL_TOKEN),
        ("outlook", FakeGraph, GRAPH_TOKEN),
    ):
        with fake() as server:
            adapter = SendAdapter(
                specs, provider, AlwaysOpen(), StaticToken(token), base_url=server.url
            )
            action = specs.provider(provider).action
            started = time.perf_counter()
            failures = sum(
                not adapter.execute(action, PARAMS, "bench", "bench").ok for _ in range(SENDS)
            )
            seconds = time.perf_counter() - started
            stored = server.delivery_count
        print(
            f"  {provider:8} {SENDS / seconds:7.1f} sends/s "
            f"({seconds / SENDS * 1000:.2f} ms each), "
            f"{stored} stored, {failures} failed"
        )
        if failures or stored != SENDS:
            return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
