"""The controller on the real binaries: Prometheus evaluating the rules time-scaled ×60, the
Pushgateway fed by the synthetic driver (20 req/s of production traffic, ×60), and Redis.

At ×60 the policy's dwell is 15 s, the cooldown 60 s and the rate window 5 s, so a cron tick
of a few seconds walks the whole ramp in about a minute and a half.
"""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from relayops.cli import main
from relayops.controller.cycle import Sinks, Status, run_cycle
from relayops.controller.manual import set_percent
from relayops.controller.measure import prometheus_query
from relayops.controller.policy import Result
from relayops.controller.state import RolloutStore
from relayops.render import DRILL_MANAGED, render_time_scaled
from relayops.rules.output import write_tree
from relayops.spec.timescale import time_scaled
from relayops.stack import Stack, running_stack
from relayops.synth.driver import Driver
from relayops.synth.scenarios import scenarios
from tests.daemons import require_binary
from tests.specs_util import SPECS

SCALE = 60
RATE = 20.0  # production requests/s, pushed ×SCALE
TICK = 2.0


@pytest.fixture(scope="module")
def scaled(specs):
    return time_scaled(specs, SCALE)


@pytest.fixture(scope="module")
def stack(specs, tmp_path_factory) -> Iterator[Stack]:
    for binary, package in (
        ("prometheus", "prometheus"),
        ("prometheus-alertmanager", "prometheus-alertmanager"),
        ("prometheus-pushgateway", "prometheus-pushgateway"),
        ("redis-server", "redis-server"),
    ):
        require_binary(binary, package)
    root = tmp_path_factory.mktemp("controller")
    tree = root / "tree"
    write_tree(tree, render_time_scaled(specs, SPECS, SCALE, "http://127.0.0.1:9/x"), DRILL_MANAGED)
    with running_stack(SPECS, root, rendered=tree) as up:
        yield up


@pytest.fixture
def client(stack) -> Iterator[redis.Redis]:
    """An empty Redis in which a person has started both rollouts at 0%, an hour ago (the
    controller holds a provider with no stored state until someone does)."""
    connection = redis.Redis.from_url(stack.redis_url)
    connection.flushall()
    for provider in ("gmail", "outlook"):
        set_percent(
            RolloutStore(connection, provider), 0, "start", "test", time.time() - 3600, None
        )
    yield connection
    connection.close()


class Traffic:
    """The synthetic driver pushing one scenario for one provider in the background."""

    def __init__(self, specs, stack: Stack, provider: str):
        self.driver = Driver(specs, specs.provider(provider), stack.pushgateway_url, heartbeat_s=1)
        self.catalog = scenarios(specs)
        self.scenario = self.catalog["healthy"]
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._push, daemon=True)

    def _push(self) -> None:
        while not self.stopped.is_set():
            self.driver.run(self.scenario, 1.0, RATE, tick_s=0.25, time_scale=SCALE)

    def __enter__(self) -> Traffic:
        self.thread.start()
        time.sleep(8)  # a full 5 s rate window of this traffic, scraped and recorded
        return self

    def __exit__(self, *exc) -> None:
        self.stopped.set()
        self.thread.join()
        self.driver.delete()


def cycle(scaled, stack, client, provider: str, url: str | None = None, dry_run=False, tmp=None):
    return run_cycle(
        scaled,
        provider,
        prometheus_query(url or stack.prometheus_url, timeout=2),
        client,
        time.time(),
        dry_run=dry_run,
        who="test",
        sinks=Sinks(None if tmp is None else tmp / "audit.jsonl", stack.pushgateway_url),
    )


