"""`relayops send` against the fake servers: a full smoke test, a dry run, and its errors."""

from __future__ import annotations

import json

import pytest

from adapters.fakes import FakeGmail, FakeGraph
from adapters.fakes.gmail import DEFAULT_TOKEN as GMAIL_TOKEN
from adapters.fakes.graph import DEFAULT_TOKEN as GRAPH_TOKEN
from relayops.cli import main
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
