"""Parse panel queries with promtool, Prometheus' own parser, in one run for all of them."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import yaml

from relayops.dashboards.promql import substitute

_PROMTOOL_ERROR = re.compile(r'"dashboard:expr_(\d+):check": (?:could not parse expression: )?(.*)')

Located = tuple[str, str]  # (where, PromQL expression)


def parse_problems(exprs: list[Located], promtool: str | None = None) -> list[str]:
    """Problems of expressions promtool cannot parse; Grafana variables get stand-in values."""
    if not exprs:
        return []
    tool = promtool or shutil.which("promtool")
    if tool is None:
        return ["promtool not found: cannot parse panel queries (run scripts/bootstrap-tools.sh)"]
    rules = [
        {"record": f"dashboard:expr_{i}:check", "expr": substitute(expr)}
        for i, (_, expr) in enumerate(exprs)
    ]
    document = {"groups": [{"name": "dashboard-queries", "rules": rules}]}
    with tempfile.TemporaryDirectory() as tmp:
        rule_file = Path(tmp) / "dashboard-queries.yml"
        rule_file.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
        proc = subprocess.run(
            [tool, "check", "rules", str(rule_file)], capture_output=True, text=True, timeout=60
        )
    if proc.returncode == 0:
        return []
    output = proc.stdout + proc.stderr
    problems = [
        f"{exprs[int(m.group(1))][0]}: query does not parse: {m.group(2)}"
        for m in _PROMTOOL_ERROR.finditer(output)
    ]
    return problems or [f"promtool check rules failed: {output.strip()}"]
