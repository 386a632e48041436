"""`relayops check` runs promtool with a larger Go heap target (fewer collections, about a sixth
less CPU on the generated tests) unless the caller chose one."""

from __future__ import annotations

import pytest

from relayops.cli.main import promtool_env


def test_promtool_collects_garbage_less_often_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GOGC", raising=False)
    monkeypatch.setenv("PATH", "/somewhere")
    env = promtool_env()
    assert env["GOGC"] == "400" and env["PATH"] == "/somewhere"


def test_a_gogc_the_caller_set_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOGC", "50")
    assert promtool_env()["GOGC"] == "50"
