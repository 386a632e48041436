"""Fernet keys for tokens at rest, from RELAYOPS_TOKEN_KEYS or RELAYOPS_TOKEN_KEYS_FILE.

Newest key first: it encrypts; every listed key decrypts, so a rotation lists the new key in
front of the old ones until `relayops oauth rotate-key` has re-encrypted every row.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TextIO

from cryptography.fernet import Fernet

KEYS_ENV = "RELAYOPS_TOKEN_KEYS"
KEYS_FILE_ENV = "RELAYOPS_TOKEN_KEYS_FILE"
MODE_ENV = "RELAYOPS_ENV"
GENERATE_HINT = (
    'python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"'
)


class KeyConfigError(RuntimeError):
    """The token keys are missing or invalid; the message says how to fix it."""


def _file_keys(path: Path) -> list[str]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise KeyConfigError(f"{KEYS_FILE_ENV}={path} cannot be read: {exc.strerror}") from None
    lines = (line.split("#", 1)[0].strip() for line in text.splitlines())
    return [line for line in lines if line]


def _check(keys: list[str], source: str) -> list[bytes]:
    if not keys:
        raise KeyConfigError(f"{source} holds no key. Generate one with: {GENERATE_HINT}")
    checked = []
    for position, key in enumerate(keys, 1):
        try:
            Fernet(key)
        except ValueError:
            # The key itself is never echoed: only its position in the list.
            raise KeyConfigError(
                f"{source}: key #{position} is not a Fernet key (32 url-safe base64 bytes). "
                f"Generate one with: {GENERATE_HINT}"
            ) from None
        checked.append(key.encode("ascii", errors="replace"))
    return checked


def load_keys(env: Mapping[str, str], warn: TextIO = sys.stderr) -> list[bytes]:
    """The configured keys, newest first.

    Without any key, development (RELAYOPS_ENV=development) gets a process-local key and a
    warning; everywhere else it is a KeyConfigError naming RELAYOPS_TOKEN_KEYS.
    """
    if env.get(KEYS_ENV, "").strip():
        keys = [part.strip() for part in env[KEYS_ENV].split(",") if part.strip()]
        return _check(keys, KEYS_ENV)
    if env.get(KEYS_FILE_ENV, "").strip():
        path = Path(env[KEYS_FILE_ENV].strip())
        return _check(_file_keys(path), f"{KEYS_FILE_ENV}={path}")
    if env.get(MODE_ENV) == "development":
        print(
            f"WARNING: {KEYS_ENV} is not set; using a throw-away token key for this process "
            "(RELAYOPS_ENV=development). Tokens stored now cannot be read by any other process.",
            file=warn,
        )
        return [Fernet.generate_key()]
    raise KeyConfigError(
        f"{KEYS_ENV} is not set (nor {KEYS_FILE_ENV}): OAuth tokens are encrypted at rest and "
        f"need a key. Generate one with: {GENERATE_HINT} and set {KEYS_ENV} to it "
        f"(comma-separated, newest first, when rotating)."
    )
