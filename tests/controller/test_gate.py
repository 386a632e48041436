"""The send path's gate: the bucketing spec and its vectors, the cache, failing closed, and the
statistical properties a rollout relies on (monotonic, uniform, independent per provider)."""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import math
import random
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry

from relayops.controller.bucketing import basis_points, bucket, is_in
from relayops.controller.gate import Gate, KeyReader, gate_client
from relayops.controller.keys import RolloutKeys
from relayops.spec import SpecSet
from relayops.spec.metrics import Role
from relayops.stack.daemons import Running, stop
from tests.daemons import run_redis
from tests.specs_util import REPO

VECTORS = REPO / "tests" / "data" / "gate_vectors.json"
GMAIL_SALT = "relay-gmail-send-2026"
OUTLOOK_SALT = "relay-outlook-send-2026"
SAMPLE = 20_000


class FakeRedis:
    """GET only, counting calls; `error` is raised instead of answering when set."""

    def __init__(self, value: object = None) -> None:
        self.value = value
        self.error: Exception | None = None
        self.gets: list[str] = []

    def get(self, name: str) -> object:
        self.gets.append(name)
        if self.error is not None:
            raise self.error
        return self.value


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def reference_bucket(salt: str, unit_id: str) -> int:
    """The spec computed independently of relayops.controller.bucketing."""
    hexdigest = hashlib.sha256((salt + ":" + unit_id).encode("utf-8")).hexdigest()
    return int(hexdigest[:16], 16) % 10_000


def fail_closed_count(registry: CollectorRegistry, specs: SpecSet, provider: str) -> float:
    name = specs.metric(Role.GATE_FAIL_CLOSED).name
    label = specs.provider(provider).provider
    return registry.get_sample_value(name, {"provider": label}) or 0.0


def random_ids(seed: int, count: int = SAMPLE) -> list[str]:
    rng = random.Random(seed)
    return [f"{rng.getrandbits(64):016x}" for _ in range(count)]


# --- the hash spec -----------------------------------------------------------------------


def test_vectors_match_the_implementation_and_an_independent_computation() -> None:
    vectors = json.loads(VECTORS.read_text(encoding="utf-8"))["vectors"]
    salts = {v["salt"] for v in vectors}
    assert len(vectors) >= 12 and {GMAIL_SALT, OUTLOOK_SALT} <= salts
    assert any(not v["unit_id"].isascii() for v in vectors)
    for v in vectors:
        assert bucket(v["salt"], v["unit_id"]) == v["bucket"], v
        assert reference_bucket(v["salt"], v["unit_id"]) == v["bucket"], v


def test_shipped_salts_are_the_vectors_salts(specs: SpecSet) -> None:
    assert specs.provider("gmail").rollout.salt == GMAIL_SALT
    assert specs.provider("outlook").rollout.salt == OUTLOOK_SALT


@pytest.mark.parametrize(
    ("percent", "points"),
    [(0, 0), (0.01, 1), (1, 100), (2.5, 250), (2.55, 255), (33.33, 3333), (100, 10_000)],
)
def test_basis_points(percent: float, points: int) -> None:
    assert basis_points(percent) == points


