"""Fake OAuth 2.0 authorization and token endpoints on loopback, in Google's and Microsoft's
dialects: authorization_code with PKCE (S256), refresh_token, client authentication.

Google keeps a refresh token across refreshes; Microsoft rotates it. By default the used one
then answers 400 invalid_grant: the stricter behaviour of endpoints that revoke a replayed
refresh token (reuse detection, OAuth 2.0 Security BCP), which our refresh must survive.
Microsoft's own documentation says its identity platform does not revoke the old refresh
token when a new one is issued; `revoke_used_refresh_tokens=False` behaves that way.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
import threading
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, Literal
from urllib.parse import parse_qs, urlencode

from relayops.fakes.faults import FaultPlan
from relayops.fakes.server import FakeServer, Request, Response, Route

Dialect = Literal["google", "microsoft"]
GOOGLE_AUTHORIZE_PATH = "/o/oauth2/v2/auth"
GOOGLE_TOKEN_PATH = "/token"
_MICROSOFT = r"/(?P<tenant>[^/]+)/oauth2/v2\.0"
_BODY_LIMIT = 64 * 1024


@dataclass
class _Code:
    dialect: Dialect
    redirect_uri: str
    challenge: str
    scope: str


@dataclass
class _Refresh:
    dialect: Dialect
    scope: str
    active: bool = True


def _s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii", errors="replace")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _oauth_error(status: int, error: str, description: str) -> Response:
    return Response.json(status, {"error": error, "error_description": description})


class FakeTokenEndpoint(FakeServer[Any]):
    """Google at {url}/o/oauth2/v2/auth and {url}/token; Microsoft at
    {url}/{tenant}/oauth2/v2.0/authorize and /token. `delay` slows every token call, before
    it is processed: a caller that hangs up meanwhile still has its refresh token rotated."""

    def __init__(
        self,
        *,
        client_id: str = "relayops-test-client",
        client_secret: str | None = None,
        expires_in: int = 3600,
        delay: float = 0.0,
        faults: FaultPlan | None = None,
        revoke_used_refresh_tokens: bool = True,
    ) -> None:
        super().__init__(faults)
        self.revoke_used_refresh_tokens = revoke_used_refresh_tokens
        self.client_id = client_id
        self.client_secret = client_secret or secrets.token_urlsafe(16)
        self.expires_in = expires_in
        self.delay = delay
        self._state = threading.Lock()
        self._codes: dict[str, _Code] = {}
        self._refresh: dict[str, _Refresh] = {}
        self.issued_access_tokens: list[str] = []

    def routes(self) -> list[Route]:
        return [
            Route("GET", re.compile(re.escape(GOOGLE_AUTHORIZE_PATH)), self._google_authorize),
            Route("POST", re.compile(re.escape(GOOGLE_TOKEN_PATH)), self._google_token),
            Route("GET", re.compile(f"{_MICROSOFT}/authorize"), self._microsoft_authorize),
            Route("POST", re.compile(f"{_MICROSOFT}/token"), self._microsoft_token),
        ]

    def error_response(self, status: int, message: str | None = None) -> Response:
        error = "server_error" if status >= 500 else "invalid_request"
        try:
            phrase = HTTPStatus(status).phrase
        except ValueError:
            phrase = "Error"
        return _oauth_error(status, error, message or phrase)

    def body_limit(self, path: str) -> int:
        return _BODY_LIMIT

    @property
    def token_calls(self) -> int:
        """POSTs to a token endpoint, failed and fault-injected ones included."""
        return sum(1 for request in self.requests if request.method == "POST")

    def issue_refresh_token(self, dialect: Dialect, scope: str = "") -> str:
        """A valid refresh token, as if a user had consented earlier."""
        token = f"{dialect[0]}rt-{secrets.token_urlsafe(24)}"
        with self._state:
            self._refresh[token] = _Refresh(dialect, scope)
        return token

    def revoke(self, refresh_token: str) -> None:
        with self._state:
            self._refresh[refresh_token].active = False

    def _google_authorize(self, request: Request, match: re.Match[str]) -> Response:
        return self._authorize(request, "google")

    def _microsoft_authorize(self, request: Request, match: re.Match[str]) -> Response:
        return self._authorize(request, "microsoft")

    def _google_token(self, request: Request, match: re.Match[str]) -> Response:
        return self._token(request, "google")

    def _microsoft_token(self, request: Request, match: re.Match[str]) -> Response:
        return self._token(request, "microsoft")

    def _authorize(self, request: Request, dialect: Dialect) -> Response:
        """Consent granted at once: redirect back with a code bound to the PKCE challenge."""
        redirect_uri = request.param("redirect_uri")
        if not redirect_uri:
            return _oauth_error(400, "invalid_request", "redirect_uri is required")
        if request.param("client_id") != self.client_id:
            return _oauth_error(400, "unauthorized_client", "unknown client_id")
        challenge = request.param("code_challenge")
        if request.param("code_challenge_method") != "S256" or not challenge:
            return _oauth_error(400, "invalid_request", "PKCE with S256 is required")
        if request.param("response_type") != "code":
            return _oauth_error(400, "unsupported_response_type", "response_type must be code")
        code = secrets.token_urlsafe(24)
        with self._state:
            scope = request.param("scope") or ""
            self._codes[code] = _Code(dialect, redirect_uri, challenge, scope)
        query = {"code": code, "state": request.param("state") or ""}
        return Response(302, headers={"Location": f"{redirect_uri}?{urlencode(query)}"})

    def _token(self, request: Request, dialect: Dialect) -> Response:
        if self.delay and self._stopping.wait(self.delay):
            return self.error_response(503, "stopping")
        form = {k: v[0] for k, v in parse_qs(request.body.decode(errors="replace")).items()}
        client_id, secret = self._client(request, form)
        if client_id != self.client_id or not hmac.compare_digest(secret, self.client_secret):
            return _oauth_error(401, "invalid_client", "client authentication failed")
        match form.get("grant_type"):
            case "authorization_code":
                return self._exchange(form, dialect)
            case "refresh_token":
                return self._refresh_grant(form, dialect)
            case _:
                return _oauth_error(400, "unsupported_grant_type", "unsupported grant_type")

    @staticmethod
    def _client(request: Request, form: dict[str, str]) -> tuple[str, str]:
        """client_secret_post, or client_secret_basic (Authorization: Basic)."""
        header = request.headers.get("authorization", "")
        if header.lower().startswith("basic "):
            try:
                decoded = base64.b64decode(header[6:]).decode()
            except (binascii.Error, UnicodeDecodeError):
                return "", ""
            client_id, _, secret = decoded.partition(":")
            return client_id, secret
        return form.get("client_id", ""), form.get("client_secret", "")

    def _exchange(self, form: dict[str, str], dialect: Dialect) -> Response:
        with self._state:
            grant = self._codes.pop(form.get("code", ""), None)  # a code is single-use
        if grant is None or grant.dialect != dialect:
            return _oauth_error(400, "invalid_grant", "the code is invalid or was already used")
        if form.get("redirect_uri") != grant.redirect_uri:
            return _oauth_error(400, "invalid_grant", "redirect_uri does not match")
        if not hmac.compare_digest(_s256(form.get("code_verifier", "")), grant.challenge):
            return _oauth_error(400, "invalid_grant", "code_verifier does not match the challenge")
        refresh = self.issue_refresh_token(dialect, grant.scope)
        return self._tokens(dialect, grant.scope, refresh)

    def _refresh_grant(self, form: dict[str, str], dialect: Dialect) -> Response:
        token = form.get("refresh_token", "")
        with self._state:
            found = self._refresh.get(token)
            if found is None or not found.active or found.dialect != dialect:
                return _oauth_error(
                    400, "invalid_grant", "the refresh token is invalid, expired or revoked"
                )
            if dialect == "microsoft" and self.revoke_used_refresh_tokens:
                found.active = False
        rotated = self.issue_refresh_token(dialect, found.scope) if dialect == "microsoft" else None
        return self._tokens(dialect, found.scope, rotated)

    def _tokens(self, dialect: Dialect, scope: str, refresh_token: str | None) -> Response:
        access = f"{'ya29' if dialect == 'google' else 'eyJ0'}.{secrets.token_urlsafe(32)}"
        with self._state:
            self.issued_access_tokens.append(access)
        body: dict[str, Any] = {
            "access_token": access,
            "expires_in": self.expires_in,
            "scope": scope,
            "token_type": "Bearer",
        }
        if refresh_token is not None:
            body["refresh_token"] = refresh_token
        return Response.json(200, body, {"Cache-Control": "no-store"})
