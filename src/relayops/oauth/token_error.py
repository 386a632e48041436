"""The one error the send adapters expect from a token source (oauth's refresh errors are
kinds of it), here so that the adapters depend on oauth and never the other way round."""

from __future__ import annotations


class TokenError(Exception):
    """No access token could be had. `reconnect`: the grant is gone (revoked, expired, never
    set up) and a person must connect the mailbox again; otherwise a later try may work."""

    reconnect: bool = False
