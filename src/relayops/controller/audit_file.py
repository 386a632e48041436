"""The JSON-lines audit file: one line per controller decision or manual action, appended
after the Redis transaction that stored it. It lives on the controller's host, so it outlives
a Redis that lost its data and tells the on-call engineer what the state was."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path


def append_audit(path: Path, entry: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as log:
        log.write(json.dumps(entry, sort_keys=True) + "\n")


def last_stored(path: Path, provider: str) -> dict | None:
    """The newest entry of `provider` that stored a state (one with a `new` percentage: a
    decision or a manual action, not a run that wrote nothing), or None when there is no such
    entry or no file. Lines that are not JSON objects (a torn last line) are passed over."""
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return None
    for line in reversed(lines):
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            continue
        if (
            isinstance(entry, dict)
            and entry.get("provider") == provider
            and isinstance(entry.get("new"), int | float)
        ):
            return entry
    return None


def last_known_note(audit_log: Path | None, provider: str) -> str:
    """What the audit file last recorded of the provider, as the end of a sentence about its
    missing state ("" when it recorded nothing)."""
    entry = None if audit_log is None else last_stored(audit_log, provider)
    if entry is None:
        return ""
    when = datetime.fromtimestamp(entry.get("at") or 0, UTC).strftime("%Y-%m-%d %H:%M:%SZ")
    return (
        f". The audit file {audit_log} last recorded {provider} at {entry['new']:g}% "
        f"({entry.get('result')} by {entry.get('who')} at {when}): Redis lost its data"
    )