def test_a_healthy_provider_ramps_through_every_step(specs, scaled, stack, client, tmp_path):
    seen = []
    with Traffic(specs, stack, "gmail"):
        deadline = time.monotonic() + 150
        while time.monotonic() < deadline:
            outcome = cycle(scaled, stack, client, "gmail", tmp=tmp_path)
            assert outcome.status is Status.DECIDED, outcome
            seen.append((outcome.decision.result, outcome.decision.new))
            if outcome.decision.new == 100:
                break
            time.sleep(TICK)
    promoted = [new for result, new in seen if result is Result.PROMOTE]
    assert promoted == [1, 10, 25, 50, 100], seen
    assert RolloutStore(client, "gmail").read().percent == 100
    audit = (tmp_path / "audit.jsonl").read_text().splitlines()
    assert len(audit) == len(seen) and '"result": "promote"' in audit[0]
    history = RolloutStore(client, "gmail").history(50)
    assert [e["new"] for e in history if e["result"] == "promote"] == [100, 50, 25, 10, 1]
    # telemetry under the catalog's names, on the controller's own grouping key
    body = subprocess.run(
        ["curl", "-s", f"{stack.pushgateway_url}/metrics"], capture_output=True, text=True
    ).stdout
    percent = scaled.metric("controller_percent").name
    assert f'{percent}{{instance="",job="relay-rollout-controller",provider="google"}} 100' in body
    assert "rollout_controller_decisions_total{" in body and 'result="promote"' in body


def test_error_rate_crit_rolls_back(specs, scaled, stack, client):
    store = RolloutStore(client, "outlook")
    start = store.read()
    store.write(start, start.__class__(percent=50.0, last_change_at=time.time() - 3600))
    with Traffic(specs, stack, "outlook") as traffic:
        traffic.scenario = traffic.catalog["error-rate-crit"]
        time.sleep(8)
        results = []
        for _ in range(15):
            outcome = cycle(scaled, stack, client, "outlook")
            results.append((outcome.decision.result, outcome.decision.new, outcome.decision.reason))
            if outcome.decision.new == 0:
                break
            time.sleep(TICK)
    assert results[0][0] is Result.ROLLBACK, results
    assert results[-1][1] == 0 and any("severe breach" in r for _, _, r in results), results


def test_prometheus_down_holds_and_counts_the_error(scaled, stack, client, capsys, tmp_path):
    store = RolloutStore(client, "gmail")
    store.write(store.read(), store.read().__class__(percent=10.0))
    dead = "http://127.0.0.1:9"
    outcome = cycle(scaled, stack, client, "gmail", url=dead)
    assert outcome.status is Status.FAILED
    assert (outcome.decision.result, outcome.decision.new) == (Result.HOLD, 10.0)
    assert "measurement error (1 in a row)" in outcome.decision.reason
    assert store.read().consecutive_errors == 1
    argv = ["controller", "run", "--once", "--provider", "gmail", "--specs", str(SPECS)]
    argv += ["--audit-log", str(tmp_path / "audit.jsonl")]
    code = main([*argv, "--prometheus", dead, "--redis", stack.redis_url])
    assert code == 1
    assert "HOLD 10% -> 10%" in capsys.readouterr().out


def test_no_traffic_holds(scaled, stack, client):
    # Gmail's traffic group was deleted at the end of the tests above; no page alert fires
    store = RolloutStore(client, "gmail")
    store.write(store.read(), store.read().__class__(percent=10.0))
    outcome = cycle(scaled, stack, client, "gmail")
    assert outcome.status is Status.DECIDED
    assert (outcome.decision.result, outcome.decision.new) == (Result.HOLD, 10.0)
    assert outcome.decision.reason.startswith("inconclusive, never a promotion")


