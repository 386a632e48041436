"""`relayops oauth setup|rotate-key|status` through argparse, against the fake endpoint."""

from __future__ import annotations

import io
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
import redis

from relayops.cli import main
from relayops.fakes.token_endpoint import FakeTokenEndpoint
from relayops.oauth.cipher import TokenCipher
from relayops.oauth.recovery import RecoverySlot
from relayops.oauth.sqlite_store import SqliteTokenStore
from tests.oauth_fixtures import credential, new_key


def run(argv: list[str]) -> int:
    return main(argv)


class Browser(io.StringIO):
    """stdin that, when read, opens the URL the command printed and gives back the redirect."""

    def __init__(self, capsys: pytest.CaptureFixture[str]) -> None:
        super().__init__()
        self.capsys = capsys
        self.printed = ""

    def readline(self, size: int | None = -1) -> str:
        self.printed = self.capsys.readouterr().out
        answer = httpx.get(self.printed.splitlines()[0], follow_redirects=False)
        return answer.headers["location"] + "\n"


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, fake_endpoint: FakeTokenEndpoint) -> bytes:
    key = new_key()
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.delenv("RELAYOPS_TOKEN_KEYS_FILE", raising=False)
    monkeypatch.setenv("RELAYOPS_TOKEN_KEYS", key.decode())
    for prefix in ("GOOGLE", "MICROSOFT"):
        monkeypatch.setenv(f"{prefix}_OAUTH_CLIENT_ID", fake_endpoint.client_id)
        monkeypatch.setenv(f"{prefix}_OAUTH_CLIENT_SECRET", fake_endpoint.client_secret)
    return key


def setup_args(fake: FakeTokenEndpoint, store: Path, provider: str = "microsoft") -> list[str]:
    args = ["oauth", "setup", provider, "--credential", "ops@example.com", "--store", str(store)]
    args += ["--auth-base-url", fake.url]
    if provider == "google":
        args += ["--token-url", f"{fake.url}/token"]
    return args


