"""PKCE, the authorization URL, the code exchange, and the fake endpoint's checks."""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from relayops.fakes.token_endpoint import FakeTokenEndpoint
from relayops.oauth.cipher import TokenCipher
from relayops.oauth.pkce import code_challenge, make_state, make_verifier
from relayops.oauth.providers import (
    GOOGLE_SCOPE,
    MICROSOFT_SCOPE,
    ClientCredentials,
    ConfigError,
    InvalidGrant,
    ProviderConfig,
    TokenEndpoint,
    TokenEndpointError,
    client_credentials,
    google,
    microsoft,
)
from relayops.oauth.setup import (
    AuthorizationRequest,
    SetupError,
    begin,
    complete,
    load_pending,
    save_pending,
)
from relayops.oauth.sqlite_store import SqliteTokenStore

REDIRECT_URI = "http://localhost:8765/oauth/callback"


def consent(request: AuthorizationRequest) -> str:
    """Follow the authorization URL at the fake: the redirect URL the browser would get."""
    answer = httpx.get(request.url, follow_redirects=False)
    assert answer.status_code == 302, answer.text
    return answer.headers["location"]


def endpoint(fake: FakeTokenEndpoint, config: ProviderConfig) -> TokenEndpoint:
    return TokenEndpoint(config, ClientCredentials(fake.client_id, fake.client_secret))


def test_pkce_rfc7636_appendix_b_vector() -> None:
    verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    assert code_challenge(verifier) == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


@pytest.mark.parametrize("length", [43, 64, 128])
def test_verifiers_are_random_and_well_formed(length: int) -> None:
    verifier = make_verifier(length)
    assert len(verifier) == length
    assert verifier != make_verifier(length)
    digest = hashlib.sha256(verifier.encode()).digest()
    assert code_challenge(verifier) == base64.urlsafe_b64encode(digest).decode().rstrip("=")


@pytest.mark.parametrize("bad", [42, 129])
def test_verifier_length_limits(bad: int) -> None:
    with pytest.raises(ValueError, match="43 to 128"):
        make_verifier(bad)
    with pytest.raises(ValueError, match="43 to 128"):
        code_challenge("a" * bad)


def test_state_is_random() -> None:
    assert len(make_state()) >= 32 and make_state() != make_state()


def test_google_authorization_url() -> None:
    request = begin(google(), "client-1", REDIRECT_URI, "mailbox-1")
    url = urlsplit(request.url)
    assert (
        f"{url.scheme}://{url.netloc}{url.path}" == "https://accounts.google.com/o/oauth2/v2/auth"
    )
    query = {name: values[0] for name, values in parse_qs(url.query).items()}
    assert query == {
        "client_id": "client-1",
        "response_type": "code",
        "redirect_uri": REDIRECT_URI,
        "scope": GOOGLE_SCOPE,
        "state": request.state,
        "code_challenge": code_challenge(request.code_verifier),
        "code_challenge_method": "S256",
        "access_type": "offline",
        "prompt": "consent",
    }
    assert request.code_verifier not in request.url
    assert request.code_verifier not in repr(request)


def test_microsoft_endpoints_and_scopes() -> None:
    config = microsoft()
    assert config.authorize_url == (
        "https://login.microsoftonline.com/common/oauth2/v2.0/authorize"
    )
    assert config.token_url == "https://login.microsoftonline.com/common/oauth2/v2.0/token"
    assert config.scope.split() == [
        "offline_access",
        "https://graph.microsoft.com/Mail.Send",
        "https://graph.microsoft.com/Mail.ReadWrite",
    ]
    assert microsoft("contoso.onmicrosoft.com").token_url.endswith(
        "/contoso.onmicrosoft.com/oauth2/v2.0/token"
    )
    query = parse_qs(urlsplit(begin(config, "c", REDIRECT_URI, "m").url).query)
    assert query["scope"] == [MICROSOFT_SCOPE]
    assert query["code_challenge_method"] == ["S256"]
    assert google().token_url == "https://oauth2.googleapis.com/token"


