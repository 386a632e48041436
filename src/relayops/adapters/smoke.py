"""What the smoke test (`relayops send`, relayops.cli.send) and the send benchmarks and tests
send with: a gate that is always open, a fixed access token, and a message that is plain or,
with `full`, has HTML, an inline image and an attachment.
"""

from __future__ import annotations

import base64

# A 1×1 PNG and a tiny PDF: enough to exercise inline images and attachments.
PIXEL = (
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5E"
    "rkJggg=="
)
PDF = base64.b64encode(b"%PDF-1.4\n% relayops smoke test\n%%EOF\n").decode()


class AlwaysOpen:
    def allows(self, workspace_id: str, actor_id: str) -> bool:
        return True


class StaticToken:
    """The token from the environment; a 401 refreshes to the same value (no refresh here)."""

    def __init__(self, value: str):
        self.value = value

    def token(self) -> str:
        return self.value

    def refresh(self) -> str:
        return self.value


def smoke_params(to: str, full: bool) -> dict:
    params = {
        "to": [to],
        "subject": "relayops smoke test",
        "text": "A smoke test from relayops. Nothing to do.",
    }
    if full:
        params.update(
            subject="relayops smoke test — ünïcödé ✓",
            html='<p style="color: #1a73e8">Full smoke test</p><img src="cid:pixel" alt="">'
            "<table><tr><td>table</td></tr></table>",
            inline=[
                {
                    "data": PIXEL,
                    "filename": "pixel.png",
                    "content_type": "image/png",
                    "content_id": "pixel",
                }
            ],
            attachments=[
                {"data": PDF, "filename": "smoke-test.pdf", "content_type": "application/pdf"}
            ],
        )
    return params
