"""Google and Microsoft OAuth endpoints and the token-endpoint client (httpx, form POST).

Microsoft rotates the refresh token on every refresh; Google usually returns none, and then the
old one stays valid (TokenResponse.refresh_token is None).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from relayops.oauth.store import Provider

GOOGLE_AUTH_BASE = "https://accounts.google.com"
GOOGLE_TOKEN_URL = "https://oauth2.googleapis.com/token"
GOOGLE_SCOPE = "https://www.googleapis.com/auth/gmail.send"
MICROSOFT_AUTH_BASE = "https://login.microsoftonline.com"
MICROSOFT_SCOPE = "offline_access https://graph.microsoft.com/Mail.Send https://graph.microsoft.com/Mail.ReadWrite"
_CLIENT_ENV = {"google": "GOOGLE_OAUTH_CLIENT", "microsoft": "MICROSOFT_OAUTH_CLIENT"}
_CONNECT_SECONDS = 5.0
# How long a refresh waits for the endpoint's answer: far longer than a caller waits
# (TokenManager's wait_seconds), because a rotating provider has spent the old refresh token once
# it has answered, and hanging up early loses the new one. The holder renews its lock meanwhile.
ANSWER_SECONDS = 60.0


class ConfigError(ValueError):
    """Missing client configuration; the message names the variables to set."""


class TokenEndpointError(Exception):
    """The token endpoint refused or could not be reached."""

    def __init__(self, message: str, status: int | None = None, error: str | None = None):
        super().__init__(message)
        self.status = status
        self.error = error


class InvalidGrant(TokenEndpointError):
    """The refresh token or code is revoked, expired or already used: the user must reconnect."""


@dataclass(frozen=True)
class ProviderConfig:
    name: Provider
    authorize_url: str
    token_url: str
    scope: str
    authorize_params: Mapping[str, str] = field(default_factory=dict)
    scope_on_refresh: bool = False  # Microsoft wants the scope again on refresh


def google(auth_base_url: str | None = None, token_url: str | None = None) -> ProviderConfig:
    base = (auth_base_url or GOOGLE_AUTH_BASE).rstrip("/")
    return ProviderConfig(
        "google",
        f"{base}/o/oauth2/v2/auth",
        token_url or GOOGLE_TOKEN_URL,
        GOOGLE_SCOPE,
        {"access_type": "offline", "prompt": "consent"},
    )


def microsoft(
    tenant: str = "common", auth_base_url: str | None = None, token_url: str | None = None
) -> ProviderConfig:
    base = f"{(auth_base_url or MICROSOFT_AUTH_BASE).rstrip('/')}/{tenant}/oauth2/v2.0"
    return ProviderConfig(
        "microsoft",
        f"{base}/authorize",
        token_url or f"{base}/token",
        MICROSOFT_SCOPE,
        scope_on_refresh=True,
    )


def provider_config(
    name: str,
    *,
    tenant: str = "common",
    auth_base_url: str | None = None,
    token_url: str | None = None,
) -> ProviderConfig:
    if name == "google":
        return google(auth_base_url, token_url)
    if name == "microsoft":
        return microsoft(tenant, auth_base_url, token_url)
    raise ConfigError(f"unknown provider {name!r}; expected google or microsoft")


@dataclass(frozen=True)
class ClientCredentials:
    client_id: str
    client_secret: str = field(repr=False)


def _setting(env: Mapping[str, str], name: str) -> str | None:
    if env.get(name, "").strip():
        return env[name].strip()
    file_name = env.get(f"{name}_FILE", "").strip()
    if not file_name:
        return None
    try:
        return Path(file_name).read_text(encoding="utf-8").strip() or None
    except OSError as exc:
        raise ConfigError(f"{name}_FILE={file_name} cannot be read: {exc.strerror}") from None


def client_credentials(provider: str, env: Mapping[str, str]) -> ClientCredentials:
    """The OAuth client of `provider` from <PREFIX>_ID / _SECRET or their _FILE variants."""
    prefix = _CLIENT_ENV[provider]
    client_id = _setting(env, f"{prefix}_ID")
    secret = _setting(env, f"{prefix}_SECRET")
    if not client_id or not secret:
        raise ConfigError(
            f"set {prefix}_ID and {prefix}_SECRET (or {prefix}_ID_FILE and {prefix}_SECRET_FILE) "
            f"to the {provider} OAuth client"
        )
    return ClientCredentials(client_id, secret)


@dataclass(frozen=True)
class TokenResponse:
    access_token: str = field(repr=False)
    refresh_token: str | None = field(repr=False)
    expires_in: int
    scope: str | None


class TokenEndpoint:
    """Calls one provider's token endpoint with its client credentials (client_secret_post)."""

    def __init__(
        self,
        config: ProviderConfig,
        client: ClientCredentials,
        http: httpx.Client | None = None,
        answer_seconds: float = ANSWER_SECONDS,
    ) -> None:
        self.config = config
        self.client = client
        connect = min(_CONNECT_SECONDS, answer_seconds)
        self.timeout = httpx.Timeout(answer_seconds, connect=connect)
        self._http = http or httpx.Client(timeout=self.timeout)

    @property
    def provider(self) -> Provider:
        return self.config.name

    def refresh(self, refresh_token: str, scope: str) -> TokenResponse:
        form = {"grant_type": "refresh_token", "refresh_token": refresh_token}
        if self.config.scope_on_refresh:
            # Microsoft's granted scope usually omits offline_access; without it in the request
            # the answer carries no new refresh token.
            scopes = (scope or self.config.scope).split()
            form["scope"] = " ".join(dict.fromkeys(["offline_access", *scopes]))
        return self._post(form)

    def exchange_code(self, code: str, redirect_uri: str, code_verifier: str) -> TokenResponse:
        return self._post(
            {
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": redirect_uri,
                "code_verifier": code_verifier,
            }
        )

    def _post(self, form: dict[str, str]) -> TokenResponse:
        form = {
            **form,
            "client_id": self.client.client_id,
            "client_secret": self.client.client_secret,
        }
        try:
            response = self._http.post(
                self.config.token_url,
                data=form,
                headers={"Accept": "application/json"},
                timeout=self.timeout,
            )
        except httpx.ReadTimeout:
            raise TokenEndpointError(
                f"{self.provider} token endpoint did not answer within {self.timeout.read:g} s; "
                "if it still refreshes, a provider that revokes used refresh tokens has spent "
                "this one"
            ) from None
        except httpx.HTTPError as exc:
            raise TokenEndpointError(f"{self.provider} token endpoint unreachable: {exc}") from None
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            body = {}
        if response.status_code != 200:
            error = body.get("error") if isinstance(body.get("error"), str) else None
            # error_description is the provider's text about the grant; it never holds a token.
            detail = body.get("error_description") or response.reason_phrase
            message = (
                f"{self.provider} token endpoint answered {response.status_code} {error}: {detail}"
            )
            kind = InvalidGrant if error == "invalid_grant" else TokenEndpointError
            raise kind(message, response.status_code, error)
        access = body.get("access_token")
        expires_in = body.get("expires_in")
        if not isinstance(access, str) or not access:
            raise TokenEndpointError(f"{self.provider} token response has no access_token")
        try:
            seconds = int(expires_in)
        except (TypeError, ValueError):
            raise TokenEndpointError(f"{self.provider} token response has no expires_in") from None
        refresh = body.get("refresh_token")
        scope = body.get("scope")
        return TokenResponse(
            access,
            refresh if isinstance(refresh, str) and refresh else None,
            seconds,
            scope if isinstance(scope, str) else None,
        )
