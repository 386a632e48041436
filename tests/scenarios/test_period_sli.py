"""The period SLI and the burn windows summed from tiles, during and right after an incident,
against the exact event ratio.

Two days of traffic at 10 requests a second with 0.05% bad, then an hour in which every request
is bad, then an hour of healthy traffic. At every evaluation of the period group from the
incident's start to the end, the recorded period ratio must be within 1% of bad events over all
events since the start (all of it lies within the 30-day period), counted here from the input.
An average of 1h rates, as relayops recorded before, reported half the exact ratio an hour in.

A burst of failures, three days of healthy traffic, silence until a month after the burst and
hours of healthy traffic again: while the burst leaves each burn window summed from tiles (2h,
6h, 1d, 3d) and then the 30-day period, each ratio stays within 1% of the exact ratio of the
window ending at each evaluation (the generated tests of `relayops check` watch it leave the 1d
window only: a month of evaluations is too slow for a pre-commit hook).

Then the same at a 15-second scrape with a process restart late in a tile of an incident: the
2h, 6h, 1d, 3d and 30d ratios stay within 1% of the exact ratio of their windows (a window
reaching back before the data holds the data there is). A tile that counted only the counter's
value after the restart lost the four minutes before it (3% of the 2h ratio).
"""

from __future__ import annotations

import math
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.scenarios.inputs import RENDERED, SPECS, Exposition, Phase, Target, input_series, targets
from tests.scenarios.workbook import DAY, HOUR

TOLERANCE = 0.01
PHASES = [Phase(2 * DAY, 10.0, 0.0005), Phase(HOUR, 10.0, 1.0), Phase(HOUR, 10.0, 0.0005)]


def _interval() -> int:
    """The period group's interval from the service spec: promtool must evaluate at it."""
    text = yaml.safe_load((SPECS / "service.yaml").read_text())["period_rules_interval"]
    units = {"s": 1, "m": 60, "h": 3600}
    return int(text[:-1]) * units[text[-1]]


def _ratio_series(target: Target, window: str = "30d") -> str:
    """The ratio over `window` recorded for the SLO, found in the rendered period file."""
    groups = yaml.safe_load((RENDERED / f"{target.provider_file}.period.rules.yml").read_text())
    records = {
        rule["record"]
        for group in groups["groups"]
        for rule in group["rules"]
        if rule["record"].endswith(f":slo_errors:ratio_rate{window}")
    }
    assert len(records) == 1, records
    return f'{records.pop()}{{slo="{target.slo}"}}'


