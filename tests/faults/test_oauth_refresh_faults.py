"""OAuth refresh under faults, on a real PostgreSQL store, a real Redis and the fake Microsoft
token endpoint, whose refresh tokens rotate and, by default, are revoked once used (the
stricter case; Microsoft's documentation says it keeps a used one valid).

The defect: a holder dying mid-refresh, an endpoint answering after the 10 s HTTP timeout, or
PostgreSQL down at write time lost the rotated refresh token (the mailbox needed a person to
reconnect it), and an endpoint slower than the lock TTL let a second worker refresh with the
spent token and get a spurious "reconnect".

What each test expects is the fake endpoint's own record (calls made, tokens issued, which
refresh tokens it still accepts) and the store's rows read directly, not the manager's view.
A credential "ends usable without a person" when the stored refresh token still refreshes.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import redis
from cryptography.fernet import Fernet

from relayops.fakes.token_endpoint import FakeTokenEndpoint
from relayops.oauth.cipher import TokenCipher
from relayops.oauth.postgres_store import PostgresTokenStore
from relayops.oauth.recovery import RecoverySlot
from relayops.oauth.refresh import CACHE_KEY, LOCK_KEY, ReconnectRequired, RefreshFailed
from relayops.stack.daemons import LOOPBACK
from tests.faults.oauth_holder import manager_from
from tests.faults.tcp_proxy import FaultProxy, Mode
from tests.oauth_fixtures import seed

REPO = Path(__file__).resolve().parents[2]
ID = "mailbox-1"
# The fake endpoint revoking used refresh tokens (the stricter case) or keeping them, as
# Microsoft documents; `recovers` says whether a lost answer can be made up for.
BOTH_ENDPOINT_BEHAVIOURS = pytest.mark.parametrize(
    ("rig", "recovers"),
    [(True, False), (False, True)],
    ids=["endpoint revokes used refresh tokens", "as Microsoft documents: it keeps them"],
    indirect=["rig"],
)


@dataclass
class Rig:
    """PostgreSQL and Redis each behind a fault proxy, the fake endpoint, a seeded credential
    whose access token has expired."""

    fake: FakeTokenEndpoint
    pg: FaultProxy
    redis_proxy: FaultProxy
    direct_store: PostgresTokenStore  # not through the proxy: what is really stored
    direct_redis: redis.Redis
    config: dict
    seeded_refresh_token: str

    def manager(self, **overrides: object):
        """A worker of this process (through the proxies)."""
        return manager_from({**self.config, **overrides})

    def stored(self):
        return self.direct_store.get(ID)

    def refresh_token_works(self, token: str) -> bool:
        """Ask the fake directly whether it still accepts `token` (without spending it)."""
        found = self.fake._refresh.get(token)
        return found is not None and found.active


def _proxied_pg_url(url: str, proxy: FaultProxy) -> str:
    parts = urlsplit(url)
    return parts._replace(netloc=f"{parts.username}@{LOOPBACK}:{proxy.port}").geturl()


@pytest.fixture
def rig(postgres_url: str, redis_url: str, request) -> Iterator[Rig]:
    revoke = getattr(request, "param", True)
    key = Fernet.generate_key().decode()
    cipher = TokenCipher([key])
    direct_store = PostgresTokenStore(postgres_url, cipher)
    direct_store.delete(ID)
    direct_redis = redis.Redis.from_url(redis_url)
    direct_redis.flushdb()
    pg_port = urlsplit(postgres_url).port or 0
    redis_port = urlsplit(redis_url).port or 0
    with (
        FakeTokenEndpoint(delay=0.5, revoke_used_refresh_tokens=revoke) as fake,
        FaultProxy(pg_port) as pg,
        FaultProxy(redis_port) as redis_proxy,
    ):
        refresh = seed(direct_store, fake)  # type: ignore[arg-type]
        config = {
            "pg_url": _proxied_pg_url(postgres_url, pg),
            "redis_url": f"redis://{LOOPBACK}:{redis_proxy.port}/0",
            "fake_url": fake.url,
            "client_id": fake.client_id,
            "client_secret": fake.client_secret,
            "key": key,
            "credential_id": ID,
        }
        yield Rig(fake, pg, redis_proxy, direct_store, direct_redis, config, refresh)
    direct_redis.close()


def wait_until(found: Callable[[], bool], what: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not found():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.005)


class Holder:
    """A sender in a process of its own (tests/faults/oauth_holder.py)."""

    def __init__(self, config: dict) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.faults.oauth_holder", json.dumps(config)],
            cwd=REPO,
            stdout=subprocess.PIPE,
            text=True,
        )

    def kill(self) -> None:
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def output(self) -> str:
        out, _ = self.process.communicate(timeout=60)
        return out.strip()


def next_worker_token(rig: Rig) -> str:
    """What the next sender gets once the dead holder's lock has expired."""
    return rig.manager(lock_wait=10.0).access_token(ID)