@pytest.mark.parametrize(
    ("percent", "message"),
    [
        (math.nan, "nan"),
        (-0.01, "-0.01"),
        (100.01, "100.01"),
        (math.inf, "inf"),
        (2.555, "2.555"),
        (0.001, "0.001"),
    ],
)
def test_basis_points_refuses(percent: float, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        basis_points(percent)


def test_is_in_compares_the_bucket_with_basis_points() -> None:
    unit = "actor-1"
    points = bucket(GMAIL_SALT, unit)
    assert not is_in(GMAIL_SALT, unit, points / 100)
    assert is_in(GMAIL_SALT, unit, (points + 1) / 100)
    assert not is_in(GMAIL_SALT, unit, 0)
    assert is_in(GMAIL_SALT, unit, 100)


# --- properties ----------------------------------------------------------------------------

percentages = st.integers(min_value=0, max_value=10_000).map(lambda points: points / 100)


@given(
    salt=st.sampled_from([GMAIL_SALT, OUTLOOK_SALT]),
    unit=st.text(),
    p1=percentages,
    p2=percentages,
)
@settings(max_examples=300, deadline=None)
def test_monotonic_in_the_percentage(salt: str, unit: str, p1: float, p2: float) -> None:
    low, high = sorted((p1, p2))
    assert not is_in(salt, unit, low) or is_in(salt, unit, high)


@given(salt=st.text(min_size=1), unit=st.text())
@settings(max_examples=300, deadline=None)
def test_bucket_matches_the_reference_for_any_text(salt: str, unit: str) -> None:
    assert bucket(salt, unit) == reference_bucket(salt, unit)


@pytest.mark.parametrize("salt", [GMAIL_SALT, OUTLOOK_SALT])
def test_close_to_uniform(salt: str) -> None:
    """Seeded sample: deterministic, and each bound is 5 standard deviations wide."""
    buckets = [bucket(salt, unit) for unit in random_ids(seed=2026)]
    for percent in (1, 10, 25, 50, 90):
        share = percent / 100
        inside = sum(b < percent * 100 for b in buckets)
        sd = math.sqrt(SAMPLE * share * (1 - share))
        assert abs(inside - SAMPLE * share) < 5 * sd, (percent, inside)
    # chi-square over 100 bins of one percent: 99 degrees of freedom, sd about 14
    counts = [0] * 100
    for b in buckets:
        counts[b // 100] += 1
    expected = SAMPLE / 100
    chi2 = sum((c - expected) ** 2 / expected for c in counts)
    assert chi2 < 99 + 5 * math.sqrt(2 * 99), chi2


def test_independent_across_providers() -> None:
    """At 50% the two shipped salts agree on about half the units, not on all of them."""
    units = random_ids(seed=7)
    agree = sum(is_in(GMAIL_SALT, u, 50) == is_in(OUTLOOK_SALT, u, 50) for u in units)
    sd = math.sqrt(SAMPLE * 0.25)
    assert abs(agree - SAMPLE / 2) < 5 * sd, agree
    first = sorted(units, key=lambda u: bucket(GMAIL_SALT, u))[:200]
    also_first = sum(bucket(OUTLOOK_SALT, u) < 1000 for u in first)
    assert also_first < 60, also_first  # about 20 of the first 1% under Gmail at 10% on Outlook


# --- the gate with a fake Redis -------------------------------------------------------------


def make_gate(
    specs: SpecSet, provider: str, fake: KeyReader, clock: Clock | None = None
) -> tuple[Gate, CollectorRegistry]:
    registry = CollectorRegistry()
    gate = Gate(specs, provider, fake, clock=clock or Clock(), registry=registry)
    return gate, registry


def test_reads_the_providers_key(specs: SpecSet) -> None:
    fake = FakeRedis(b"25")
    gate, _ = make_gate(specs, "gmail", fake)
    assert gate.percent() == 25
    assert fake.gets == [RolloutKeys("gmail").percent]


@pytest.mark.parametrize(
    ("raw", "percent"),
    [(b"25", 25), (b"2.5", 2.5), ("0.01", 0.01), (b"100", 100), (b"100.00", 100), (b"0", 0)],
)
def test_accepted_values(specs: SpecSet, raw: object, percent: float) -> None:
    gate, registry = make_gate(specs, "gmail", FakeRedis(raw))
    assert gate.percent() == percent
    assert fail_closed_count(registry, specs, "gmail") == 0


def test_cache_honoured(specs: SpecSet) -> None:
    fake, clock = FakeRedis(b"100"), Clock()
    gate, _ = make_gate(specs, "gmail", fake, clock)
    assert all(gate.allows("ws", f"actor-{i}") for i in range(100))
    assert len(fake.gets) == 1
    fake.value = b"0"
    clock.now += 0.999
    assert gate.allows("ws", "actor-1") and len(fake.gets) == 1
    clock.now += 0.001
    assert not gate.allows("ws", "actor-1") and len(fake.gets) == 2
    assert gate.percent() == 0 and len(fake.gets) == 2


def test_cache_seconds(specs: SpecSet) -> None:
    fake, clock = FakeRedis(b"50"), Clock()
    gate = Gate(specs, "gmail", fake, clock=clock, cache_seconds=10)
    gate.percent()
    clock.now += 9.9
    gate.percent()
    assert len(fake.gets) == 1
    clock.now += 0.1
    gate.percent()
    assert len(fake.gets) == 2


def test_missing_key_is_zero_and_not_a_failure(specs: SpecSet) -> None:
    gate, registry = make_gate(specs, "outlook", FakeRedis(None))
    assert gate.percent() == 0
    assert not any(gate.allows(f"ws-{i}", "actor") for i in range(200))
    assert fail_closed_count(registry, specs, "outlook") == 0


@pytest.mark.parametrize(
    "raw",
    [
        *(b"abc", b"", b"-5", b"101", b"25.123", b" 25", b"25%", b"nan", b"1e1", b"\xff\xfe"),
        "\u0662\u0665",  # Arabic-Indic "25": float() would accept it
        25,
    ],
)
def test_garbage_fails_closed_and_counts(
    specs: SpecSet, raw: object, caplog: pytest.LogCaptureFixture
) -> None:
    fake, clock = FakeRedis(raw), Clock()
    gate, registry = make_gate(specs, "gmail", fake, clock)
    with caplog.at_level(logging.WARNING, logger="relayops.controller.gate"):
        assert not any(gate.allows("ws", f"actor-{i}") for i in range(200))
    assert gate.percent() == 0
    assert fail_closed_count(registry, specs, "gmail") == 1  # once per read, not per decision
    (record,) = caplog.records
    assert RolloutKeys("gmail").percent in record.getMessage()
    assert repr(raw) in record.getMessage()
    clock.now += 1
    gate.percent()
    assert fail_closed_count(registry, specs, "gmail") == 2


def test_connection_error_fails_closed_then_recovers(
    specs: SpecSet, caplog: pytest.LogCaptureFixture
) -> None:
    fake, clock = FakeRedis(b"100"), Clock()
    fake.error = redis.ConnectionError("Error 111 connecting to 127.0.0.1:6379.")
    gate, registry = make_gate(specs, "outlook", fake, clock)
    with caplog.at_level(logging.WARNING, logger="relayops.controller.gate"):
        assert not gate.allows("ws", "actor")
    assert fail_closed_count(registry, specs, "outlook") == 1
    assert "ConnectionError" in caplog.text and RolloutKeys("outlook").percent in caplog.text
    fake.error = None
    clock.now += 1
    assert gate.allows("ws", "actor")
    assert fail_closed_count(registry, specs, "outlook") == 1


def test_counter_is_the_catalog_metric(specs: SpecSet) -> None:
    gate, registry = make_gate(specs, "outlook", FakeRedis(b"1"))
    gate.percent()
    metric = specs.metric(Role.GATE_FAIL_CLOSED)
    (family,) = (f for f in registry.collect() if f.name == metric.base)
    assert family.type == "counter" and family.documentation == metric.help
    labels = specs.provider("outlook").provider
    # exposed at 0 from the start, so rate() sees the first failure
    assert registry.get_sample_value(metric.name, {"provider": labels}) == 0


def test_default_registries_do_not_collide(specs: SpecSet) -> None:
    Gate(specs, "gmail", FakeRedis())
    Gate(specs, "gmail", FakeRedis())


@pytest.mark.parametrize(("provider", "unit"), [("gmail", "actor"), ("outlook", "workspace")])
def test_unit_from_the_spec(specs: SpecSet, provider: str, unit: str) -> None:
    assert specs.provider(provider).rollout.bucketing_unit == unit
    salt = specs.provider(provider).rollout.salt
    gate, _ = make_gate(specs, provider, FakeRedis(b"50"))
    pairs = list(zip(random_ids(seed=1, count=400), random_ids(seed=2, count=400), strict=True))
    for workspace, actor in pairs:
        chosen = actor if unit == "actor" else workspace
        assert gate.allows(workspace, actor) == is_in(salt, chosen, 50)
    # the other unit does not decide: some pairs differ between the two
    assert any(is_in(salt, w, 50) != is_in(salt, a, 50) for w, a in pairs)


class HangingRedis(FakeRedis):
    """GET blocks until `release` (a Redis that stopped answering, a client without timeouts)."""

    def __init__(self, value: object = None) -> None:
        super().__init__(value)
        self.hang = False
        self.released = threading.Event()

    def get(self, name: str) -> object:
        if self.hang:
            self.gets.append(name)
            self.released.wait(10)
            return self.value
        return super().get(name)


DEADLINE = 0.05


def test_a_read_past_the_deadline_is_abandoned_and_closes(
    specs: SpecSet, caplog: pytest.LogCaptureFixture
) -> None:
    fake, clock = HangingRedis(b"100"), Clock()
    registry = CollectorRegistry()
    gate = Gate(specs, "gmail", fake, clock=clock, read_deadline=DEADLINE, registry=registry)
    assert gate.allows("ws", "actor")
    fake.hang = True
    clock.now += 1.0
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="relayops.controller.gate"):
        assert not gate.allows("ws", "actor")  # the reader waited the deadline, then closed
    assert time.monotonic() - started < DEADLINE + 0.5
    assert "no answer within the 0.05 s read deadline" in caplog.text
    assert fail_closed_count(registry, specs, "gmail") == 1
    fake.released.set()


def test_others_decide_on_the_copy_while_a_read_is_in_flight_then_close(specs: SpecSet) -> None:
    """In flight, the copy serves until cache_seconds + read_deadline after its read started;
    then every thread is closed, not only the one that reads."""
    fake, clock = HangingRedis(b"100"), Clock()
    gate = Gate(specs, "gmail", fake, clock=clock, cache_seconds=1.0, read_deadline=DEADLINE)
    assert gate.allows("ws", "actor")  # read at t=1000
    fake.hang = True
    clock.now += 1.0  # t=1001: the next decision starts a read
    reader = threading.Thread(target=gate.allows, args=("ws", "reader"))
    reader.start()
    while not fake.gets[1:]:
        time.sleep(0.001)
    clock.now += DEADLINE / 2  # inside the window: the copy still serves, without waiting
    started = time.monotonic()
    assert gate.allows("ws", "other")
    assert time.monotonic() - started < DEADLINE / 2
    clock.now += DEADLINE / 2  # t = 1000 + open_window: closed for everyone
    assert gate.open_window == 1.0 + DEADLINE
    assert not gate.allows("ws", "other")
    reader.join(2)
    assert len(fake.gets) == 2  # one read in flight at a time
    fake.released.set()


def test_reads_stop_while_too_many_are_blocked_then_resume(
    specs: SpecSet, caplog: pytest.LogCaptureFixture
) -> None:
    fake, clock = HangingRedis(b"100"), Clock()
    gate = Gate(specs, "gmail", fake, clock=clock, read_deadline=DEADLINE)
    fake.hang = True
    with caplog.at_level(logging.WARNING, logger="relayops.controller.gate"):
        for _ in range(Gate.max_blocked_reads + 2):
            assert not gate.allows("ws", "actor")
            clock.now += 1.0
    assert len(fake.gets) == Gate.max_blocked_reads
    assert "still blocked in the Redis client" in caplog.text
    fake.hang = False
    fake.released.set()
    deadline = time.monotonic() + 5
    while not gate.allows("ws", "actor") and time.monotonic() < deadline:
        clock.now += 1.0
        time.sleep(0.01)
    assert gate.allows("ws", "actor")


@pytest.mark.parametrize(("cache", "deadline"), [(-1.0, 0.25), (1.0, 0.0)])
def test_timing_checked(specs: SpecSet, cache: float, deadline: float) -> None:
    with pytest.raises(ValueError, match="cache_seconds must be >= 0 and read_deadline > 0"):
        Gate(specs, "gmail", FakeRedis(), cache_seconds=cache, read_deadline=deadline)


def test_gate_client_makes_one_attempt_within_the_deadline() -> None:
    """Against a server that accepts and never answers, GET gives up after the deadline on
    the first connection (redis-py's default would retry ten times with backoff)."""
    with socket.create_server(("127.0.0.1", 0)) as silent:
        silent.settimeout(0.01)
        client = gate_client(f"redis://127.0.0.1:{silent.getsockname()[1]}/0", read_deadline=0.1)
        started = time.monotonic()
        with pytest.raises(redis.TimeoutError):
            client.get(RolloutKeys("gmail").percent)
        assert time.monotonic() - started < 0.5
        accepted = []
        with contextlib.suppress(TimeoutError):
            while True:
                accepted.append(silent.accept()[0])
        assert len(accepted) == 1
        for conn in accepted:
            conn.close()


# --- the gate against a real redis-server ---------------------------------------------------


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[tuple[str, Running]]:
    """redis-server on a free loopback port; yields its URL and the started process."""
    with run_redis(tmp_path) as started:
        yield started


def test_against_real_redis(specs: SpecSet, redis_server: tuple[str, Running]) -> None:
    url, running = redis_server
    client = redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
    key = RolloutKeys("gmail").percent
    client.set(key, "25")
    clock = Clock()
    gate, registry = make_gate(specs, "gmail", client, clock)
    assert gate.percent() == 25
    actors = random_ids(seed=3, count=2000)
    assert [gate.allows("ws", a) for a in actors] == [is_in(GMAIL_SALT, a, 25) for a in actors]

    client.set(key, "2.5")
    clock.now += 0.5
    assert gate.percent() == 25  # still cached
    clock.now += 0.5
    assert gate.percent() == 2.5

    stop(running)
    clock.now += 1
    assert gate.percent() == 0
    assert not any(gate.allows("ws", a) for a in actors)
    assert fail_closed_count(registry, specs, "gmail") == 1