@pytest.mark.parametrize("provider", ["google", "microsoft"])
def test_code_exchange_stores_the_tokens(
    provider: str,
    fake_endpoint: FakeTokenEndpoint,
    sqlite_store: SqliteTokenStore,
) -> None:
    fake = fake_endpoint
    config = (
        google(fake.url, f"{fake.url}/token")
        if provider == "google"
        else microsoft(auth_base_url=fake.url)
    )
    request = begin(config, fake.client_id, REDIRECT_URI, "mailbox-7")
    before = datetime.now(UTC)
    stored = complete(request, consent(request), endpoint(fake, config), sqlite_store)
    assert stored.version == 1
    assert stored.provider == provider
    assert stored.access_token == fake.issued_access_tokens[0]
    assert before + timedelta(seconds=3590) < stored.expires_at
    assert stored == sqlite_store.get("mailbox-7")
    assert stored.scope == config.scope


def test_a_wrong_state_is_refused(
    fake_endpoint: FakeTokenEndpoint,
    sqlite_store: SqliteTokenStore,
) -> None:
    config = microsoft(auth_base_url=fake_endpoint.url)
    mine = begin(config, fake_endpoint.client_id, REDIRECT_URI, "mailbox-1")
    other = begin(config, fake_endpoint.client_id, REDIRECT_URI, "mailbox-1")
    with pytest.raises(SetupError, match="state does not match"):
        complete(mine, consent(other), endpoint(fake_endpoint, config), sqlite_store)
    assert fake_endpoint.token_calls == 0
    assert sqlite_store.ids() == []


def test_a_provider_refusal_or_missing_code(
    fake_endpoint: FakeTokenEndpoint,
    sqlite_store: SqliteTokenStore,
) -> None:
    config = microsoft(auth_base_url=fake_endpoint.url)
    request = begin(config, fake_endpoint.client_id, REDIRECT_URI, "m")
    refused = f"{REDIRECT_URI}?error=access_denied&state={request.state}"
    with pytest.raises(SetupError, match="refused the authorization: access_denied"):
        complete(request, refused, endpoint(fake_endpoint, config), sqlite_store)
    with pytest.raises(SetupError, match="no code"):
        complete(
            request,
            f"{REDIRECT_URI}?state={request.state}",
            endpoint(fake_endpoint, config),
            sqlite_store,
        )


def test_the_fake_checks_the_pkce_verifier_and_redirect_uri(
    fake_endpoint: FakeTokenEndpoint,
) -> None:
    config = microsoft(auth_base_url=fake_endpoint.url)
    token = endpoint(fake_endpoint, config)
    request = begin(config, fake_endpoint.client_id, REDIRECT_URI, "m")
    code = parse_qs(urlsplit(consent(request)).query)["code"][0]
    with pytest.raises(InvalidGrant, match="code_verifier"):
        token.exchange_code(code, REDIRECT_URI, make_verifier())
    request = begin(config, fake_endpoint.client_id, REDIRECT_URI, "m")
    code = parse_qs(urlsplit(consent(request)).query)["code"][0]
    with pytest.raises(InvalidGrant, match="redirect_uri"):
        token.exchange_code(code, "http://localhost:1/other", request.code_verifier)
    request = begin(config, fake_endpoint.client_id, REDIRECT_URI, "m")
    code = parse_qs(urlsplit(consent(request)).query)["code"][0]
    assert token.exchange_code(code, REDIRECT_URI, request.code_verifier).refresh_token
    with pytest.raises(InvalidGrant, match="already used"):
        token.exchange_code(code, REDIRECT_URI, request.code_verifier)


