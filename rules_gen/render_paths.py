"""Where rendered files live, shared by the renderer and the generated tests."""

from __future__ import annotations


def rule_paths(name: str) -> tuple[str, str]:
    """(recording rules, alerts) of a provider, relative to the output folder."""
    return f"prometheus/{name}.rules.yml", f"prometheus/{name}.alerts.yml"


def rule_files_for_tests(name: str) -> list[str]:
    """The same files as seen from rendered/tests/."""
    return [f"../{path}" for path in rule_paths(name)]
