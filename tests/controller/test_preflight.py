"""The controller preflight against a real redis-server and a real HTTP server on loopback."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from relayops.controller.preflight import check_prometheus, check_redis, main, redact
from relayops.stack.commands import redis
from relayops.stack.daemons import Running, free_port, on_free_port, start, stop
from tests.daemons import require_binary
from tests.specs_util import REPO

PASSWORD = "s3cret"


def _authenticated(port: int, password: str) -> Callable[[], bool]:
    url = f"redis://:{password}@127.0.0.1:{port}/0"
    return lambda: check_redis(url, timeout=0.5).ok


def _start_redis(tmp_path: Path, password: str = "") -> tuple[Running, int]:
    """redis-server on a free port; retried on a new port if another process took it."""
    binary = require_binary("redis-server", "redis-server")
    data = tmp_path / "redis-data"
    data.mkdir(parents=True, exist_ok=True)
    launch = redis(binary, data)

    def attempt(port: int) -> tuple[Running, int]:
        argv, ready, _ = launch(port)
        if password:
            argv += ["--requirepass", password]
            ready = _authenticated(port, password)
        return start("redis", argv, tmp_path / "redis.log", ready), port

    return on_free_port(attempt)


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A password-protected Redis for the module; its URL carries the password."""
    running, port = _start_redis(tmp_path_factory.mktemp("redis"), password=PASSWORD)
    yield f"redis://:{PASSWORD}@127.0.0.1:{port}/0"
    stop(running)


class _Ready(BaseHTTPRequestHandler):
    status = HTTPStatus.OK

    def do_GET(self) -> None:
        code = self.status if self.path == "/-/ready" else HTTPStatus.NOT_FOUND
        self.send_response(code)
        self.end_headers()
        self.wfile.write(b"Prometheus Server is Ready.\n")

    def log_message(self, format: str, *args: object) -> None:
        """Keep the test output quiet."""


@pytest.fixture
def http_server() -> Iterator[Callable[[HTTPStatus], str]]:
    """Start tiny servers answering /-/ready with the given status; yield their base URLs."""
    servers: list[ThreadingHTTPServer] = []

    def serve(status: HTTPStatus) -> str:
        handler = type("Handler", (_Ready,), {"status": status})
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield serve
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture
def prometheus_url(http_server: Callable[[HTTPStatus], str]) -> str:
    return http_server(HTTPStatus.OK)


def _run(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, *argv: str, **env: str
) -> tuple[int, str, str, str]:
    """main() with only `env`; returns exit code, stdout, stderr and the GITHUB_OUTPUT file."""
    output = tmp_path / "github_output"
    code = main(list(argv), {"GITHUB_OUTPUT": str(output), **env})
    captured = capsys.readouterr()
    written = output.read_text() if output.exists() else ""
    return code, captured.out, captured.err, written


def test_both_up_is_ready(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, prometheus_url: str, redis_url: str
) -> None:
    code, out, err, written = _run(
        capsys, tmp_path, PROMETHEUS_URL=prometheus_url, REDIS_URL=redis_url
    )
    assert (code, err, written) == (0, "", "ready=true\n")
    lines = out.splitlines()
    assert lines == [
        f"prometheus {prometheus_url}: ready",
        f"redis {redis_url.replace(':' + PASSWORD, '***')}: PONG",
    ]
    assert "skipping" not in out


def test_password_never_printed(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, prometheus_url: str, redis_url: str
) -> None:
    wrong = redis_url.replace(PASSWORD, "wr0ngpass")
    code, out, err, written = _run(capsys, tmp_path, PROMETHEUS_URL=prometheus_url, REDIS_URL=wrong)
    assert (code, written) == (0, "ready=false\n")
    assert "redis redis://***@127.0.0.1:" in out and "unreachable" in out
    assert "wr0ngpass" not in out + err and PASSWORD not in out + err


def test_redis_stopped_skips_cleanly(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, prometheus_url: str
) -> None:
    running, port = _start_redis(tmp_path)
    url = f"redis://127.0.0.1:{port}/0"
    assert check_redis(url).ok
    stop(running)

    code, out, err, written = _run(capsys, tmp_path, PROMETHEUS_URL=prometheus_url, REDIS_URL=url)
    assert (code, err, written) == (0, "", "ready=false\n")
    assert f"redis {url}: unreachable (ConnectionError" in out
    assert out.splitlines()[-1].startswith("skipping: redis not ready")


