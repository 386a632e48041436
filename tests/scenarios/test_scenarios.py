"""Independent scenarios: the rendered burn alerts, run by promtool, against the Workbook.

Each scenario is traffic you can check by eye (a healthy stretch, then a fault) and, for every
burn tier, when the tier must first fire: computed here from the Workbook formula
(`workbook.py`) to the evaluation step, or "never". promtool evaluates the committed rule files
(`rendered/prometheus/`) on that traffic, and a PromQL check over the ALERTS series says when
each tier first fired, within one evaluation step of the oracle.

Tiers reading only windows of the raw counters (page_fast) are judged at a 1-minute step
after six healthy hours. Tiers reading a window summed from the period group's tiles
(`workbook.reads_tiles`: page_slow after six healthy hours, the ticket tiers after three
healthy days) are judged at `period_rules_interval` (5 minutes), the interval at which
Prometheus records those tiles: promtool evaluates every group at the test's step, and another
step would record one tile per step and count a multiple or a fraction of the events. They may
fire up to one such interval later than the Workbook says. Counters are sampled at most every
`period_rules_interval`.
Nothing here imports the project's simulator, drill theory or any other project module
(test_independence.py).
"""

from __future__ import annotations

import math
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from tests.scenarios.inputs import (
    Exposition,
    Phase,
    Target,
    input_series,
    service_seconds,
    targets,
)
from tests.scenarios.workbook import (
    DAY,
    HOUR,
    MINUTE,
    NOW_WINDOW,
    PAGES,
    TICKETS,
    Tier,
    at_step,
    crossing,
    fires_at,
    low_traffic_crossing,
    reads_tiles,
)

RATE = 10.0  # requests a second: every guard on request counts is met
LOW_RATE = 1.5 / HOUR  # a provider at 1% rollout
FEW_RATE = 3 / HOUR
BLIP_SECONDS = 30


@dataclass(frozen=True)
class View:
    """The tiers judged at one evaluation step, after a healthy stretch filling their windows."""

    name: str
    tiers: tuple[Tier, ...]
    step: int
    healthy: int

    def fault_room(self, latest: int | None) -> int:
        """Fault length covering the latest expected firing, with room; a silent scenario
        runs as long as the longest window."""
        if latest is None:
            return max(t.long for t in self.tiers)
        return at_step(latest + 4 * self.step, self.step)


AS_SCRAPED = Exposition()
TILE_SECONDS = service_seconds("period_rules_interval")
RAW_PAGES = View("pages-raw", tuple(t for t in PAGES if not reads_tiles(t)), MINUTE, 6 * HOUR)
TILE_PAGES = View("pages-tiles", tuple(t for t in PAGES if reads_tiles(t)), TILE_SECONDS, 6 * HOUR)
TICKET_VIEW = View("tickets", TICKETS, TILE_SECONDS, 3 * DAY)
ALL_VIEWS = (RAW_PAGES, TILE_PAGES, TICKET_VIEW)


@dataclass(frozen=True)
class Case:
    """One promtool run: traffic, and when each tier of the view first fires (None: never)."""

    view: View
    phases: list[Phase]
    fires: dict[str, int | None]
    exposition: Exposition = AS_SCRAPED
    last_critical_by: int | None = None  # no page may be firing after this evaluation time

    @property
    def end(self) -> int:
        return sum(p.seconds for p in self.phases)