def test_the_fake_checks_client_auth_and_injects_faults(
    fake_endpoint: FakeTokenEndpoint,
) -> None:
    config = google(fake_endpoint.url, f"{fake_endpoint.url}/token")
    refresh = fake_endpoint.issue_refresh_token("google")
    wrong = TokenEndpoint(config, ClientCredentials(fake_endpoint.client_id, "wrong"))
    with pytest.raises(TokenEndpointError) as caught:
        wrong.refresh(refresh, "")
    assert (caught.value.status, caught.value.error) == (401, "invalid_client")
    fake_endpoint.faults.status(500, path="/token")
    with pytest.raises(TokenEndpointError) as caught:
        endpoint(fake_endpoint, config).refresh(refresh, "")
    assert caught.value.status == 500 and not isinstance(caught.value, InvalidGrant)
    answer = endpoint(fake_endpoint, config).refresh(refresh, "")
    assert answer.refresh_token is None and answer.expires_in == 3600
    assert fake_endpoint.token_calls == 3


def test_the_fake_rotates_microsoft_refresh_tokens(
    fake_endpoint: FakeTokenEndpoint,
) -> None:
    token = endpoint(fake_endpoint, microsoft(auth_base_url=fake_endpoint.url))
    first = fake_endpoint.issue_refresh_token("microsoft", "scope")
    answer = token.refresh(first, "scope")
    assert answer.refresh_token is not None and answer.refresh_token != first
    with pytest.raises(InvalidGrant):
        token.refresh(first, "scope")
    assert token.refresh(answer.refresh_token, "scope").access_token


def test_the_fake_tokens_expire_as_configured() -> None:
    with FakeTokenEndpoint(expires_in=5) as fake:
        token = endpoint(fake, microsoft(auth_base_url=fake.url))
        assert token.refresh(fake.issue_refresh_token("microsoft"), "s").expires_in == 5


def test_pending_request_survives_encrypted(tmp_path: Path, cipher: TokenCipher) -> None:
    request = begin(google(), "client", REDIRECT_URI, "mailbox-1")
    path = tmp_path / "pending" / "mailbox-1.json"
    save_pending(path, cipher, request)
    assert request.code_verifier not in path.read_text()
    assert path.stat().st_mode & 0o077 == 0
    assert load_pending(path, cipher, "mailbox-1") == request
    with pytest.raises(SetupError, match="another credential"):
        load_pending(path, cipher, "mailbox-2")
    with pytest.raises(SetupError, match="no pending authorization"):
        load_pending(tmp_path / "absent.json", cipher, "mailbox-1")


def test_client_credentials_from_env_or_files(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("s3cret\n")
    env = {"MICROSOFT_OAUTH_CLIENT_ID": "app", "MICROSOFT_OAUTH_CLIENT_SECRET_FILE": str(secret)}
    found = client_credentials("microsoft", env)
    assert (found.client_id, found.client_secret) == ("app", "s3cret")
    assert "s3cret" not in repr(found)
    with pytest.raises(ConfigError, match="GOOGLE_OAUTH_CLIENT_ID and GOOGLE_OAUTH_CLIENT_SECRET"):
        client_credentials("google", {})


def test_microsoft_refresh_asks_for_offline_access_again() -> None:
    forms: list[dict[str, list[str]]] = []

    def token_endpoint(request: httpx.Request) -> httpx.Response:
        forms.append(parse_qs(request.content.decode()))
        return httpx.Response(200, json={"access_token": "a", "expires_in": 60})

    http = httpx.Client(transport=httpx.MockTransport(token_endpoint))
    ms = TokenEndpoint(microsoft(), ClientCredentials("id", "secret"), http)
    ms.refresh("r", "https://graph.microsoft.com/Mail.Send")
    TokenEndpoint(google(), ClientCredentials("id", "secret"), http).refresh("r", GOOGLE_SCOPE)
    assert forms[0]["scope"] == ["offline_access https://graph.microsoft.com/Mail.Send"]
    assert forms[0]["grant_type"] == ["refresh_token"]
    assert "scope" not in forms[1]
    assert forms[1]["client_secret"] == ["secret"]
