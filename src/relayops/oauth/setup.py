"""Connect a mailbox: the authorization URL (PKCE S256 + state), then the code exchange.

The pending request (state and code_verifier) can be saved encrypted, so the redirect URL may
be given to a later `relayops oauth setup ... --redirect-url URL` run.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

from relayops.oauth.cipher import DecryptError, TokenCipher
from relayops.oauth.pkce import code_challenge, make_state, make_verifier
from relayops.oauth.providers import ProviderConfig, TokenEndpoint, TokenEndpointError
from relayops.oauth.store import Credential, TokenStore


class SetupError(Exception):
    """The authorization did not complete; the message says why."""


@dataclass(frozen=True)
class AuthorizationRequest:
    provider: str
    credential_id: str
    redirect_uri: str
    url: str
    state: str = field(repr=False)
    code_verifier: str = field(repr=False)


def begin(
    config: ProviderConfig, client_id: str, redirect_uri: str, credential_id: str
) -> AuthorizationRequest:
    """A new authorization request with a fresh verifier and state."""
    verifier, state = make_verifier(), make_state()
    query = {
        "client_id": client_id,
        "response_type": "code",
        "redirect_uri": redirect_uri,
        "scope": config.scope,
        "state": state,
        "code_challenge": code_challenge(verifier),
        "code_challenge_method": "S256",
        **config.authorize_params,
    }
    url = f"{config.authorize_url}?{urlencode(query)}"
    return AuthorizationRequest(config.name, credential_id, redirect_uri, url, state, verifier)


def code_from_redirect(redirect_url: str, expected_state: str) -> str:
    """The `code` of the redirect, once its `state` is the one sent."""
    query = parse_qs(urlsplit(redirect_url.strip()).query)
    state = (query.get("state") or [""])[0]
    if not hmac.compare_digest(state.encode(), expected_state.encode()):
        raise SetupError(
            "the redirect's state does not match the one sent: it belongs to another "
            "authorization (or was forged); start `relayops oauth setup` again"
        )
    if "error" in query:
        description = (query.get("error_description") or [""])[0]
        raise SetupError(
            f"the provider refused the authorization: {query['error'][0]} {description}"
        )
    code = (query.get("code") or [""])[0]
    if not code:
        raise SetupError("the redirect URL has no code parameter; paste the full URL")
    return code


def complete(
    request: AuthorizationRequest,
    redirect_url: str,
    endpoint: TokenEndpoint,
    store: TokenStore,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> Credential:
    """Exchange the code and store the tokens under the request's credential id."""
    code = code_from_redirect(redirect_url, request.state)
    try:
        answer = endpoint.exchange_code(code, request.redirect_uri, request.code_verifier)
    except TokenEndpointError as exc:
        raise SetupError(f"the code exchange failed: {exc}") from None
    if answer.refresh_token is None:
        raise SetupError(
            f"{request.provider} returned no refresh token; for Google the request needs "
            "access_type=offline and prompt=consent, for Microsoft the offline_access scope"
        )
    return store.put(
        Credential(
            credential_id=request.credential_id,
            provider=endpoint.provider,
            access_token=answer.access_token,
            refresh_token=answer.refresh_token,
            expires_at=clock() + timedelta(seconds=answer.expires_in),
            scope=answer.scope or endpoint.config.scope,
        )
    )


def save_pending(path: Path, cipher: TokenCipher, request: AuthorizationRequest) -> None:
    """Keep the request, encrypted, for a later run given the redirect URL."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.write_text(cipher.encrypt(json.dumps(asdict(request))), encoding="ascii")


def load_pending(path: Path, cipher: TokenCipher, credential_id: str) -> AuthorizationRequest:
    try:
        sealed = path.read_text(encoding="ascii")
        request = AuthorizationRequest(**json.loads(cipher.decrypt(sealed)))
    except FileNotFoundError:
        raise SetupError(
            f"no pending authorization for {credential_id!r}: run `relayops oauth setup` "
            "without --redirect-url first"
        ) from None
    except (DecryptError, ValueError, TypeError):
        raise SetupError(
            f"the pending authorization in {path} is unreadable; start again"
        ) from None
    if request.credential_id != credential_id:
        raise SetupError(f"the pending authorization in {path} is for another credential")
    return request
