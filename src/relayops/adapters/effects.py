"""The send path's I/O as values, so one implementation serves the sync and the async adapter.

Everything that talks to a provider (sends, retries, uploads, look-ups) is written as a
generator that yields what it needs done: an HTTP call, a sleep, an access token or a
refreshed one, or a piece of blocking work (the rollout gate, building the message). It
receives the answer back (an httpx.Response, a token), or has the exception thrown in at the
`yield` (a transport error, a TokenError), exactly where a direct call would have raised it.
`run_sync` performs those steps with an httpx.Client and blocking sleeps, `run_async` with an
httpx.AsyncClient and anyio: the retry, upload and look-up logic exists once.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Generator, Iterator
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

import anyio
import httpx

T = TypeVar("T")


@dataclass(frozen=True)
class Call:
    """One HTTP request. `stream` makes the body from pieces (large uploads, never copied
    whole); `anonymous` sends it with no Authorization header at all (pre-authenticated
    upload URLs refuse one)."""

    method: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] | None = None
    content: bytes | None = None
    stream: Callable[[], Iterator[bytes | memoryview]] | None = None
    follow_redirects: bool = True
    anonymous: bool = False


@dataclass(frozen=True)
class Sleep:
    seconds: float


@dataclass(frozen=True)
class Offload:
    """Work that may block or take a while (a gate's Redis read, sanitizing and building a
    large message): called directly by run_sync; by run_async awaited when `function` is a
    coroutine function, else run in a worker thread so the event loop keeps going."""

    function: Callable[..., Any]
    args: tuple[Any, ...] = ()


class _TokenStep:
    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


TOKEN = _TokenStep("TOKEN")  # answered with the current access token
REFRESH = _TokenStep("REFRESH")  # answered with a refreshed access token

Effect = Call | Sleep | Offload | _TokenStep
Steps = Generator[Effect, Any, T]


class TokenSource(Protocol):
    """Access tokens for the provider; both methods may raise TokenError
    (relayops.adapters.transport). run_async also takes a source whose methods are coroutines."""

    def token(self) -> str: ...

    def refresh(self) -> str: ...


class _Stepper(Generic[T]):
    """Hands out the next effect of `steps`, each after feeding back the answer to the last one
    (or throwing in its failure); None once the steps have returned their `result`."""

    def __init__(self, steps: Steps[T]) -> None:
        self.steps = steps
        self.answer: Any = None
        self.failure: Exception | None = None
        self.result: T

    def next(self) -> Effect | None:
        try:
            if self.failure is not None:
                effect = self.steps.throw(self.failure)
            else:
                effect = self.steps.send(self.answer)
        except StopIteration as returned:
            self.result = returned.value
            return None
        if not isinstance(effect, Call | Sleep | Offload) and effect not in (TOKEN, REFRESH):
            raise TypeError(f"not a send-path effect: {effect!r}")
        self.answer, self.failure = None, None
        return effect


def run_sync(
    steps: Steps[T],
    client: httpx.Client,
    tokens: TokenSource,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Perform `steps` with blocking I/O and return their result."""
    stepper = _Stepper(steps)
    while (effect := stepper.next()) is not None:
        try:
            if isinstance(effect, Call):
                request = _request(client, effect, _stream(effect))
                stepper.answer = client.send(request, **_options(effect))
            elif isinstance(effect, Sleep):
                sleep(effect.seconds)
            elif isinstance(effect, Offload):
                stepper.answer = effect.function(*effect.args)
            else:
                stepper.answer = tokens.token() if effect is TOKEN else tokens.refresh()
        except Exception as exc:  # handed to the steps, which decide what it means
            stepper.failure = exc
    return stepper.result


async def run_async(
    steps: Steps[T],
    client: httpx.AsyncClient,
    tokens: Any,
    sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
) -> T:
    """Perform `steps` without blocking the event loop and return their result.

    `tokens.token()` and `tokens.refresh()` may be coroutines; plain methods (a token manager
    that talks to Redis and a token endpoint) run in a worker thread."""
    stepper = _Stepper(steps)
    while (effect := stepper.next()) is not None:
        try:
            if isinstance(effect, Call):
                pieces = _stream(effect)
                content = _async_pieces(pieces) if isinstance(pieces, Iterator) else pieces
                request = _request(client, effect, content)
                stepper.answer = await client.send(request, **_options(effect))
            elif isinstance(effect, Sleep):
                await sleep(effect.seconds)
            elif isinstance(effect, Offload):
                stepper.answer = await _offload(effect.function, *effect.args)
            else:
                method = tokens.token if effect is TOKEN else tokens.refresh
                stepper.answer = await _offload(method)
        except Exception as exc:  # handed to the steps, which decide what it means
            stepper.failure = exc
    return stepper.result


def _stream(call: Call) -> bytes | Iterator[bytes | memoryview] | None:
    return call.stream() if call.stream is not None else call.content


def _request(client: httpx.Client | httpx.AsyncClient, call: Call, content: Any) -> httpx.Request:
    request = client.build_request(
        call.method, call.url, headers=call.headers, params=call.params, content=content
    )
    if call.anonymous:
        request.headers.pop("Authorization", None)
    return request


def _options(call: Call) -> dict[str, Any]:
    """Client.send options: no redirects where asked, and no client auth for an anonymous
    call."""
    options: dict[str, Any] = {"follow_redirects": call.follow_redirects}
    if call.anonymous:
        options["auth"] = None
    return options


async def _offload(function: Callable[..., Any], *args: Any) -> Any:
    if inspect.iscoroutinefunction(function):
        return await function(*args)
    return await anyio.to_thread.run_sync(function, *args)


async def _async_pieces(
    pieces: Iterator[bytes | memoryview],
) -> AsyncIterator[bytes | memoryview]:
    for piece in pieces:  # already in memory: nothing here blocks
        yield piece