def _constant(
    target: Target,
    view: View,
    per_second: float,
    error_ratio: float,
    exposition: Exposition = AS_SCRAPED,
) -> Case:
    """Healthy traffic, then a constant error ratio: the Workbook's own case."""
    start = view.healthy
    fires = {
        t.name: fires_at(start, crossing(t, target.budget, error_ratio), t, view.step)
        for t in view.tiers
    }
    latest = max((f - start for f in fires.values() if f is not None), default=None)
    fault = view.fault_room(latest)
    phases = [Phase(start, per_second, 0.0), Phase(fault, per_second, error_ratio)]
    if exposition.reset_at is not None:
        exposition = Exposition(reset_at=start + at_step(fault // 2, view.step))
    return Case(view, phases, fires, exposition)


def full_outage(target: Target, view: View) -> Case:
    return _constant(target, view, RATE, 1.0)


def burn_10x(target: Target, view: View) -> Case:
    return _constant(target, view, RATE, 10 * target.budget)


def slow_burn_2x(target: Target, view: View) -> Case:
    return _constant(target, view, RATE, 2 * target.budget)


def counter_reset(target: Target, view: View) -> Case:
    """A 10× burn during which the process restarts: every counter begins again at zero."""
    return _constant(target, view, RATE, 10 * target.budget, Exposition(reset_at=0))


def pushgateway_path(target: Target, view: View) -> Case:
    """A 10× burn as the Pushgateway exposes it: `le="2"`, the pushed job and instance."""
    return _constant(
        target, view, RATE, 10 * target.budget, Exposition(go_le=True, pushed_labels=True)
    )


def low_traffic_outage(target: Target, view: View) -> Case:
    """1.5 requests an hour, then every one of them fails."""
    start = view.healthy
    fires = {
        t.name: fires_at(start, low_traffic_crossing(t, LOW_RATE * HOUR), t, view.step)
        for t in view.tiers
    }
    latest = max((f - start for f in fires.values() if f is not None), default=None)
    phases = [Phase(start, LOW_RATE, 0.0), Phase(view.fault_room(latest), LOW_RATE, 1.0)]
    return Case(view, phases, fires)


def one_in_a_few(target: Target, view: View) -> Case:
    """Three requests an hour, one of them failing, for as long as the longest window."""
    assert all(FEW_RATE * t.long < t.min_events for t in view.tiers)
    phases = [Phase(view.healthy, FEW_RATE, 0.0), Phase(view.fault_room(None), FEW_RATE, 1 / 3)]
    return Case(view, phases, dict.fromkeys((t.name for t in view.tiers), None))


def short_blip(target: Target, view: View) -> Case:
    """Thirty seconds of total failure: the most any long window's ratio reaches is 30 s / L."""
    fires = {
        t.name: fires_at(view.healthy, crossing(t, target.budget, BLIP_SECONDS / t.long), t, 1)
        for t in view.tiers
    }
    assert all(f is None for f in fires.values()), "the blip is meant to stay under every tier"
    share = BLIP_SECONDS / view.step
    phases = [
        Phase(view.healthy, RATE, 0.0),
        Phase(view.step, RATE, share),
        Phase(view.fault_room(None), RATE, 0.0),
    ]
    return Case(view, phases, fires)


def metrics_absent(target: Target, view: View) -> Case:
    """No series at all: no data is not an error ratio, and no burn tier may fire."""
    phases = [Phase(view.healthy + view.fault_room(None), RATE, 0.0)]
    return Case(
        view, phases, dict.fromkeys((t.name for t in view.tiers), None), Exposition(absent=True)
    )


def outage_then_recovery(target: Target, view: View) -> Case:
    """A total outage that lasts until five minutes after page_fast fires, then health. A page
    tier fires only if its `for` ends while the fault is on or within the five-minute window
    that follows; no page may be firing after that window (and one evaluation) has passed."""
    start = view.healthy
    fast = next(t for t in PAGES if t.name == "page_fast")
    fast_fires = fires_at(start, crossing(fast, target.budget, 1.0), fast, view.step)
    assert fast_fires is not None
    fault = fast_fires - start + 5 * MINUTE
    fires: dict[str, int | None] = {}
    for tier in view.tiers:
        crossed = crossing(tier, target.budget, 1.0)
        fired = fires_at(start, crossed, tier, view.step)
        in_time = crossed is not None and crossed <= fault and fired <= start + fault + NOW_WINDOW
        fires[tier.name] = fired if in_time else None
    phases = [Phase(start, RATE, 0.0), Phase(fault, RATE, 1.0), Phase(HOUR, RATE, 0.0)]
    return Case(view, phases, fires, last_critical_by=start + fault + NOW_WINDOW + view.step)


Scenario = Callable[[Target, View], Case]
SCENARIOS: dict[str, tuple[Scenario, tuple[View, ...]]] = {
    "full outage": (full_outage, ALL_VIEWS),
    "10x burn": (burn_10x, ALL_VIEWS),
    "2x slow burn over days": (slow_burn_2x, ALL_VIEWS),
    "one failure among a few requests an hour": (one_in_a_few, ALL_VIEWS),
    "short blip": (short_blip, ALL_VIEWS),
    "counter reset": (counter_reset, ALL_VIEWS),
    "metrics absent": (metrics_absent, ALL_VIEWS),
    "low-traffic total failure": (low_traffic_outage, ALL_VIEWS),
    "through the Pushgateway path": (pushgateway_path, ALL_VIEWS),
    "outage, then recovery": (outage_then_recovery, (RAW_PAGES, TILE_PAGES)),
}
TARGETS = targets()


def _alerts(target: Target, tier: str) -> str:
    return f'ALERTS{{alertname="{target.alertname}",burn_tier="{tier}",alertstate="firing"}}'


def _checks(target: Target, case: Case) -> list[dict]:
    end, step = case.end, case.view.step
    late = {t.name: TILE_SECONDS if reads_tiles(t) else 0 for t in case.view.tiers}
    checks = []
    for tier, fires in case.fires.items():
        alerts = _alerts(target, tier)
        if fires is None:
            expr = f"count(last_over_time({alerts}[{end}s])) or vector(0)"
            expected = 0
        else:
            # within a step either way, and up to one tile interval late: the middle of
            # [fires - step, fires + late + step] and half its width
            first = f"min_over_time(timestamp({alerts})[{end}s:{step}s])"
            middle, half = fires + late[tier] / 2, step + late[tier] / 2
            expr = f"max(abs({first} - {middle:g}) <= bool {half:g})"
            expected = 1
        checks.append(
            {
                "expr": expr,
                "eval_time": f"{end}s",
                "exp_samples": [{"labels": "{}", "value": expected}],
            }
        )
    if case.last_critical_by is not None:
        critical = (
            f'ALERTS{{alertname="{target.alertname}",severity="critical",alertstate="firing"}}'
        )
        last = f"max_over_time(timestamp({critical})[{end}s:{step}s])"
        checks.append(
            {
                "expr": f"max({last} <= bool {case.last_critical_by})",
                "eval_time": f"{end}s",
                "exp_samples": [{"labels": "{}", "value": 1}],
            }
        )
    return checks


def _describe(case: Case) -> str:
    parts = [
        f"{tier} {'never' if at is None else f'at {(at - case.view.healthy) / 60:g} min'}"
        for tier, at in case.fires.items()
    ]
    return "expected from the fault's start: " + ", ".join(parts)


def _promtool(path: Path, document: dict) -> subprocess.CompletedProcess:
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    promtool = shutil.which("promtool")
    return subprocess.run(
        [promtool, "test", "rules", str(path)], capture_output=True, text=True, timeout=300
    )


def _first_firings(target: Target, case: Case) -> list[dict]:
    """Checks that cannot pass (no timestamp is -1) and so make promtool print, per tier, the
    time it first fired: the evidence when a scenario fails."""
    end, step = case.end, case.view.step
    return [
        {
            "expr": f"min_over_time(timestamp({_alerts(target, tier)})[{end}s:{step}s])",
            "eval_time": f"{end}s",
            "exp_samples": [{"labels": "{}", "value": -1}],
        }
        for tier in case.fires
    ]


def _run(tmp_path: Path, target: Target, name: str, case: Case) -> None:
    sample = min(case.view.step, TILE_SECONDS)
    test = {
        "name": name,
        "interval": f"{sample}s",
        "input_series": input_series(target, case.phases, sample, case.exposition),
        "promql_expr_test": _checks(target, case),
    }
    document = {
        "rule_files": target.rule_files,
        "evaluation_interval": f"{case.view.step}s",
        "group_eval_order": target.group_order,
        "tests": [test],
    }
    proc = _promtool(tmp_path / f"{case.view.name}.test.yml", document)
    if proc.returncode == 0:
        return
    document["tests"] = [{**test, "promql_expr_test": _first_firings(target, case)}]
    evidence = _promtool(tmp_path / f"{case.view.name}.evidence.yml", document)
    pytest.fail(
        f"{name} ({case.view.name} at a {case.view.step}s step, {_describe(case)}; the fault "
        f"starts at {case.view.healthy}s):\n{proc.stdout}{proc.stderr}\nfirst firing per tier "
        f"(got; empty: never):\n{evidence.stdout}{evidence.stderr}",
        pytrace=False,
    )


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool not installed")
@pytest.mark.parametrize("scenario", list(SCENARIOS))
@pytest.mark.parametrize("target", TARGETS, ids=lambda t: f"{t.provider_file}-{t.slo}")
def test_burn_tiers_fire_when_the_workbook_says(
    tmp_path: Path, target: Target, scenario: str
) -> None:
    build, views = SCENARIOS[scenario]
    for view in views:
        _run(
            tmp_path,
            target,
            f"{target.provider_file} {target.slo}: {scenario}",
            build(target, view),
        )


def test_the_specs_use_the_workbook_tiers() -> None:
    """The oracle's tier table is the Workbook's; a spec that overrides tiers must update it."""
    for path in sorted(Path(__file__).resolve().parents[2].glob("specs/*.yaml")):
        spec = yaml.safe_load(path.read_text())
        for slo in spec.get("slos", []):
            assert "tiers" not in slo, f"{path.name}: SLO {slo['name']} overrides the tiers"
            assert slo.get("period", "30d") == "30d", f"{path.name}: factors are for 30 days"
    service = yaml.safe_load((path.parent / "service.yaml").read_text())
    assert "long_windows_from" not in service, "the oracle derives windows from 2h (README)"


def test_the_oracle_matches_the_workbook_table() -> None:
    """Spot values from the Workbook's table for 99.9% over 30 days: a total outage spends 2%
    of the budget (page_fast) in 0.02 × 30 d = 14.4 min × … = 51.84 s of the 1h window."""
    fast, slow, ticket_fast, ticket_slow = (*PAGES, *TICKETS)
    assert crossing(fast, 0.001, 1.0) == pytest.approx(51.84)
    assert crossing(slow, 0.001, 1.0) == pytest.approx(129.6)
    assert crossing(ticket_fast, 0.001, 1.0) == pytest.approx(259.2)
    assert crossing(ticket_slow, 0.001, 1.0) == pytest.approx(259.2)
    assert crossing(fast, 0.001, 0.01) is None  # 10× is under page_fast's 14.4×
    assert crossing(slow, 0.001, 0.01) == pytest.approx(3.6 * HOUR)
    assert math.isclose(low_traffic_crossing(slow, 1.5), 4 * HOUR)
    assert low_traffic_crossing(fast, 1.5) is None  # six failures never fit in one hour