def _exact(phases: list[Phase], step: int, since: float, until: int) -> float:
    """Bad over all events of the samples in (since, until], taken every `step` seconds."""
    bad = total = 0.0
    t = 0
    for phase in phases:
        for _ in range(phase.seconds // step):
            t += step
            if since < t <= until:
                total += phase.per_second * step
                bad += phase.per_second * step * phase.bad_share
    return bad / total


def _within(ratio: str, exact: float, at: int) -> dict:
    """A check that the ratio is within TOLERANCE of `exact` at `at`."""
    return {
        "expr": f"max(abs({ratio} - {exact!r}) / {exact!r} < bool {TOLERANCE})",
        "eval_time": f"{at}s",
        "exp_samples": [{"labels": "{}", "value": 1}],
    }


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool not installed")
@pytest.mark.parametrize("target", targets(), ids=lambda t: f"{t.provider_file}-{t.slo}")
def test_the_period_ratio_is_exact_through_an_incident(tmp_path: Path, target: Target) -> None:
    step = _interval()
    incident = PHASES[0].seconds
    end = sum(p.seconds for p in PHASES)
    ratio = _ratio_series(target)
    checks = [
        _within(ratio, _exact(PHASES, step, -math.inf, at), at)
        for at in range(incident, end + 1, step)
    ]
    _promtool(tmp_path, target, step, input_series(target, PHASES, step, Exposition()), checks)


def _promtool(tmp_path: Path, target: Target, sample: int, series: list, checks: list) -> None:
    """promtool runs the checks on the rendered period rules, evaluated at the period group's
    interval, with the input sampled every `sample` seconds."""
    document = {
        "rule_files": [str(RENDERED / f"{target.provider_file}.period.rules.yml")],
        "evaluation_interval": f"{_interval()}s",
        "tests": [{"interval": f"{sample}s", "input_series": series, "promql_expr_test": checks}],
    }
    path = tmp_path / "period.test.yml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    proc = subprocess.run(
        [shutil.which("promtool"), "test", "rules", str(path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


SCRAPE = 15
RESTART = [Phase(DAY, 10.0, 0.0005), Phase(HOUR, 10.0, 0.1), Phase(HOUR, 10.0, 0.0005)]
RESTART_AT = DAY + 30 * 60 + 4 * 60  # four minutes into a five-minute tile


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool not installed")
@pytest.mark.parametrize("target", targets(), ids=lambda t: f"{t.provider_file}-{t.slo}")
def test_a_restart_late_in_a_tile_loses_no_scraped_event(tmp_path: Path, target: Target) -> None:
    step = _interval()
    incident = RESTART[0].seconds
    end = sum(p.seconds for p in RESTART)
    checks = []
    windows = (("2h", 2 * HOUR), ("6h", 6 * HOUR), ("1d", DAY), ("3d", 3 * DAY), ("30d", 30 * DAY))
    for window, seconds in windows:
        ratio = _ratio_series(target, window)
        for at in range(incident, end + 1, step):
            checks.append(_within(ratio, _exact(RESTART, SCRAPE, at - seconds, at), at))
    series = input_series(target, RESTART, SCRAPE, Exposition(reset_at=RESTART_AT))
    _promtool(tmp_path, target, SCRAPE, series, checks)


BURST = 6 * HOUR
WATCHED = 3 * DAY + 7 * HOUR  # of steady traffic after the burst: every burn window leaves it
LEAVING = [
    Phase(BURST, 10.0, 0.1),
    Phase(WATCHED, 10.0, 0.0005),
    Phase(30 * DAY - BURST - WATCHED - HOUR - 5 * 60, 0.0, 0.0, scraped=False),
    Phase(5 * 60, 0.0, 0.0),  # a sample before the traffic, so its first tile counts
    Phase(8 * HOUR, 10.0, 0.0005),
]
WINDOWS = (("2h", 2 * HOUR), ("6h", 6 * HOUR), ("1d", DAY), ("3d", 3 * DAY))


def _one_of_each_sli() -> list[Target]:
    """An availability SLO and a latency SLO, of different providers where there are two:
    the sums are built alike for every SLO, and a month of evaluations takes promtool about
    20 s, so two runs cover both SLI shapes."""
    everything = targets()
    availability = next(t for t in everything if t.sli == "error_ratio")
    latency = [t for t in everything if t.sli == "latency"]
    other = [t for t in latency if t.provider_file != availability.provider_file]
    return [availability, (other or latency)[0]]


def _leaving(ratio: str, seconds: int, first: int, last: int, step: int) -> list[dict]:
    """Checks of the ratio over `seconds` at every evaluation in [first, last]; the input must
    show the burst leaving that window there."""
    times = range(first, last + 1, step)
    exact = [_exact(LEAVING, step, at - seconds, at) for at in times]
    assert exact[0] > 10 * exact[-1], f"the input must show the burst leaving {seconds}s"
    return [_within(ratio, value, at) for at, value in zip(times, exact, strict=True)]


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool not installed")
@pytest.mark.parametrize("target", _one_of_each_sli(), ids=lambda t: f"{t.provider_file}-{t.slo}")
def test_a_burst_leaves_every_window_and_the_period_exactly(tmp_path: Path, target: Target) -> None:
    step = _interval()
    period = 30 * DAY
    checks = []
    for window, seconds in WINDOWS:
        last = BURST + seconds + HOUR
        checks += _leaving(_ratio_series(target, window), seconds, seconds - step, last, step)
    end = sum(p.seconds for p in LEAVING)
    checks += _leaving(_ratio_series(target), period, period - step, end, step)
    _promtool(tmp_path, target, step, input_series(target, LEAVING, step, Exposition()), checks)
