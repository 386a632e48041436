"""How Graph's answers read, where they differ from the rules every provider shares.

sendMail and a draft's send answer 202 Accepted: the message is queued, so it is sent. A 202
that carries Retry-After is Graph asking to be called again later, and whether it queued the
message is not said: ambiguous, so it is looked for before anything is sent again.
"""

from __future__ import annotations

from collections.abc import Mapping

from relayops.adapters.retry import Outcome, classify


def classify_graph(status: int, headers: Mapping[str, str], reasons: frozenset[str]) -> Outcome:
    if status == 202:
        return Outcome.AMBIGUOUS if "retry-after" in {k.lower() for k in headers} else Outcome.SENT
    return classify(status, headers, reasons)
