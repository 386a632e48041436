"""`relayops send` against the fake servers: a full smoke test, a dry run, and its errors."""

from __future__ import annotations

import json

import pytest

from relayops.cli import main
from relayops.fakes import FakeGmail, FakeGraph
from relayops.fakes.gmail import DEFAULT_TOKEN as GMAIL_TOKEN
from relayops.fakes.graph import DEFAULT_TOKEN as GRAPH_TOKEN
from relayops.fakes.token_endpoint import FakeTokenEndpoint
from relayops.oauth.cipher import TokenCipher
from relayops.oauth.sqlite_store import SqliteTokenStore
from tests.oauth_fixtures import IssuedTokens, credential, new_key, seed
from tests.specs_util import SPECS


@pytest.mark.parametrize(
    ("provider", "fake", "token"),
    [("gmail", FakeGmail, GMAIL_TOKEN), ("outlook", FakeGraph, GRAPH_TOKEN)],
)
def test_full_smoke_test_reaches_the_fake_server(provider, fake, token, monkeypatch, capsys):
    monkeypatch.setenv(f"{provider.upper()}_ACCESS_TOKEN", token)
    with fake() as server:
        argv = ["send", provider, "--to", "qa@relay.example", "--full-test"]
        assert main([*argv, "--base-url", server.url, "--specs", str(SPECS)]) == 0
        assert server.delivery_count == 1
    body = json.loads(capsys.readouterr().out)
    assert body["ok"] and body["error"] is None and body["attempts"] == 1


def test_a_refused_token_prints_the_structured_error(monkeypatch, capsys):
    monkeypatch.setenv("GMAIL_ACCESS_TOKEN", "wrong")
    with FakeGmail() as server:
        argv = ["send", "gmail", "--to", "qa@relay.example", "--base-url", server.url]
        assert main([*argv, "--specs", str(SPECS)]) == 1
    body = json.loads(capsys.readouterr().out)
    assert body["error"]["error_code"] == "auth_reconnect_required"
    assert body["error"]["source"] == "provider" and body["error"]["correlation_id"]


def test_dry_run_needs_no_token_and_sends_nothing(monkeypatch, capsys):
    monkeypatch.delenv("OUTLOOK_ACCESS_TOKEN", raising=False)
    argv = ["send", "outlook", "--to", "qa@relay.example", "--full-test", "--dry-run"]
    assert main([*argv, "--specs", str(SPECS)]) == 0
    body = json.loads(capsys.readouterr().out)
    assert body["summary"]["inline"] == ["pixel"]
    assert body["summary"]["attachments"] == ["smoke-test.pdf"] and len(body["digest"]) == 64


def test_missing_token_and_bad_recipient(monkeypatch, capsys):
    monkeypatch.delenv("GMAIL_ACCESS_TOKEN", raising=False)
    assert main(["send", "gmail", "--to", "qa@relay.example", "--specs", str(SPECS)]) == 2
    assert "set GMAIL_ACCESS_TOKEN" in capsys.readouterr().err
    argv = ["send", "gmail", "--to", "not-an-address", "--dry-run", "--specs", str(SPECS)]
    assert main(argv) == 1
    assert json.loads(capsys.readouterr().out)["error"]["field"] == "to[0]"


def test_a_stored_credential_is_refreshed_and_used(
    tmp_path,
    monkeypatch,
    capsys,
    redis_url,
):
    """`--credential`: the token store, the refresh lock in Redis, the token endpoint."""
    keys = new_key().decode()
    monkeypatch.setenv("RELAYOPS_TOKEN_KEYS", keys)
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    store_path = tmp_path / "tokens.sqlite3"
    with FakeTokenEndpoint() as endpoint, FakeGraph() as graph:
        monkeypatch.setenv("MICROSOFT_OAUTH_CLIENT_ID", endpoint.client_id)
        monkeypatch.setenv("MICROSOFT_OAUTH_CLIENT_SECRET", endpoint.client_secret)
        seed(SqliteTokenStore(store_path, TokenCipher([keys])), endpoint)
        graph.tokens = IssuedTokens(endpoint)
        argv = ["send", "outlook", "--to", "qa@relay.example", "--credential", "mailbox-1"]
        argv += ["--store", str(store_path), "--base-url", graph.url]
        argv += ["--token-url", f"{endpoint.url}/common/oauth2/v2.0/token"]
        assert main([*argv, "--specs", str(SPECS)]) == 0
        assert endpoint.token_calls == 1 and graph.delivery_count == 1
    assert json.loads(capsys.readouterr().out)["ok"]


def test_a_stored_credential_needs_redis_and_the_right_provider(tmp_path, monkeypatch, capsys):
    keys = new_key().decode()
    monkeypatch.setenv("RELAYOPS_TOKEN_KEYS", keys)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("REDIS_URL", raising=False)
    store_path = tmp_path / "tokens.sqlite3"
    SqliteTokenStore(store_path, TokenCipher([keys])).put(credential())  # a microsoft one
    argv = ["send", "gmail", "--to", "qa@relay.example", "--credential", "mailbox-1"]
    argv += ["--store", str(store_path), "--specs", str(SPECS)]
    assert main(argv) == 2
    assert "set REDIS_URL" in capsys.readouterr().err
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/0")
    assert main(argv) == 2
    assert "is a microsoft credential, not google" in capsys.readouterr().err


def test_a_provider_without_a_spec_is_named_with_the_known_ones(tmp_path, capsys):
    """A specs folder with only outlook's spec: `send gmail` says so and exits 2 (bad
    arguments), where it used to end in a KeyError traceback."""
    (tmp_path / "service.yaml").write_text((SPECS / "service.yaml").read_text())
    (tmp_path / "outlook.yaml").write_text((SPECS / "outlook.yaml").read_text())
    argv = ["send", "gmail", "--to", "qa@relay.example", "--dry-run", "--specs", str(tmp_path)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "no provider spec 'gmail'" in err and "outlook" in err and "Traceback" not in err