def test_prometheus_not_ready_skips_cleanly(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    http_server: Callable[[HTTPStatus], str],
    redis_url: str,
) -> None:
    url = http_server(HTTPStatus.SERVICE_UNAVAILABLE)
    code, out, _, written = _run(capsys, tmp_path, PROMETHEUS_URL=url, REDIS_URL=redis_url)
    assert (code, written) == (0, "ready=false\n")
    assert f"prometheus {url}: not ready (HTTP 503)" in out
    assert out.splitlines()[-1].startswith("skipping: prometheus not ready")


def test_prometheus_unreachable() -> None:
    check = check_prometheus(f"http://127.0.0.1:{free_port()}", timeout=0.5)
    assert not check.ok and check.detail.startswith("unreachable (ConnectError")


def test_output_file_is_appended(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, prometheus_url: str, redis_url: str
) -> None:
    (tmp_path / "github_output").write_text("earlier=1\n")
    _, _, _, written = _run(capsys, tmp_path, PROMETHEUS_URL=prometheus_url, REDIS_URL=redis_url)
    assert written == "earlier=1\nready=true\n"


def test_condition_mode_for_systemd(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, prometheus_url: str, redis_url: str
) -> None:
    """ExecCondition=: 0 runs the controller, 1 skips the unit, 255 fails it."""
    down = f"redis://127.0.0.1:{free_port()}/0"
    ready = _run(
        capsys, tmp_path, "--condition", PROMETHEUS_URL=prometheus_url, REDIS_URL=redis_url
    )
    skipped = _run(capsys, tmp_path, "--condition", PROMETHEUS_URL=prometheus_url, REDIS_URL=down)
    broken = _run(capsys, tmp_path, "--condition", PROMETHEUS_URL=prometheus_url)
    assert (ready[0], skipped[0], broken[0]) == (0, 1, 255)
    assert "skipping: redis not ready" in skipped[1]
    assert broken[2] == "preflight: REDIS_URL is not set\n"


@pytest.mark.parametrize("missing", ["PROMETHEUS_URL", "REDIS_URL"])
def test_missing_variable_exits_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, missing: str
) -> None:
    env = {"PROMETHEUS_URL": "http://127.0.0.1:9090", "REDIS_URL": "redis://127.0.0.1:6379/0"}
    env[missing] = ""
    code, out, err, written = _run(capsys, tmp_path, **env)
    assert (code, out, written) == (2, "", "")
    assert err == f"preflight: {missing} is not set\n"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("PROMETHEUS_URL", "prometheus:9090"),
        ("PROMETHEUS_URL", "http://127.0.0.1:99999"),
        ("PROMETHEUS_URL", "ftp://:pw@example.org"),
        ("REDIS_URL", "http://:pw@127.0.0.1:6379"),
        ("REDIS_URL", "redis://127.0.0.1:99999/0"),
    ],
)
def test_malformed_variable_exits_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, name: str, value: str
) -> None:
    env = {"PROMETHEUS_URL": "http://127.0.0.1:9090", "REDIS_URL": "redis://127.0.0.1:6379/0"}
    env[name] = value
    code, out, err, written = _run(capsys, tmp_path, **env)
    assert (code, out, written) == (2, "", "")
    assert err.startswith(f"preflight: {name} is malformed") and ":pw@" not in err


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://:s3cret@h:6379/0", "redis://***@h:6379/0"),
        ("rediss://user:p%40ss@h:6380", "rediss://***@h:6380"),
        ("redis://h:6379/0?password=s3cret", "redis://h:6379/0?***"),
        ("https://u:p@prom.example/prefix", "https://***@prom.example/prefix"),
        ("http://127.0.0.1:9090", "http://127.0.0.1:9090"),
    ],
)
def test_redact(url: str, shown: str) -> None:
    assert redact(url) == shown


def test_module_entry_point(tmp_path: Path, prometheus_url: str, redis_url: str) -> None:
    """`python -m relayops.controller.preflight` as the workflow and the systemd unit run it."""
    output = tmp_path / "github_output"
    env = {"PROMETHEUS_URL": prometheus_url, "REDIS_URL": redis_url, "GITHUB_OUTPUT": str(output)}
    done = subprocess.run(
        [sys.executable, "-m", "relayops.controller.preflight"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    assert output.read_text() == "ready=true\n"
    assert PASSWORD not in done.stdout
