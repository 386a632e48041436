"""The commands runbooks tell on-call to paste work: each parses with the real CLI parser, a
broken one stops the render, and the controller commands of a runbook, pasted as written into
a shell (with the on-call's placeholder text filled in), pause and resume a real Redis-backed
rollout."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from relayops.cli import build_parser, main
from relayops.cli.runbook_commands import broken_commands, command_lines
from tests.daemons import require_binary, run_redis
from tests.specs_util import REPO, SPECS

RUNBOOKS = REPO / "rendered" / "runbooks"


def test_every_rendered_runbook_command_parses():
    files = {f"runbooks/{path.name}": path.read_text() for path in RUNBOOKS.glob("*.md")}
    commands = [line for text in files.values() for line in command_lines(text)]
    assert len(commands) > 100  # every alert's runbook carries the controller block
    assert broken_commands(files, build_parser()) == []


def test_a_wrong_command_is_reported_with_its_file_and_the_parsers_reason():
    text = "Do this:\n\n```sh\nrelayops controller pause --provider gmail --reason x\n```\n"
    [problem] = broken_commands({"runbooks/X.md": text}, build_parser())
    assert problem.startswith("runbooks/X.md: `relayops controller pause --provider gmail")
    assert "unrecognized arguments: --provider" in problem


def test_render_refuses_a_runbook_command_the_cli_refuses(tmp_path, monkeypatch, capsys):
    """The render writes nothing when a template tells on-call something the CLI refuses."""
    import relayops.runbooks.render as runbook_render

    real = runbook_render.render_runbooks

    def with_a_typo(*args, **kwargs):
        files = real(*args, **kwargs)
        name = next(iter(sorted(files)))
        files[name] += "\n```sh\nrelayops controller resume gmail\n```\n"
        return files

    monkeypatch.setattr(runbook_render, "render_runbooks", with_a_typo)
    monkeypatch.setattr("relayops.render.render_runbooks", with_a_typo, raising=False)
    out = tmp_path / "rendered"
    assert main(["render", "--specs", str(SPECS), "--out", str(out)]) == 2
    assert "the following arguments are required: --reason" in capsys.readouterr().err
    assert not out.exists()


def _controller_block(runbook: str) -> list[str]:
    text = (RUNBOOKS / f"{runbook}.md").read_text()
    return [line for line in command_lines(text) if line.startswith("relayops controller")]


def test_pasted_controller_commands_pause_and_resume_a_real_rollout(tmp_path):
    require_binary("redis-server", "redis-server")
    commands = _controller_block("GmailAvailabilityBudgetBurn")
    by_verb = {shlex.split(line)[2]: line for line in commands}
    assert set(by_verb) >= {"status", "history", "pause", "resume", "set-percent"}
    with run_redis(tmp_path) as (url, _):

        def paste(line: str) -> subprocess.CompletedProcess:
            filled = line.replace("<what you saw>", "drill").replace(
                "<why it is safe again>", "drill over"
            )
            argv = [*shlex.split(filled)[1:], "--redis", url, "--audit-log", str(tmp_path / "a")]
            return subprocess.run(
                [sys.executable, "-m", "relayops.cli", *argv],
                cwd=REPO,
                capture_output=True,
                text=True,
                timeout=60,
            )

        for verb in ("pause", "status", "resume", "history", "set-percent"):
            done = paste(by_verb[verb])
            assert done.returncode == 0, (verb, done.stderr)
        audit = [json.loads(line) for line in Path(tmp_path / "a").read_text().splitlines()]
        assert [(e["provider"], e["result"], e["reason"]) for e in audit] == [
            ("gmail", "pause", "GmailAvailabilityBudgetBurn: drill"),
            ("gmail", "resume", "GmailAvailabilityBudgetBurn: drill over"),
            ("gmail", "set-percent", "GmailAvailabilityBudgetBurn: drill"),
        ]


@pytest.mark.parametrize("runbook", ["OutlookLatencyBudgetBurn", "GmailMetricsMissing"])
def test_every_runbook_names_its_own_provider(runbook):
    provider = "outlook" if runbook.startswith("Outlook") else "gmail"
    for line in _controller_block(runbook):
        assert provider in shlex.split(line), line
