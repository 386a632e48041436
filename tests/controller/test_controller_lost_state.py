"""A Redis that lost its data, on a real Redis: the controller reports it loudly and holds
until a person confirms, instead of re-ramping from 0% (the defect: FLUSHALL, a restart
without persistence or a failover to an empty replica made the next runs promote again from
0% as if the rollout had just begun)."""

from __future__ import annotations

import json
from pathlib import Path

import redis

from relayops.cli import main
from relayops.controller.audit_file import last_stored
from relayops.controller.keys import RolloutKeys
from relayops.controller.state import RolloutStore
from tests.specs_util import SPECS

KEYS = RolloutKeys("gmail")
NO_PROMETHEUS = "http://127.0.0.1:9"


def _cli(redis_client: redis.Redis, *argv: str) -> int:
    url = "redis://{host}:{port}/0".format(**redis_client.connection_pool.connection_kwargs)
    return main(["controller", *argv, "--specs", str(SPECS), "--redis", url])


def _run(redis_client: redis.Redis, audit: Path) -> int:
    run = ["run", "--once", "--provider", "gmail", "--audit-log", str(audit)]
    return _cli(redis_client, *run, "--prometheus", NO_PROMETHEUS)


def test_lost_data_holds_says_so_and_names_the_last_known_percentage(
    redis_client: redis.Redis, capsys, tmp_path: Path
) -> None:
    audit = tmp_path / "audit.jsonl"
    ramp = ["set-percent", "gmail", "25", "--reason", "ramp", "--who", "ana"]
    assert _cli(redis_client, *ramp, "--audit-log", str(audit)) == 0
    redis_client.flushall()
    capsys.readouterr()

    for _ in range(2):  # every run holds, not only the first
        assert _run(redis_client, audit) == 1
        printed = capsys.readouterr()
        assert "Traceback" not in printed.out + printed.err
        assert f"holding: {KEYS.state} does not exist" in printed.out
        assert "last recorded gmail at 25% (set-percent by ana at" in printed.out
        assert "Redis lost its data" in printed.out
        assert "controller set-percent gmail <percent>" in printed.out
        # nothing written: the gate keeps reading a missing key (0%)
        assert redis_client.get(KEYS.percent) is None
        assert not redis_client.exists(KEYS.state)

    assert _cli(redis_client, "status", "--provider", "gmail", "--audit-log", str(audit)) == 1
    status = capsys.readouterr().out
    assert status.startswith(f"gmail: MISSING: {KEYS.state} does not exist")
    assert "last recorded gmail at 25%" in status


def test_a_rollout_never_started_says_both_possibilities_without_a_last_percentage(
    redis_client: redis.Redis, capsys, tmp_path: Path
) -> None:
    assert _run(redis_client, tmp_path / "no-such-audit.jsonl") == 1
    out = capsys.readouterr().out
    assert "never started here, or Redis lost its data" in out
    assert "the gate reads 0% meanwhile" in out and "last recorded" not in out


def test_a_percentage_without_its_state_is_held_too(
    redis_client: redis.Redis, capsys, tmp_path: Path
) -> None:
    """`SET flags:gmail:rollout_percent 25` by hand: no dwell, no history; held, not promoted."""
    redis_client.set(KEYS.percent, "25")
    assert _run(redis_client, tmp_path / "audit.jsonl") == 1
    out = capsys.readouterr().out
    assert f"{KEYS.state} does not exist" in out and "the gate reads '25' meanwhile" in out
    assert redis_client.get(KEYS.percent) == b"25"


def test_a_person_confirms_with_set_percent_and_it_is_audited(
    redis_client: redis.Redis, capsys, tmp_path: Path
) -> None:
    audit = tmp_path / "audit.jsonl"
    command = ["set-percent", "gmail", "25", "--reason", "restore after failover"]
    assert _cli(redis_client, *command, "--audit-log", str(audit)) == 0
    out = capsys.readouterr().out
    assert f"gmail: repaired: {KEYS.state} did not exist (confirmed by hand)" in out
    state = RolloutStore(redis_client, "gmail").read()
    assert state.percent == 25 and state.last_change_at is not None
    [entry] = [json.loads(line) for line in audit.read_text().splitlines()]
    assert entry["result"] == "set-percent" and entry["new"] == 25
    assert entry["repaired"] == [f"{KEYS.state} did not exist (confirmed by hand)"]
    [streamed] = RolloutStore(redis_client, "gmail").history(5)
    assert streamed["repaired"] == entry["repaired"]


def test_the_last_stored_entry_skips_torn_lines_other_providers_and_failed_runs(
    tmp_path: Path,
) -> None:
    audit = tmp_path / "audit.jsonl"
    lines = [
        {"provider": "gmail", "new": 10, "status": "decided", "at": 1.0},
        {"provider": "gmail", "new": None, "status": "failed", "at": 2.0},  # stored nothing
        {"provider": "outlook", "new": 50, "status": "decided", "at": 3.0},
    ]
    audit.write_text("".join(json.dumps(e) + "\n" for e in lines) + '{"provider": "gm')
    assert last_stored(audit, "gmail") == lines[0]
    assert last_stored(audit, "outlook") == lines[2]
    assert last_stored(audit, "other") is None
    assert last_stored(tmp_path / "absent.jsonl", "gmail") is None
