"""Every `relayops` command a rendered runbook tells on-call to run must parse with the real
command-line parser: a runbook command that fails when pasted at 3 am is a broken runbook.

This lives beside the CLI (it needs the parser), not in the runbook renderer below it.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import re
import shlex
from collections.abc import Mapping

_FENCE = re.compile(r"^```[a-z]*\n(.*?)^```", re.MULTILINE | re.DOTALL)
PROGRAM = "relayops"


def command_lines(markdown: str) -> list[str]:
    """The `relayops …` lines of the Markdown's fenced code blocks."""
    return [
        line.strip()
        for block in _FENCE.findall(markdown)
        for line in block.splitlines()
        if line.strip().startswith(f"{PROGRAM} ")
    ]


def parse_error(parser: argparse.ArgumentParser, line: str) -> str | None:
    """Why the parser refuses `line` (its usage message), or None when it parses."""
    try:
        argv = shlex.split(line)[1:]
    except ValueError as exc:
        return f"not a shell command line: {exc}"
    errors = io.StringIO()
    try:
        with contextlib.redirect_stderr(errors), contextlib.redirect_stdout(io.StringIO()):
            parser.parse_args(argv)
    except SystemExit:
        message = errors.getvalue().strip().splitlines()
        return message[-1] if message else "refused by the parser"
    return None


def broken_commands(
    files: Mapping[str, str], parser: argparse.ArgumentParser, prefix: str = "runbooks/"
) -> list[str]:
    """`path: command: why` for every runbook command the parser refuses."""
    problems = []
    for path, text in sorted(files.items()):
        if path.startswith(prefix) and path.endswith(".md"):
            for line in command_lines(text):
                error = parse_error(parser, line)
                if error is not None:
                    problems.append(f"{path}: `{line}`: {error}")
    return problems
