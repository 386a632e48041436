"""Every `relayops` command ends the same way on bad input: exit 2, one message prefixed with
the command, the spec problems named by file and line, no traceback, nothing written. Run as
a user runs them, through the installed entry point in a subprocess."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.specs_util import SPECS

COMMANDS = [
    ["validate"],
    ["render", "--out", "{tmp}/rendered"],
    ["check", "--out", "{tmp}/rendered"],
    ["synth", "list"],
    ["synth", "run", "fast-burn-outage", "--provider", "gmail", "--duration", "1m"],
    ["drill", "all", "--report-dir", "{tmp}/reports"],
    ["report", "observation", "--since", "1h", "--prometheus", "http://127.0.0.1:9"],
    ["controller", "status", "--redis", "redis://127.0.0.1:9"],
    ["send", "gmail", "--to", "a@example.com", "--dry-run"],
]


@pytest.fixture(scope="module")
def broken_specs(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("specs")
    shutil.copytree(SPECS, folder, dirs_exist_ok=True)
    gmail = folder / "gmail.yaml"
    gmail.write_text(gmail.read_text().replace("objective: 0.999", "objective: 1.5", 1))
    return folder


def relayops(*argv: str, stdout: int | object = subprocess.PIPE) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "relayops.cli", *argv],
        stdout=stdout,
        stderr=subprocess.PIPE,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c[:2]))
def test_a_broken_spec_ends_every_command_the_same_way(command, broken_specs, tmp_path) -> None:
    argv = [part.format(tmp=tmp_path) for part in command]
    done = relayops(*argv, "--specs", str(broken_specs))
    assert done.returncode == 2, done.stderr
    first, *rest = done.stderr.splitlines()
    assert first == f"relayops {command[0]}: 1 problem(s) in {broken_specs}:"
    assert any(f"{broken_specs / 'gmail.yaml'}:" in line and "objective" in line for line in rest)
    assert "Traceback" not in done.stderr
    assert list(tmp_path.iterdir()) == [], "nothing is written for bad input"


@pytest.mark.parametrize(
    "command",
    [
        ["synth", "run", "fast-burn-outage", "--provider", "sendgrid", "--duration", "1m"],
        ["drill", "run", "fast-burn-outage", "--provider", "sendgrid"],
        ["controller", "status", "--provider", "sendgrid", "--redis", "redis://127.0.0.1:9"],
    ],
    ids=lambda c: " ".join(c[:2]),
)
def test_a_provider_without_a_spec_is_named_with_the_known_ones(command) -> None:
    done = relayops(*command, "--specs", str(SPECS))
    assert done.returncode == 2, done.stderr
    assert done.stderr.splitlines() == [
        f"relayops {command[0]}: no provider spec 'sendgrid'; known: gmail, outlook"
    ]


def test_a_reader_that_goes_away_gets_no_traceback(tmp_path) -> None:
    """`relayops synth list | head -0`: the pipe is closed before the command writes."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    with os.fdopen(write_end, "w") as closed_pipe:
        done = relayops("synth", "list", "--specs", str(SPECS), stdout=closed_pipe)
    assert done.returncode == 1
    assert done.stderr == ""
