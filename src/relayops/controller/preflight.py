"""Preflight for scheduled controller runs: do Prometheus and Redis answer?

`python -m relayops.controller.preflight` reads `PROMETHEUS_URL` and `REDIS_URL`, prints one
line per check (credentials redacted) and, when `GITHUB_OUTPUT` is set, appends
`ready=true|false` to it. An unreachable service is not an error: the scheduler skips this
cycle cleanly (exit 0, ready=false). A missing or malformed variable is a configuration error
(exit 2).

With `--condition` (systemd `ExecCondition=`) a service that is not ready exits 1, which skips
the unit without failing it, and a configuration error exits 255, which fails it.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

import httpx
import redis
from redis.connection import parse_url

from relayops.spec import env as env_names

TIMEOUT_SECONDS = 3.0
PROMETHEUS_SCHEMES = ("http", "https")


class ConfigError(ValueError):
    """A connection variable is missing or malformed; the message names it."""


@dataclass(frozen=True)
class Check:
    name: str
    target: str  # the URL with its credentials redacted
    ok: bool
    detail: str

    def line(self) -> str:
        return f"{self.name} {self.target}: {self.detail}"


def redact(url: str) -> str:
    """The URL with its userinfo and query (which may carry a password) replaced by ***."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        netloc = "***@" + netloc.rsplit("@", 1)[1]
    return parts._replace(netloc=netloc, query="***" if parts.query else "").geturl()


def _scrub(text: str, url: str) -> str:
    """An error message with the URL's password removed, in case a library quotes it."""
    password = urlsplit(url).password
    if not password:
        return text
    return text.replace(password, "***").replace(unquote(password), "***")


def _required(env: Mapping[str, str], name: str) -> str:
    value = env.get(name, "").strip()
    if not value:
        raise ConfigError(f"{name} is not set")
    return value


def prometheus_url(env: Mapping[str, str]) -> str:
    value = _required(env, env_names.PROMETHEUS_URL)
    parts = urlsplit(value)
    try:
        port_ok = parts.port != 0
    except ValueError:
        port_ok = False
    if parts.scheme not in PROMETHEUS_SCHEMES or not parts.hostname or not port_ok:
        raise ConfigError(
            f"{env_names.PROMETHEUS_URL} is malformed: expected http(s)://host[:port][/path], "
            f"got {redact(value)}"
        )
    return value


def redis_url(env: Mapping[str, str]) -> str:
    value = _required(env, env_names.REDIS_URL)
    try:
        parse_url(value)
    except ValueError as error:
        raise ConfigError(
            f"{env_names.REDIS_URL} is malformed ({error}): {redact(value)}"
        ) from error
    return value


def check_prometheus(url: str, timeout: float = TIMEOUT_SECONDS) -> Check:
    """GET <url>/-/ready; only a 200 is ready."""
    target = redact(url)
    try:
        response = httpx.get(f"{url.rstrip('/')}/-/ready", timeout=timeout)
    except httpx.HTTPError as error:
        reason = _scrub(f"{type(error).__name__}: {error}", url)
        return Check("prometheus", target, False, f"unreachable ({reason})")
    if response.status_code != httpx.codes.OK:
        return Check("prometheus", target, False, f"not ready (HTTP {response.status_code})")
    return Check("prometheus", target, True, "ready")


def check_redis(url: str, timeout: float = TIMEOUT_SECONDS) -> Check:
    """PING; a refused connection, a timeout or a rejected password is not ready."""
    target = redact(url)
    client = redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
    try:
        client.ping()
    except redis.RedisError as error:
        reason = _scrub(f"{type(error).__name__}: {error}", url)
        return Check("redis", target, False, f"unreachable ({reason})")
    finally:
        client.close()
    return Check("redis", target, True, "PONG")


def preflight(prometheus: str, redis_target: str, timeout: float = TIMEOUT_SECONDS) -> list[Check]:
    return [check_prometheus(prometheus, timeout), check_redis(redis_target, timeout)]


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m relayops.controller.preflight",
        description="Check that Prometheus and Redis answer before a controller run.",
    )
    parser.add_argument(
        "--condition",
        action="store_true",
        help="for systemd ExecCondition=: exit 1 when not ready, 255 on a configuration error",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    condition = parse_args(argv).condition
    env = os.environ if env is None else env
    try:
        urls = prometheus_url(env), redis_url(env)
    except ConfigError as error:
        print(f"preflight: {error}", file=sys.stderr)
        return 255 if condition else 2
    checks = preflight(*urls)
    for check in checks:
        print(check.line())
    failed = [check.name for check in checks if not check.ok]
    if failed:
        print(f"skipping: {' and '.join(failed)} not ready, the controller does not run this cycle")
    output = env.get("GITHUB_OUTPUT")
    if output:
        with Path(output).open("a", encoding="utf-8") as handle:
            handle.write(f"ready={'false' if failed else 'true'}\n")
    return 1 if condition and failed else 0


if __name__ == "__main__":
    sys.exit(main())