def assert_usable_without_a_person(rig: Rig) -> None:
    stored = rig.stored()
    assert stored is not None and rig.refresh_token_works(stored.refresh_token)
    assert not rig.direct_redis.exists(RecoverySlot.key(ID)), "the slot was not cleared"


def test_holder_killed_before_its_call_costs_nothing(rig: Rig) -> None:
    """Killed holding the lock, before it reached the endpoint (Redis slowed so the window is
    wide): the lock expires and the next worker refreshes once."""
    rig.redis_proxy.switch(Mode.PASS, delay=0.3)
    holder = Holder(rig.config)
    wait_until(lambda: rig.direct_redis.exists(LOCK_KEY.format(credential_id=ID)), "the lock")
    holder.kill()
    assert rig.fake.token_calls == 0
    rig.redis_proxy.switch(Mode.PASS)
    assert next_worker_token(rig) == rig.fake.issued_access_tokens[0]
    assert rig.fake.token_calls == 1
    assert_usable_without_a_person(rig)


def test_holder_killed_after_the_answer_leaves_the_token_in_the_slot(rig: Rig) -> None:
    """The store hangs (PostgreSQL black-holed) when the request reaches the endpoint; the
    holder is killed once the answer is in the recovery slot. The next worker writes the slot
    to the store and spends no refresh token."""
    holder = Holder(rig.config)
    wait_until(lambda: rig.fake.token_calls == 1, "the refresh request")
    rig.pg.switch(Mode.BLACKHOLE)
    wait_until(lambda: rig.direct_redis.exists(RecoverySlot.key(ID)), "the recovery slot")
    holder.kill()
    rig.pg.switch(Mode.PASS)
    assert rig.stored().version == 1  # the holder never wrote the store
    [issued] = rig.fake.issued_access_tokens
    assert next_worker_token(rig) == issued
    assert rig.fake.token_calls == 1
    stored = rig.stored()
    assert stored.version == 2 and stored.access_token == issued
    assert not rig.refresh_token_works(rig.seeded_refresh_token)  # spent: the slot saved us
    assert_usable_without_a_person(rig)


def test_holder_killed_after_the_store_write_costs_nothing(rig: Rig) -> None:
    """Killed after the store write, before clearing the slot and releasing the lock (Redis
    slowed): the next worker finds the stored token."""
    rig.redis_proxy.switch(Mode.PASS, delay=0.2)
    holder = Holder(rig.config)
    wait_until(lambda: rig.stored().version == 2, "the store write")
    holder.kill()
    rig.redis_proxy.switch(Mode.PASS)
    assert next_worker_token(rig) == rig.fake.issued_access_tokens[0]
    assert rig.fake.token_calls == 1
    stored = rig.stored()
    assert stored is not None and rig.refresh_token_works(stored.refresh_token)


@BOTH_ENDPOINT_BEHAVIOURS
def test_holder_killed_while_its_request_is_at_the_endpoint(rig: Rig, recovers: bool) -> None:
    """The one case no client can recover everywhere: the endpoint rotates the token for a
    caller that is gone. Keeping the old refresh token valid (Google; Microsoft by its own
    documentation) the next worker refreshes with it; an endpoint that revokes used refresh
    tokens leaves a reconnect, and the error says so."""
    holder = Holder(rig.config)
    wait_until(lambda: rig.fake.token_calls == 1, "the refresh request")
    holder.kill()
    wait_until(lambda: len(rig.fake.issued_access_tokens) == 1, "the endpoint's answer")
    if recovers:
        assert next_worker_token(rig) == rig.fake.issued_access_tokens[1]
        assert_usable_without_a_person(rig)
    else:
        with pytest.raises(ReconnectRequired, match="invalid_grant"):
            next_worker_token(rig)
    assert rig.fake.token_calls == 2


