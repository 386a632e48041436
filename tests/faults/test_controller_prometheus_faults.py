"""The controller against a real Prometheus that hangs, answers slowly or refuses connections
(through tests/faults/tcp_proxy.py): every provider holds, the error is counted and audited,
nothing moves; a hung Prometheus costs one timeout per run, not one per measurement; once it
answers again the next run decides. What an error looks like is the real httpx/Prometheus
behaviour, not a mocked exception."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from relayops.controller.cycle import Sinks, Status, run_cycle
from relayops.controller.manual import set_percent
from relayops.controller.measure import prometheus_query
from relayops.controller.policy import Verdict
from relayops.controller.state import RolloutStore
from relayops.spec import SpecSet
from relayops.stack.daemons import LOOPBACK, free_port, http_ready, start, stop
from tests.daemons import require_binary
from tests.faults.tcp_proxy import FaultProxy, Mode

TIMEOUT = 0.5
PROVIDERS = ("gmail", "outlook")


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FaultProxy]:
    """A bare Prometheus (no targets: every measurement is "no data") behind a fault proxy."""
    binary = require_binary("prometheus", "prometheus")
    folder = tmp_path_factory.mktemp("prometheus")
    config = folder / "prometheus.yml"
    config.write_text("global:\n  evaluation_interval: 1s\n")
    port = free_port()
    url = f"http://{LOOPBACK}:{port}"
    argv = [
        binary,
        f"--config.file={config}",
        f"--storage.tsdb.path={folder / 'data'}",
        f"--web.listen-address={LOOPBACK}:{port}",
    ]
    running = start("prometheus", argv, folder / "prometheus.log", http_ready(f"{url}/-/ready"))
    try:
        with FaultProxy(port) as proxy:
            yield proxy
    finally:
        stop(running)


def cycles(specs: SpecSet, proxy: FaultProxy, client: redis.Redis, audit: Path):
    query = prometheus_query(f"http://{LOOPBACK}:{proxy.port}", timeout=TIMEOUT)
    sinks = Sinks(audit, None)
    return [
        run_cycle(specs, p, query, client, time.time(), dry_run=False, who="t", sinks=sinks)
        for p in PROVIDERS
    ]


@pytest.mark.parametrize("fault", ["black-holed", "slower than the timeout", "refusing"])
def test_a_failing_prometheus_holds_every_provider_and_is_audited(
    specs: SpecSet, prometheus: FaultProxy, redis_client: redis.Redis, tmp_path: Path, fault: str
) -> None:
    an_hour_ago = time.time() - 3600
    for provider in PROVIDERS:
        set_percent(RolloutStore(redis_client, provider), 10, "start", "t", an_hour_ago, None)
    audit = tmp_path / "audit.jsonl"
    mode, delay = {
        "black-holed": (Mode.BLACKHOLE, 0.0),
        "slower than the timeout": (Mode.PASS, 2 * TIMEOUT),
        "refusing": (Mode.RESET, 0.0),
    }[fault]
    prometheus.switch(mode, delay)
    try:
        failed = cycles(specs, prometheus, redis_client, audit)
    finally:
        prometheus.switch(Mode.PASS)
    for outcome in failed:
        assert outcome.status is Status.FAILED
        assert outcome.decision is not None and outcome.decision.new == 10  # held
        errors = [m for m in outcome.checks if m.verdict is Verdict.ERROR]
        assert errors, outcome.checks
        assert RolloutStore(redis_client, outcome.provider).read().consecutive_errors == 1
    details = [m.detail for o in failed for m in o.checks if m.verdict is Verdict.ERROR]
    if fault != "refusing":  # one timeout per run; every later query is not asked
        assert f"no answer in {TIMEOUT:g} s" in details[0]
        assert all("not asked: an earlier query of this run timed out" in d for d in details[1:])
    entries = [json.loads(line) for line in audit.read_text().splitlines()]
    assert [e["status"] for e in entries] == ["failed", "failed"]
    assert all(e["inputs"] and e["new"] == 10 for e in entries)

    recovered = cycles(specs, prometheus, redis_client, audit)
    assert [o.status for o in recovered] == [Status.DECIDED, Status.DECIDED]
    assert all(o.decision.new == 10 for o in recovered)  # no data: inconclusive, a hold