@pytest.mark.parametrize("provider", ["google", "microsoft"])
def test_setup_reads_the_redirect_and_stores_the_tokens(
    provider: str,
    env: bytes,
    fake_endpoint: FakeTokenEndpoint,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store = tmp_path / "tokens.sqlite3"
    browser = Browser(capsys)
    monkeypatch.setattr("sys.stdin", browser)
    assert run(setup_args(fake_endpoint, store, provider)) == 0
    assert "code_challenge_method=S256" in browser.printed
    out = capsys.readouterr()
    assert "stored credential ops@example.com" in out.out
    stored = SqliteTokenStore(store, TokenCipher([env])).get("ops@example.com")
    assert stored is not None and stored.access_token == fake_endpoint.issued_access_tokens[0]
    for secret in (stored.access_token, stored.refresh_token):
        assert secret not in out.out + out.err + browser.printed
    assert not list((tmp_path / "oauth-pending").iterdir())

    assert run(["oauth", "status", "--store", str(store)]) == 0
    status = capsys.readouterr().out
    assert status.startswith(f"ops@example.com\t{provider}\texpires ")
    assert stored.access_token not in status and stored.refresh_token not in status


def test_setup_in_two_steps_with_redirect_url(
    env: bytes,
    fake_endpoint: FakeTokenEndpoint,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store = tmp_path / "tokens.sqlite3"
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    assert run(setup_args(fake_endpoint, store)) == 1
    first = capsys.readouterr()
    assert "--redirect-url" in first.err
    redirect = httpx.get(first.out.splitlines()[0], follow_redirects=False).headers["location"]
    assert run([*setup_args(fake_endpoint, store), "--redirect-url", redirect]) == 0
    assert SqliteTokenStore(store, TokenCipher([env])).ids() == ["ops@example.com"]


def test_setup_refuses_a_redirect_with_another_state(
    env: bytes,
    fake_endpoint: FakeTokenEndpoint,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store = tmp_path / "tokens.sqlite3"
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    run(setup_args(fake_endpoint, store))
    capsys.readouterr()
    forged = "http://localhost:8765/oauth/callback?code=abc&state=forged"
    assert run([*setup_args(fake_endpoint, store), "--redirect-url", forged]) == 1
    assert "state does not match" in capsys.readouterr().err
    assert fake_endpoint.token_calls == 0


def test_rotate_key_then_the_new_key_alone_reads_the_store(
    env: bytes,
    fake_endpoint: FakeTokenEndpoint,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store = tmp_path / "tokens.sqlite3"
    monkeypatch.setattr("sys.stdin", Browser(capsys))
    assert run(setup_args(fake_endpoint, store)) == 0
    new = new_key()
    monkeypatch.setenv("RELAYOPS_TOKEN_KEYS", f"{new.decode()},{env.decode()}")
    capsys.readouterr()
    assert run(["oauth", "rotate-key", "--store", str(store)]) == 0
    assert capsys.readouterr().out == "re-encrypted 1 credential(s) under the newest key\n"
    monkeypatch.setenv("RELAYOPS_TOKEN_KEYS", new.decode())
    assert run(["oauth", "status", "--store", str(store)]) == 0
    assert "ops@example.com\tmicrosoft" in capsys.readouterr().out
    monkeypatch.setenv("RELAYOPS_TOKEN_KEYS", env.decode())
    assert run(["oauth", "status", "--store", str(store)]) == 1
    assert "does not decrypt" in capsys.readouterr().err


def test_bad_configuration_exits_2(
    env: bytes,
    fake_endpoint: FakeTokenEndpoint,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store = tmp_path / "tokens.sqlite3"
    monkeypatch.delenv("RELAYOPS_TOKEN_KEYS")
    assert run(["oauth", "status", "--store", str(store)]) == 2
    assert "RELAYOPS_TOKEN_KEYS is not set" in capsys.readouterr().err
    monkeypatch.setenv("RELAYOPS_TOKEN_KEYS", env.decode())
    monkeypatch.setenv("DATABASE_URL", "sqlite:///x.db")
    assert run(["oauth", "rotate-key", "--store", str(store)]) == 2
    assert "DATABASE_URL" in capsys.readouterr().err
    monkeypatch.delenv("DATABASE_URL")
    monkeypatch.delenv("GOOGLE_OAUTH_CLIENT_ID")
    assert run(setup_args(fake_endpoint, store, "google")) == 2
    assert "GOOGLE_OAUTH_CLIENT_ID" in capsys.readouterr().err
    bad_id = ["oauth", "setup", "microsoft", "--credential", "../x", "--store", str(store)]
    assert run(bad_id) == 2
    with pytest.raises(SystemExit) as caught:
        run(["oauth", "setup", "yahoo", "--credential", "x"])
    assert caught.value.code == 2


def test_status_of_an_empty_store(
    env: bytes, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["oauth", "status", "--store", str(tmp_path / "t.sqlite3")]) == 0
    assert capsys.readouterr().out == "no OAuth credentials stored\n"


def test_status_shows_a_refreshed_token_waiting_in_the_recovery_slot(
    env: bytes,
    tmp_path: Path,
    redis_url: str,
    redis_client: redis.Redis,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A refresh whose store write failed left its credential in the slot (over version 1):
    status says so; without REDIS_URL it says the slots were not looked at."""
    path = tmp_path / "t.sqlite3"
    cipher = TokenCipher([env])
    stored = SqliteTokenStore(path, cipher).put(credential())
    assert run(["oauth", "status", "--store", str(path)]) == 0
    out = capsys.readouterr().out
    assert "recovery slots not checked: set REDIS_URL" in out and "WAITING" not in out
    monkeypatch.setenv("REDIS_URL", redis_url)
    assert run(["oauth", "status", "--store", str(path)]) == 0
    assert "WAITING" not in capsys.readouterr().out
    RecoverySlot(redis_client, cipher).save(replace(stored, refresh_token="rotated"))
    assert run(["oauth", "status", "--store", str(path)]) == 0
    line = capsys.readouterr().out.splitlines()[0]
    assert line.startswith("mailbox-1\tmicrosoft") and "REFRESHED TOKEN WAITING" in line
    assert "rotated" not in line