@BOTH_ENDPOINT_BEHAVIOURS
def test_endpoint_slower_than_the_answer_deadline(rig: Rig, recovers: bool) -> None:
    """The endpoint answers after the refresh gave up waiting (ANSWER_SECONDS, here 0.5 s):
    the same limit as a holder killed mid-request, met with the same result."""
    rig.fake.delay = 1.0
    worker = rig.manager(answer_seconds=0.5)
    with pytest.raises(RefreshFailed, match=r"did not answer within 0\.5 s"):
        worker.access_token(ID)
    wait_until(lambda: len(rig.fake.issued_access_tokens) == 1, "the late answer")
    rig.fake.delay = 0.0
    if recovers:
        assert worker.access_token(ID) == rig.fake.issued_access_tokens[1]
        assert_usable_without_a_person(rig)
    else:
        with pytest.raises(ReconnectRequired):
            worker.access_token(ID)
    assert rig.fake.token_calls == 2


def test_store_down_at_write_time_keeps_the_rotated_token(rig: Rig) -> None:
    """PostgreSQL refuses connections from the moment the request reaches the endpoint: the
    caller still gets the new access token, the rotated refresh token waits in the slot, and
    the next call after PostgreSQL is back stores it."""
    worker = rig.manager(store_write_seconds=0.3)
    got: list[str] = []
    caller = threading.Thread(target=lambda: got.append(worker.access_token(ID)))
    caller.start()
    wait_until(lambda: rig.fake.token_calls == 1, "the refresh request")
    rig.pg.switch(Mode.RESET)
    caller.join(10)
    [issued] = rig.fake.issued_access_tokens
    assert got == [issued]
    assert rig.stored().version == 1 and rig.direct_redis.exists(RecoverySlot.key(ID))
    assert not rig.refresh_token_works(rig.seeded_refresh_token)
    rig.direct_redis.delete(CACHE_KEY.format(credential_id=ID))
    other = manager_from(rig.config, store=worker.store)  # a worker started before the outage
    assert other.access_token(ID) == issued  # from the slot: the store is still down
    rig.pg.switch(Mode.PASS)
    assert worker.access_token(ID) == issued  # from the cache; the slot is stored meanwhile
    assert rig.stored().version == 2 and rig.stored().access_token == issued
    assert rig.fake.token_calls == 1
    assert_usable_without_a_person(rig)


def test_endpoint_slower_than_the_callers_wait_and_the_lock_ttl(rig: Rig) -> None:
    """The endpoint takes 3 s; callers wait 0.5 s, the lock lives 1 s unless renewed. Worker
    A's caller is told to retry; worker B, arriving after the lock TTL, does not refresh with
    the spent token; both then get the one new token."""
    rig.fake.delay = 3.0
    first, second = rig.manager(wait_seconds=0.5), rig.manager(wait_seconds=0.5)
    with pytest.raises(RefreshFailed, match=r"taking longer than 0\.5 s"):
        first.access_token(ID)
    time.sleep(1.0)  # past the lock's TTL: only renewal keeps it
    with pytest.raises(RefreshFailed):
        second.access_token(ID)
    wait_until(lambda: rig.stored().version == 2, "the slow refresh to be stored")
    [issued] = rig.fake.issued_access_tokens
    time.sleep(0.6)  # second's refresh finds the stored token once it has the lock
    assert first.access_token(ID) == issued and second.access_token(ID) == issued
    assert rig.fake.token_calls == 1
    assert_usable_without_a_person(rig)


def test_store_down_for_two_refreshes_chains_them_through_the_slot(rig: Rig) -> None:
    """With PostgreSQL still down at the next refresh, the refresh token in the slot is the
    one used (the stored one is spent: the fake revokes used tokens), and the store later
    receives the newest credential over the version both refreshes replaced."""
    worker = rig.manager(store_write_seconds=0.3)
    rig.pg.switch(Mode.RESET)
    with pytest.raises(RefreshFailed, match="PostgreSQL token store"):
        worker.access_token(ID)  # nothing in the slot yet: the store is needed to start
    rig.pg.switch(Mode.PASS)
    got: list[str] = []
    caller = threading.Thread(target=lambda: got.append(worker.access_token(ID)))
    caller.start()
    wait_until(lambda: rig.fake.token_calls == 1, "the refresh request")
    rig.pg.switch(Mode.RESET)  # read before, refused at the write
    caller.join(10)
    [first] = got
    second = worker.force_refresh(ID, first)  # PostgreSQL still down: from the slot
    assert second != first and rig.fake.token_calls == 2
    assert rig.stored().version == 1
    rig.pg.switch(Mode.PASS)
    assert worker.access_token(ID) == second
    stored = rig.stored()
    assert stored.version == 2 and stored.access_token == second
    assert_usable_without_a_person(rig)
