"""relayops.adapters.transport.send on transport errors: what happened before the request was
written in full is retried; what happened after it may have been accepted and is not."""

from __future__ import annotations

import httpx
import pytest

from relayops.adapters.effects import Call
from relayops.adapters.retry import Backoff, Outcome
from relayops.adapters.smoke import StaticToken
from relayops.adapters.transport import send


def run(first_failure: Exception) -> tuple[object, int]:
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        if len(calls) == 1:
            raise first_failure
        return httpx.Response(200, json={"id": "m-1"})

    with httpx.Client(transport=httpx.MockTransport(handler)) as client:
        attempted = send(
            client,
            lambda token: Call("POST", "https://gmail.test/send"),
            StaticToken("t"),
            Backoff(base_seconds=0.0),
            sleep=lambda seconds: None,
        )
    return attempted, len(calls)


@pytest.mark.parametrize(
    "failure",
    [
        httpx.ConnectError("refused"),
        httpx.ConnectTimeout("slow connect"),
        httpx.PoolTimeout("no free connection"),
        httpx.WriteError("broken pipe"),
        httpx.WriteTimeout("write stalled"),
    ],
    ids=lambda failure: type(failure).__name__,
)
def test_a_request_not_written_in_full_is_retried(failure):
    attempted, calls = run(failure)
    assert attempted.outcome is Outcome.SENT and attempted.body == {"id": "m-1"}
    assert calls == 2 and attempted.attempts == 2


@pytest.mark.parametrize(
    "failure",
    [
        httpx.ReadTimeout("no answer"),
        httpx.ReadError("reset"),
        httpx.RemoteProtocolError("closed without a response"),
        httpx.CloseError("close failed"),
    ],
    ids=lambda failure: type(failure).__name__,
)
def test_a_request_that_may_have_been_taken_is_ambiguous_and_not_retried(failure):
    attempted, calls = run(failure)
    assert attempted.outcome is Outcome.AMBIGUOUS and calls == 1
    assert type(failure).__name__ in attempted.detail
