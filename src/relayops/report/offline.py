"""The four readiness points checked without Prometheus: runbooks, the last drill, routing
and dashboards, each rendered from the specs and checked the way `make test` checks them."""

from __future__ import annotations

import re
import shutil
import tempfile
from pathlib import Path

from relayops.alertmanager import expected_routes, render_alertmanager
from relayops.alertmanager.config import CONFIG_PATH
from relayops.alertmanager.verify import route_problems
from relayops.dashboards import check_dashboard_links, check_dashboards, render_dashboards
from relayops.report.model import Point
from relayops.rules.alerts import alert_defs
from relayops.runbooks import check_runbook_links, render_runbooks
from relayops.spec import SpecSet

DRILL_MIN_SCORE = 5
SCORE_LINE = re.compile(r"^## Tabletop score: (\d+)/(\d+)$", re.MULTILINE)


def _annotations(specs: SpecSet, key: str) -> list[str]:
    return [a.rule.annotations[key] for spec in specs.providers for a in alert_defs(specs, spec)]


def _problems_point(name: str, threshold: str, checked: str, problems: list[str]) -> Point:
    if not problems:
        return Point(name, True, checked, threshold)
    shown = "; ".join(problems[:3]) + (
        f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
    )
    return Point(name, False, f"{len(problems)} problem(s): {shown}", threshold)


def runbooks_complete(specs: SpecSet) -> Point:
    files = render_runbooks(specs)
    urls = _annotations(specs, "runbook_url")
    return _problems_point(
        "runbooks complete",
        "every runbook_url and runbook link resolves",
        f"{len(set(urls))} runbook links into {len(files)} runbook files resolve",
        check_runbook_links(specs, files, urls),
    )


def _latest_score(drill_dir: Path) -> tuple[Path, int, int] | None:
    """The most recently written drill report that carries a tabletop score."""
    scored = []
    for path in drill_dir.glob("*.md") if drill_dir.is_dir() else ():
        found = SCORE_LINE.search(path.read_text(encoding="utf-8"))
        if found:
            scored.append((path.stat().st_mtime, path, int(found[1]), int(found[2])))
    if not scored:
        return None
    _, path, score, out_of = max(scored)
    return path, score, out_of


def last_drill(drill_dir: Path) -> Point:
    threshold = f"≥ {DRILL_MIN_SCORE}/6"
    latest = _latest_score(drill_dir)
    if latest is None:
        return Point("last drill", None, f"no scored drill report in {drill_dir}", threshold)
    path, score, out_of = latest
    return Point(
        "last drill", score >= DRILL_MIN_SCORE, f"{score}/{out_of} ({path.name})", threshold
    )


def routing_verified(specs: SpecSet) -> Point:
    """Every rendered alert reaches its severity's receiver, per `amtool config routes test`."""
    threshold = "every alert reaches its receiver (amtool)"
    amtool = shutil.which("amtool")
    if amtool is None:
        return Point("routing verified", None, "amtool not found (make tools)", threshold)
    routes = expected_routes(specs)
    with tempfile.TemporaryDirectory() as tmp:
        for rel, text in render_alertmanager(specs).items():
            (Path(tmp) / rel).parent.mkdir(parents=True, exist_ok=True)
            (Path(tmp) / rel).write_text(text, encoding="utf-8")
        config = Path(tmp) / CONFIG_PATH
        problems = route_problems(amtool, config, routes)
    return _problems_point(
        "routing verified", threshold, f"{len(routes)} alert routes verified", problems
    )


def dashboards_valid(specs: SpecSet) -> Point:
    threshold = "offline dashboard checks and every dashboard_url pass"
    promtool = shutil.which("promtool")
    if promtool is None:
        return Point("dashboards valid", None, "promtool not found (make tools)", threshold)
    files = render_dashboards(specs)
    problems = check_dashboards(specs, files, promtool) + check_dashboard_links(
        specs, files, _annotations(specs, "dashboard_url")
    )
    return _problems_point(
        "dashboards valid", threshold, f"{len(files)} dashboard files pass", problems
    )


def offline_points(specs: SpecSet, drill_dir: Path) -> list[Point]:
    return [
        runbooks_complete(specs),
        last_drill(drill_dir),
        routing_verified(specs),
        dashboards_valid(specs),
    ]
