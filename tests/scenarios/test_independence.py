"""The scenario suite takes no expectation from the project: it imports none of its modules."""

from __future__ import annotations

import ast
from pathlib import Path

HERE = Path(__file__).resolve().parent
PROJECT_PACKAGES = {"relayops"}
ALLOWED_TEST_MODULES = {"tests.scenarios.inputs", "tests.scenarios.workbook"}


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_no_scenario_module_imports_the_project() -> None:
    """Not the simulator (relayops.promql.simulate), not the drill theory
    (relayops.drill.theory), nor anything else of the project, nor a test helper that might:
    only the standard library, yaml, pytest and this suite's own oracle and inputs."""
    offenders = {}
    files = sorted(HERE.glob("*.py"))
    assert len(files) >= 5, files
    for path in files:
        bad = {
            name
            for name in _imports(path)
            if name.split(".")[0] in PROJECT_PACKAGES
            or (name.startswith("tests") and name not in ALLOWED_TEST_MODULES)
        }
        if bad:
            offenders[path.name] = sorted(bad)
    assert offenders == {}


def test_the_check_sees_a_forbidden_import(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        "from relayops.promql.simulate import Simulation\nimport relayops.drill.theory\n"
    )
    assert _imports(sample) == {"relayops.promql.simulate", "relayops.drill.theory"}
