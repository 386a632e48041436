"""The local stack against the real daemons: up, every URL answers, end-to-end push and alert,
refusals, clear errors, and `down` stopping exactly what `up` started."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis
import yaml

from relayops.cli import main
from relayops.stack import (
    Stack,
    StackError,
    StackRunning,
    read_notifications,
    recorded_stack,
    stack_down,
    stack_status,
    stack_up,
)
from relayops.stack import stack as stack_module
from relayops.stack.daemons import (
    DaemonError,
    DaemonExited,
    Running,
    free_port,
    identity,
    on_free_port,
)
from tests.daemons import require_binary
from tests.specs_util import REPO, SPECS

BINARIES = {
    "prometheus": "prometheus",
    "prometheus-alertmanager": "prometheus-alertmanager",
    "prometheus-pushgateway": "prometheus-pushgateway",
    "redis-server": "redis-server",
}


@pytest.fixture(scope="module", autouse=True)
def _binaries() -> None:
    for name, package in BINARIES.items():
        require_binary(name, package)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """One stack for the module, rendered from the specs by `up` itself (about 8 s)."""
    state = tmp_path_factory.mktemp("stack") / "state"
    started = time.monotonic()
    up = stack_up(SPECS, state, group_wait="1s")
    print(f"stack up in {time.monotonic() - started:.2f}s")
    yield up
    stack_down(state)


@pytest.fixture
def drill_tree(stack: Stack, tmp_path: Path) -> Path:
    """A copy of the module stack's rendered rules and drill config, to start more stacks
    without rendering again."""
    tree = tmp_path / "rendered"
    for folder in ("prometheus", "alertmanager"):
        shutil.copytree(stack.rendered / folder, tree / folder)
    return tree


def _eventually(probe, timeout: float):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"nothing after {timeout}s")


def _cli(*argv: str) -> int:
    return main(list(argv))


def _gone(pid: int) -> bool:
    return identity(pid) is None


def test_every_component_answers(stack: Stack) -> None:
    for url in (stack.prometheus_url, stack.alertmanager_url, stack.pushgateway_url):
        assert httpx.get(f"{url}/-/ready").status_code == 200
    assert redis.Redis.from_url(stack.redis_url).ping()

    config = yaml.safe_load(
        httpx.get(f"{stack.prometheus_url}/api/v1/status/config").json()["data"]["yaml"]
    )
    (job,) = config["scrape_configs"]
    assert job["job_name"] == "pushgateway" and job["honor_labels"] is True
    assert job["static_configs"][0]["targets"] == [stack.pushgateway_url.removeprefix("http://")]
    assert config["global"]["evaluation_interval"] == "1s"
    assert config["rule_files"] == [str(stack.rendered / "prometheus" / "*.yml")]
    rendered_groups = {
        group["name"]
        for path in (stack.rendered / "prometheus").glob("*.yml")
        for group in yaml.safe_load(path.read_text())["groups"]
    }
    loaded = httpx.get(f"{stack.prometheus_url}/api/v1/rules").json()["data"]["groups"]
    assert {g["name"] for g in loaded} == rendered_groups and len(rendered_groups) > 4

    am = httpx.get(f"{stack.alertmanager_url}/api/v2/status").json()["config"]["original"]
    receivers = yaml.safe_load(am)["receivers"]
    assert {w["url"] for r in receivers for w in r["webhook_configs"]} == {stack.webhook_url}
    assert all(set(r) <= {"name", "webhook_configs"} for r in receivers)

    before = time.time()
    assert httpx.post(stack.webhook_url, json={"probe": "sink"}).status_code == 200
    (entry,) = [n for n in read_notifications(stack.sink_log) if n.get("probe") == "sink"]
    assert before <= entry["received_at"] <= time.time()
    assert stack_status(stack.state_dir) == dict.fromkeys(stack.components, True)


def test_pushed_metric_is_queryable(stack: Stack) -> None:
    pushed = time.monotonic()
    response = httpx.put(
        f"{stack.pushgateway_url}/metrics/job/stack_smoke",
        content=b"relayops_stack_smoke 42\n",
    )
    assert response.status_code == 200

    def query() -> list:
        answer = httpx.get(
            f"{stack.prometheus_url}/api/v1/query", params={"query": "relayops_stack_smoke"}
        ).json()
        return answer["data"]["result"]

    (sample,) = _eventually(query, timeout=5)
    print(f"push -> queryable in {time.monotonic() - pushed:.2f}s")
    assert sample["metric"]["job"] == "stack_smoke"  # honor_labels keeps the pushed job
    assert sample["value"][1] == "42"


def test_a_new_stack_starts_with_an_empty_pushgateway(drill_tree: Path, tmp_path: Path) -> None:
    """Nothing pushed to one stack reaches the next: Debian's Pushgateway would otherwise
    save its groups to a shared file at exit and load them at start."""
    first = stack_up(SPECS, tmp_path / "first", rendered=drill_tree, redis=False)
    try:
        pushed = httpx.put(
            f"{first.pushgateway_url}/metrics/job/left_behind", content=b"relayops_left 1\n"
        )
        assert pushed.status_code == 200
    finally:
        stack_down(tmp_path / "first")
    second = stack_up(SPECS, tmp_path / "second", rendered=drill_tree, redis=False)
    try:
        groups = httpx.get(f"{second.pushgateway_url}/api/v1/metrics").json()["data"]
    finally:
        stack_down(tmp_path / "second")
    assert groups == []


def test_readiness_probes_share_one_http_client(
    drill_tree: Path, tmp_path: Path, http_clients_made: list
) -> None:
    """Each daemon's readiness is polled every 50 ms while it starts; a client per probe kept
    the CPU busy when dozens of stacks started side by side."""
    started = stack_up(SPECS, tmp_path / "state", rendered=drill_tree, redis=False)
    stack_down(tmp_path / "state")
    assert set(started.components) == {"sink", "pushgateway", "alertmanager", "prometheus"}
    assert len(http_clients_made) <= 1  # the shared probe client, unless made earlier


def test_alert_reaches_the_sink_through_drill_routing(stack: Stack) -> None:
    labels = {
        "alertname": "StackSmokeCritical",
        "severity": "critical",
        "service": "relay",
        "provider": "google",
    }
    posted = time.time()
    response = httpx.post(f"{stack.alertmanager_url}/api/v2/alerts", json=[{"labels": labels}])
    assert response.status_code == 200

    def received() -> list[dict]:
        return [
            n
            for n in read_notifications(stack.sink_log)
            if n.get("commonLabels", {}).get("alertname") == labels["alertname"]
        ]

    (notification, *_) = _eventually(received, timeout=15)
    print(f"alert -> sink in {notification['received_at'] - posted:.2f}s")
    assert notification["receiver"] == "relay-critical-pagerduty"
    assert notification["status"] == "firing"
    assert notification["alerts"][0]["labels"] == labels


def test_second_up_on_a_live_state_refuses(stack: Stack, capsys) -> None:
    with pytest.raises(StackRunning) as refused:
        stack_up(SPECS, stack.state_dir)
    assert refused.value.stack.pids == stack.pids
    assert _cli("stack", "up", "--state", str(stack.state_dir)) == 1
    out = capsys.readouterr()
    assert "already running" in out.err and stack.prometheus_url in out.out
    assert _cli("stack", "status", "--state", str(stack.state_dir)) == 0
    assert all(not _gone(pid) for pid in stack.pids.values())


def test_down_stops_every_process_and_removes_the_state(drill_tree: Path, tmp_path: Path) -> None:
    state = tmp_path / "state"
    started = stack_up(SPECS, state, rendered=drill_tree)
    assert recorded_stack(state) == started
    assert set(started.pids) == {"sink", "redis", "pushgateway", "alertmanager", "prometheus"}
    os.kill(started.pids["redis"], signal.SIGTERM)
    _eventually(lambda: not stack_status(state)["redis"], timeout=5)
    assert _cli("stack", "status", "--state", str(state)) == 1
    assert stack_down(state) == ["prometheus", "alertmanager", "pushgateway", "sink"]
    assert all(_gone(pid) for pid in started.pids.values())
    assert not state.exists()
    assert stack_status(state) == {}
    assert _cli("stack", "status", "--state", str(state)) == 1
    assert drill_tree.is_dir()  # a tree passed with --rendered is not ours to remove


CLI = "import sys; from relayops.cli import main; sys.exit(main(sys.argv[1:]))"


def test_cli_up_leaves_the_stack_running_after_it_exits(drill_tree: Path, tmp_path: Path) -> None:
    state, sink_port = tmp_path / "state", free_port()
    argv = ["stack", "up", "--state", str(state), "--rendered", str(drill_tree)]
    argv += ["--port", f"sink={sink_port}", "--group-wait", "1s"]
    up = subprocess.run(
        [sys.executable, "-c", CLI, *argv], capture_output=True, text=True, check=False
    )
    assert up.returncode == 0, up.stderr
    assert f"http://127.0.0.1:{sink_port}/notify" in up.stdout
    started = recorded_stack(state)
    assert started is not None
    assert stack_status(state) == dict.fromkeys(started.components, True)
    assert _cli("stack", "down", "--state", str(state)) == 0
    assert all(_gone(pid) for pid in started.pids.values())
    assert not state.exists()


def test_down_never_signals_a_pid_that_is_no_longer_ours(tmp_path: Path) -> None:
    stranger = subprocess.Popen(["sleep", "30"])
    try:
        state = tmp_path / "state"
        state.mkdir()
        record = {
            "rendered": str(tmp_path),
            "started_at": 0,
            "components": [
                {
                    "name": "sink",
                    "url": "http://127.0.0.1:1",
                    "port": 1,
                    "pid": stranger.pid,
                    "identity": "1:python3",
                    "log": str(state / "sink.log"),
                }
            ],
        }
        (state / "stack.json").write_text(json.dumps(record))
        assert stack_down(state) == []
        assert stranger.poll() is None and not state.exists()
    finally:
        stranger.kill()
        stranger.wait()


def test_missing_binary_is_named_with_its_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in BINARIES:
        if name != "prometheus-pushgateway":
            (bin_dir / name).symlink_to(shutil.which(name))
    monkeypatch.setenv("PATH", str(bin_dir))
    state = tmp_path / "state"
    with pytest.raises(StackError) as error:
        stack_up(SPECS, state)
    message = str(error.value)
    assert "prometheus-pushgateway not found on PATH" in message
    assert "Debian package prometheus-pushgateway" in message and "make tools" in message
    assert "prometheus not found" not in message
    assert not state.exists()
    assert _cli("stack", "up", "--state", str(state)) == 2
    assert "prometheus-pushgateway" in capsys.readouterr().err


def test_explicit_port_taken_is_refused_before_starting(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(StackError, match=f"taken on 127.0.0.1: {port} \\(prometheus\\)"):
            stack_up(SPECS, tmp_path / "state", ports={"prometheus": port})
    assert not (tmp_path / "state").exists()


def _recording_starts(monkeypatch: pytest.MonkeyPatch) -> list[Running]:
    """Record every process `stack_up` starts, to check none outlives a failed start."""
    started: list[Running] = []
    real_start = stack_module.start

    def start(*args, **kwargs) -> Running:
        running = real_start(*args, **kwargs)
        started.append(running)
        return running

    monkeypatch.setattr(stack_module, "start", start)
    return started


def test_daemon_failing_to_start_leaves_no_orphans(
    drill_tree: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (drill_tree / "prometheus" / "broken.yml").write_text("groups: [{name: x, rules: [{}]}]\n")
    started = _recording_starts(monkeypatch)
    state = tmp_path / "state"
    with pytest.raises(StackError) as error:
        stack_up(SPECS, state, rendered=drill_tree)
    message = str(error.value)
    assert message.startswith("prometheus exited with status")
    assert "broken.yml" in message  # the tail of its log says why
    assert len(started) == 4  # sink, redis, pushgateway, alertmanager were up
    assert all(_gone(r.pid) for r in started)
    assert not state.exists()


def test_production_tree_is_refused_without_orphans(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    started = _recording_starts(monkeypatch)
    with pytest.raises(StackError, match=r"relay-critical-pagerduty.*--drill-webhook"):
        stack_up(SPECS, tmp_path / "state", rendered=REPO / "rendered")
    assert started and all(_gone(r.pid) for r in started)
    assert not (tmp_path / "state").exists()


def test_a_stack_for_one_provider_loads_only_its_rules(drill_tree: Path, tmp_path: Path) -> None:
    state = tmp_path / "state"
    stack = stack_up(SPECS, state, rendered=drill_tree, redis=False, providers=("outlook",))
    try:
        loaded = httpx.get(f"{stack.prometheus_url}/api/v1/rules").json()["data"]["groups"]
    finally:
        stack_down(state)
    files = {group["file"] for group in loaded}
    assert files == {
        str(drill_tree.resolve() / "prometheus" / name)
        for name in (
            "outlook.rules.yml",
            "outlook.slo.yml",
            "outlook.period.rules.yml",
            "outlook.alerts.yml",
        )
    }


def test_a_provider_without_rendered_rules_is_refused_without_orphans(
    drill_tree: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    started = _recording_starts(monkeypatch)
    with pytest.raises(StackError, match=r"provider\(s\) yahoo: .*yahoo\.rules\.yml"):
        stack_up(SPECS, tmp_path / "state", rendered=drill_tree, redis=False, providers=("yahoo",))
    assert len(started) == 1  # the sink only: refused before any daemon starts
    assert all(_gone(r.pid) for r in started)
    assert not (tmp_path / "state").exists()


def test_read_notifications_skips_a_line_still_being_written(tmp_path: Path) -> None:
    log = tmp_path / "notifications.jsonl"
    assert read_notifications(log) == []
    log.write_text('{"received_at": 1.5, "status": "firing"}\n{"received_at": 2')
    assert read_notifications(log) == [{"received_at": 1.5, "status": "firing"}]
    assert os.path.getsize(log) > 0


def test_a_start_that_exits_early_is_retried_on_a_new_port_three_times_in_all() -> None:
    ports: list[int] = []

    def exits_twice(port: int) -> int:
        ports.append(port)
        if len(ports) < 3:
            raise DaemonExited("port taken")
        return port

    assert on_free_port(exits_twice) == ports[-1]
    assert len(ports) == 3

    ports.clear()

    def always_exits(port: int) -> int:
        ports.append(port)
        raise DaemonExited("still taken")

    with pytest.raises(DaemonExited, match="still taken"):
        on_free_port(always_exits)
    assert len(ports) == 3

    ports.clear()

    def not_ready(port: int) -> int:
        ports.append(port)
        raise DaemonError("not ready after 10 s")

    with pytest.raises(DaemonError, match="not ready"):
        on_free_port(not_ready)
    assert len(ports) == 1  # only an early exit is retried
