"""Full drills on the real binaries, through `relayops drill run`: a fast burn fires, routes,
inhibits and resolves on time, and metrics going missing pages, side by side on two stacks.

The rules are time-scaled ×60, so the page_fast tier (1h/5m, for 2m) becomes 1m/5s, for 2s.
`--max-seconds 40` keeps the drill short: the ticket tiers, which take a minute or more at
this scale, are named as not judged; the page tiers and the error-ratio alerts are judged.
"""

from __future__ import annotations

import re

import pytest

from relayops.cli import main
from tests.daemons import require_binary
from tests.specs_util import SPECS

PAGER = "relay-critical-pagerduty"
FAST = "GmailAvailabilityBudgetBurn/page_fast"
SLOW = "GmailAvailabilityBudgetBurn/page_slow"
CRIT = "GmailErrorRatioHigh/critical"
WARN = "GmailErrorRatioHigh/warning"
MISSING = "GmailMetricsMissing/critical"


@pytest.fixture
def binaries():
    for binary, package in (
        ("prometheus", "prometheus"),
        ("prometheus-alertmanager", "prometheus-alertmanager"),
        ("prometheus-pushgateway", "prometheus-pushgateway"),
    ):
        require_binary(binary, package)


def test_two_drills_fire_route_inhibit_and_resolve_in_time(
    binaries, tmp_path, capsys, http_clients_made
):
    reports = tmp_path / "reports"
    argv = ["drill", "run", "fast-burn-outage", "metrics-missing", "--provider", "gmail"]
    code = main([*argv, "--max-seconds", "40", "--report-dir", str(reports), "--specs", str(SPECS)])
    out = capsys.readouterr().out
    assert code == 0, out
    # one client per drill (driver, polls and read-back) and per report, one shared by the
    # readiness probes: never one per poll
    assert len(http_clients_made) <= 2 + 2 + 1
    assert "2 passed, 0 failed" in out
    # the page tiers and the error-ratio pair fired, each within two evaluation intervals
    for ref in (FAST, SLOW, WARN, CRIT, MISSING):
        assert re.search(rf"ok  {re.escape(ref)} fires in time: measured [\d.]+s", out), ref
        assert f"ok  {ref} resolves" in out
    # judged against the measured age of the data the burn alert read; metrics-missing, on
    # absent data, against the mean delay
    aged = rf"{re.escape(FAST)} fires in time: .*the data (-?[\d.]+)s old when it went pending"
    age = float(re.search(aged, out).group(1))
    assert 0.0 <= age < 5.0
    assert re.search(rf"{re.escape(MISSING)} fires in time: .*mean pipeline delay", out)
    assert f"ok  {FAST} reaches {PAGER} or is inhibited: notified" in out
    assert f"ok  {CRIT} reaches {PAGER} or is inhibited: notified" in out
    assert "--- GmailAvailabilityBudgetBurn/ticket_fast: too slow" in out

    burn = (reports / "fast-burn-outage-gmail.md").read_text()
    assert "## Tabletop score: 6/6" in burn
    # page_slow is held while page_fast fires (and pages once page_fast resolves); the
    # warning is held by the critical (it may notify first if it fires a moment earlier)
    held = [line for line in burn.splitlines() if "(suppressed at" in line]
    assert any(f"`{SLOW}`" in line for line in held) and any(f"`{WARN}`" in line for line in held)
    assert (reports / "fast-burn-outage-gmail-burn-availability.png").stat().st_size > 10_000
    summary = (reports / "drill-summary.md").read_text()
    assert "2 of 2 drills passed" in summary
    rows = [line for line in summary.splitlines() if line.startswith("| fast-burn-outage/gmail |")]
    detections = [line for line in rows if re.search(r"s \(±\d+s\) \|", line)]
    assert len(detections) == 4 and all(line.endswith("| ok |") for line in detections), rows
    # page_slow reads a 6h window of the period group, evaluated every 5 s at ×60: its wait
    # may stray 2 s further either way than a 1 s hop's
    assert [line for line in detections if "(±4s)" in line] == [
        line for line in detections if f"`{SLOW}`" in line
    ], rows