def test_two_concurrent_runs_step_once(specs, scaled, stack, client):
    store = RolloutStore(client, "gmail")
    store.write(store.read(), store.read().__class__(percent=10.0))
    with Traffic(specs, stack, "gmail"):
        barrier = threading.Barrier(2)
        outcomes = []

        def run() -> None:
            barrier.wait()
            outcomes.append(cycle(scaled, stack, client, "gmail"))

        threads = [threading.Thread(target=run) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    # Usually the second run finds the lock held; on a loaded machine the first may be done
    # before the second starts, and the second must then hold for the dwell. Either way one
    # step, never two.
    promoted = [o for o in outcomes if o.decision and o.decision.result is Result.PROMOTE]
    assert len(promoted) == 1, outcomes
    assert {o.status for o in outcomes} <= {Status.DECIDED, Status.LOCKED}, outcomes
    assert store.read().percent == 25.0


def dump(client: redis.Redis) -> dict[bytes, bytes]:
    return {key: client.dump(key) for key in sorted(client.keys("*"))}


def test_dry_run_leaves_redis_byte_identical(specs, scaled, stack, client, tmp_path, capsys):
    store = RolloutStore(client, "gmail")
    store.write(store.read(), store.read().__class__(percent=25.0))
    store.count("runs:success")
    before = dump(client)
    with Traffic(specs, stack, "gmail"):
        outcome = cycle(scaled, stack, client, "gmail", dry_run=True, tmp=tmp_path)
        argv = ["controller", "run", "--once", "--dry-run", "--time-scale", "60"]
        argv += ["--provider", "gmail", "--specs", str(SPECS)]
        code = main([*argv, "--prometheus", stack.prometheus_url, "--redis", stack.redis_url])
    assert outcome.decision.result is Result.PROMOTE and outcome.decision.new == 50.0
    assert code == 0
    out = capsys.readouterr().out
    assert "DRY RUN gmail: PROMOTE 25% -> 50%" in out and "error_ratio pass" in out
    assert dump(client) == before
    assert not (tmp_path / "audit.jsonl").exists()


def test_manual_commands_are_audited(stack, client, tmp_path, capsys):
    base = ["--specs", str(SPECS), "--redis", stack.redis_url]
    log = tmp_path / "audit.jsonl"
    assert (
        main(
            [
                "controller",
                "set-percent",
                "gmail",
                "25",
                "--reason",
                "start",
                *base,
                "--audit-log",
                str(log),
                "--who",
                "alice",
            ]
        )
        == 0
    )
    assert (
        main(
            [
                "controller",
                "pause",
                "gmail",
                "--reason",
                "incident 42",
                *base,
                "--audit-log",
                str(log),
                "--who",
                "bob",
            ]
        )
        == 0
    )
    assert main(["controller", "status", "--provider", "gmail", *base]) == 0
    assert main(["controller", "history", "--provider", "gmail", *base]) == 0
    out = capsys.readouterr().out
    assert "gmail: 25% PAUSED" in out
    assert "gmail pause 25% -> 25% by bob: incident 42" in out
    assert "gmail set-percent 0% -> 25% by alice: start" in out
    assert len(log.read_text().splitlines()) == 2
    assert main(["controller", "set-percent", "gmail", "12.345", "--reason", "x", *base]) == 2
    client.set("flags:gmail:rollout_percent", "lots")
    assert main(["controller", "status", "--provider", "gmail", *base]) == 1
    assert "flags:gmail:rollout_percent holds 'lots'" in capsys.readouterr().out


def test_audit_file_path_is_created(tmp_path: Path) -> None:
    from relayops.controller.audit_file import append_audit

    append_audit(tmp_path / "deep" / "audit.jsonl", {"a": 1})
    assert (tmp_path / "deep" / "audit.jsonl").read_text() == '{"a": 1}\n'


def test_an_http_200_error_answer_is_a_counted_audited_error_for_every_provider(
    stack, client, tmp_path, capsys
):
    """A Prometheus (or a proxy) answering HTTP 200 with `status: error`: each provider holds
    with a measurement error counted in Redis and written to the audit log; no traceback, and
    no provider left without a decision."""
    import json
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Broken(BaseHTTPRequestHandler):
        def do_GET(self):
            body = json.dumps({"status": "error", "errorType": "internal", "error": "overload"})
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body.encode())

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Broken)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    before = {}
    for provider in ("gmail", "outlook"):
        store = RolloutStore(client, provider)
        store.write(store.read(), store.read().__class__(percent=10.0))
        before[provider] = store.read().consecutive_errors
    audit = tmp_path / "audit.jsonl"
    argv = ["controller", "run", "--once", "--specs", str(SPECS), "--audit-log", str(audit)]
    try:
        url = f"http://127.0.0.1:{server.server_port}"
        code = main([*argv, "--prometheus", url, "--redis", stack.redis_url])
    finally:
        server.shutdown()
    printed = capsys.readouterr()
    assert code == 1, printed
    assert "Traceback" not in printed.out + printed.err
    for provider in ("gmail", "outlook"):
        assert RolloutStore(client, provider).read().consecutive_errors == before[provider] + 1
    records = [json.loads(line) for line in audit.read_text().splitlines()]
    assert {r["provider"] for r in records} == {"gmail", "outlook"}, records
    assert all("overload" in json.dumps(r) for r in records), records
