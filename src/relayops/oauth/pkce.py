"""PKCE (RFC 7636, S256) and the `state` parameter of the authorization request."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets

_VERIFIER = re.compile(r"[A-Za-z0-9\-._~]{43,128}")


def make_verifier(length: int = 64) -> str:
    """A random code_verifier of `length` (43 to 128) unreserved characters."""
    if not 43 <= length <= 128:
        raise ValueError("a code_verifier has 43 to 128 characters")
    return secrets.token_urlsafe(length)[:length]  # token_urlsafe(n) is longer than n chars


def code_challenge(verifier: str) -> str:
    """BASE64URL(SHA256(ASCII(verifier))) without padding."""
    if not _VERIFIER.fullmatch(verifier):
        raise ValueError("a code_verifier has 43 to 128 characters from [A-Za-z0-9-._~]")
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def make_state() -> str:
    return secrets.token_urlsafe(32)
