"""Redis killed before each round trip of a controller cycle: a step is never stored without
its audit record (the defect: Redis dying between the compare-and-set and the audit XADD moved
the percentage with no audit stream, history or JSON-lines record)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import redis

from relayops.controller.cycle import Sinks, run_cycle
from relayops.controller.keys import AUDIT_STREAM, RolloutKeys
from relayops.controller.policy import Measurement, Verdict
from relayops.spec.specset import load_specs
from tests.faults.redis_kill import durable_redis
from tests.specs_util import SPECS

NOW = time.time()
CHECKS = ["request_rate", "error_ratio", "latency_p95", "oauth_refresh_failures"]


def healthy(specs, spec, query, at):
    return [Measurement(n, Verdict.PASS, 0.0) for n in CHECKS], Measurement(
        "page_alerts", Verdict.PASS, 0.0
    )


def _seed(url: str) -> None:
    keys = RolloutKeys("gmail")
    client = redis.Redis.from_url(url)
    client.set(keys.percent, "10")
    client.hset(
        keys.state,
        mapping={
            "last_change_at": repr(NOW - 3600),
            "previous_percent": "1.0",
            "last_rollback_at": "",
            "paused": "0",
            "consecutive_errors": "0",
        },
    )
    client.close()


def _cycle(client: redis.Redis, audit_log: Path):
    specs = load_specs(SPECS)
    return run_cycle(
        specs,
        "gmail",
        lambda promql, at: None,
        client,
        NOW,
        dry_run=False,
        who="test",
        sinks=Sinks(audit_log, None),
        measure_fn=healthy,
    )


def _round_trips(tmp_path: Path) -> int:
    """How many round trips a whole cycle makes (none killed), and that it steps 10 -> 25."""
    with durable_redis(tmp_path) as server:
        _seed(server.url)
        counting = server.killing_at(10**9)
        outcome = _cycle(counting, tmp_path / "audit.jsonl")
        assert outcome.decision is not None and outcome.decision.new == 25.0
        counting.close()
        return server.sent


def test_killing_redis_before_any_round_trip_never_leaves_a_step_without_its_audit(
    tmp_path: Path,
) -> None:
    total = _round_trips(tmp_path / "count")
    assert total >= 5
    for kill_at in range(1, total + 1):
        folder = tmp_path / f"kill-{kill_at}"
        folder.mkdir()
        audit_log = folder / "audit.jsonl"
        with durable_redis(folder) as server:
            _seed(server.url)
            with pytest.raises(redis.RedisError):
                _cycle(server.killing_at(kill_at), audit_log)
            server.start()  # the same folder and port: what the server had acknowledged
            client = redis.Redis.from_url(server.url)
            percent = client.get(RolloutKeys("gmail").percent)
            entries = [json.loads(fields[b"entry"]) for _, fields in client.xrange(AUDIT_STREAM)]
            client.close()
        steps = [e for e in entries if e.get("new") == 25.0]
        if percent == b"25":
            assert steps, f"killed before round trip {kill_at}: stepped to 25% with no audit"
        else:
            assert percent == b"10", percent
            assert not steps, f"killed before round trip {kill_at}: audited a step not taken"
