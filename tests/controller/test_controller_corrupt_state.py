"""Corrupt rollout state in a real Redis: reported with key, value and repair; held; repairable.

Each row writes one value the controller never writes itself (what a bad manual `HSET`, a
restore from the wrong backup or a buggy tool leaves behind) over a healthy state.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import redis

from relayops.cli import main
from relayops.controller.keys import RolloutKeys
from relayops.controller.state import CorruptState, RolloutStore
from tests.specs_util import SPECS

KEYS = RolloutKeys("gmail")
CORRUPT = [
    # (key, hash field or None for the percent key, stored value)
    (KEYS.state, "last_change_at", "nan"),  # used to make every run "changed (10 -> 10)"
    (KEYS.state, "last_change_at", "-inf"),  # used to skip the dwell and promote at once
    (KEYS.state, "last_rollback_at", "inf"),
    (KEYS.state, "previous_percent", "1e999"),
    (KEYS.state, "last_change_at", "12\n"),
    (KEYS.state, "consecutive_errors", "²"),  # str.isdigit() says yes; int() a traceback
    (KEYS.state, "consecutive_errors", "-1"),
    (KEYS.state, "paused", "yes"),
    (KEYS.percent, None, "nan"),
    (KEYS.percent, None, "101"),
]


@pytest.fixture
def corrupt(request, redis_client: redis.Redis) -> tuple[str, str | None, str]:
    key, field, value = request.param
    redis_client.set(KEYS.percent, "10")
    redis_client.hset(
        KEYS.state,
        mapping={
            "last_change_at": "1796600000.0",
            "previous_percent": "5.0",
            "last_rollback_at": "",
            "paused": "0",
            "consecutive_errors": "0",
        },
    )
    if field is None:
        redis_client.set(key, value)
    else:
        redis_client.hset(key, field, value)
    return key, field, value


def _cli(redis_client: redis.Redis, *argv: str) -> int:
    url = "redis://{host}:{port}/0".format(**redis_client.connection_pool.connection_kwargs)
    return main(["controller", *argv, "--specs", str(SPECS), "--redis", url])


IDS = [f"{field or 'percent'}={value!r}" for _, field, value in CORRUPT]


@pytest.mark.parametrize("corrupt", CORRUPT, ids=IDS, indirect=True)
def test_a_corrupt_value_is_reported_with_key_value_and_repair(corrupt, redis_client) -> None:
    key, field, value = corrupt
    with pytest.raises(CorruptState) as caught:
        RolloutStore(redis_client, "gmail").read()
    message = str(caught.value)
    assert key in message and repr(value) in message and "set-percent" in message
    if field is not None:
        assert field in message


@pytest.mark.parametrize("corrupt", CORRUPT, ids=IDS, indirect=True)
def test_status_and_run_hold_and_say_so(corrupt, redis_client, capsys, tmp_path) -> None:
    key, _, value = corrupt
    assert _cli(redis_client, "status", "--provider", "gmail") == 1
    out = capsys.readouterr().out
    assert out.startswith("gmail: CORRUPT:") and repr(value) in out
    audit = tmp_path / "audit.jsonl"
    run = ["run", "--once", "--provider", "gmail", "--audit-log", str(audit)]
    assert _cli(redis_client, *run, "--prometheus", "http://127.0.0.1:9") == 1
    printed = capsys.readouterr()
    assert "holding" in printed.out and repr(value) in printed.out
    assert "Traceback" not in printed.out + printed.err
    assert redis_client.get(KEYS.percent) == (value.encode() if key == KEYS.percent else b"10")


@pytest.mark.parametrize("corrupt", CORRUPT, ids=IDS, indirect=True)
@pytest.mark.parametrize("repair", ["set-percent", "pause"])
def test_the_documented_repair_works(corrupt, redis_client, capsys, tmp_path, repair) -> None:
    key, _, value = corrupt
    audit = tmp_path / "audit.jsonl"
    command = ["set-percent", "gmail", "5"] if repair == "set-percent" else ["pause", "gmail"]
    assert _cli(redis_client, *command, "--reason", "repair", "--audit-log", str(audit)) == 0
    out = capsys.readouterr().out
    assert "gmail: repaired:" in out and repr(value) in out
    state = RolloutStore(redis_client, "gmail").read()  # parses again
    if repair == "set-percent":
        assert state.percent == 5.0
    else:
        assert state.paused
        assert state.percent == (0.0 if key == KEYS.percent else 10.0)  # corrupt: closed
    [entry] = [json.loads(line) for line in Path(audit).read_text().splitlines()]
    assert entry["repaired"] and repr(value) in entry["repaired"][0]
