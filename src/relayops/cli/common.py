"""What every `relayops` command shares: its exit codes, and how it ends on an error.

A command returns an Exit, or raises CommandError with the message and the code; `main`
prints the message as `relayops <command>: <message>` on stderr. No traceback reaches a user.
"""

from __future__ import annotations

import sys
from enum import IntEnum
from pathlib import Path

from relayops.spec import SpecError, SpecSet, load_specs


class Exit(IntEnum):
    OK = 0
    FAILED = 1  # it ran and the answer is no: drift, a failed check or send, NO-GO, a daemon down
    INVALID = 2  # bad input (spec, argument, configuration): nothing was done
    LOCKED = 3  # the controller: another run holds the provider's lock
    INTERRUPTED = 130  # 128 + SIGINT, as a shell reports it


class CommandError(Exception):
    def __init__(self, message: str, code: Exit = Exit.INVALID):
        super().__init__(message)
        self.code = code


def say(command: str, message: str) -> None:
    print(f"relayops {command}: {message}", file=sys.stderr, flush=True)


def spec_problems(exc: SpecError) -> str:
    """Every problem of a SpecError, one indented line each (file:line, field, fix)."""
    return "\n".join(f"  {issue}" for issue in exc.issues)


def specs_from(folder: Path) -> SpecSet:
    """The specs in `folder`; CommandError INVALID naming every problem."""
    try:
        return load_specs(folder)
    except SpecError as exc:
        raise CommandError(
            f"{len(exc.issues)} problem(s) in {folder}:\n{spec_problems(exc)}"
        ) from exc


def provider_named(specs: SpecSet, name: str | None) -> str | None:
    """`name` if a provider spec has it (or None for all); CommandError INVALID otherwise."""
    known = [p.name for p in specs.providers]
    if name is not None and name not in known:
        raise CommandError(f"no provider spec {name!r}; known: {', '.join(known)}")
    return name
