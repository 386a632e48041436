"""One full drill on the real binaries: a fast burn fires, routes, inhibits and resolves.

The rules are time-scaled ×60, so the page_fast tier (1h/5m, for 2m) becomes 1m/5s, for 2s;
the synthetic driver pushes a fast-burn outage (14.4% failed requests between healthy spells)
to the Pushgateway of a local stack and the test watches Prometheus, Alertmanager and the sink.
"""

from __future__ import annotations

import threading
import time

import pytest

from relayops.drill.observe import alertmanager_alerts, poll, prometheus_alerts
from relayops.spec import load_specs
from relayops.stack import read_notifications, running_stack
from rules_gen.output import write_tree
from rules_gen.render import DRILL_MANAGED, render_time_scaled
from synth.driver import Driver
from synth.scenarios import scenarios
from tests.daemons import require_binary
from tests.specs_util import SPECS

SCALE = 60
RATE = 20.0  # requests/s: the 1m page_fast window holds far more than its 100-request guard
DURATION = 100.0  # 25 s healthy, 50 s outage, 25 s healthy
ALERT = "GmailAvailabilityBudgetBurn"


PAGES = {"page_fast", "page_slow"}


def burn_tiers(alerts: list[dict[str, str]]) -> set[str]:
    return {a["burn_tier"] for a in alerts if a.get("alertname") == ALERT}


def notified(sink_log, status: str, tier: str) -> list[dict]:
    return [
        n
        for n in read_notifications(sink_log)
        if n["status"] == status
        and any(
            a["labels"].get("alertname") == ALERT
            and a["labels"].get("burn_tier") == tier
            and a["status"] == status
            for a in n["alerts"]
        )
    ]


@pytest.fixture
def drill_tree(tmp_path):
    for binary, package in (
        ("prometheus", "prometheus"),
        ("prometheus-alertmanager", "prometheus-alertmanager"),
        ("prometheus-pushgateway", "prometheus-pushgateway"),
        ("redis-server", "redis-server"),
    ):
        require_binary(binary, package)
    tree = tmp_path / "drill-tree"
    files = render_time_scaled(load_specs(SPECS), SPECS, SCALE, "http://127.0.0.1:9/unused")
    write_tree(tree, files, DRILL_MANAGED)
    return tree


def test_fast_burn_drill_fires_routes_inhibits_and_resolves(drill_tree, tmp_path):
    specs = load_specs(SPECS)
    scenario = scenarios(specs)["fast-burn-outage"]
    with running_stack(SPECS, tmp_path, rendered=drill_tree) as stack:
        driver = Driver(specs, specs.provider("gmail"), stack.pushgateway_url)
        started = time.monotonic()
        run = threading.Thread(
            target=driver.run, args=(scenario, DURATION, RATE), kwargs={"tick_s": 0.5}
        )
        run.start()
        try:

            def firing():
                return prometheus_alerts(stack.prometheus_url)

            fired = poll(
                firing,
                lambda a: burn_tiers(a) >= PAGES,
                timeout=DURATION * 0.75,
            )
            detected = time.monotonic() - started
            assert burn_tiers(fired) >= PAGES, fired
            # the outage starts at 25 s; page_slow (6m/30s, for 15s) fires ~30 s into it
            assert 25 < detected < 75

            paged = poll(lambda: notified(stack.sink_log, "firing", "page_fast"), bool, 15)
            assert paged and all(n["receiver"] == "relay-critical-pagerduty" for n in paged)

            held = poll(
                lambda: alertmanager_alerts(stack.alertmanager_url),
                lambda alerts: any(
                    a.labels.get("burn_tier") == "page_slow" and a.inhibited_by for a in alerts
                ),
                15,
            )
            slow = [
                a
                for a in held
                if a.labels.get("alertname") == ALERT and a.labels.get("burn_tier") == "page_slow"
            ]
            assert slow and all(a.state == "suppressed" and a.inhibited_by for a in slow)
            assert not notified(stack.sink_log, "firing", "page_slow")
        finally:
            run.join()

        # the page tiers resolve within their short windows (5 s and 30 s at this scale); the
        # ticket tiers, whose short windows are 2 and 6 minutes here, are left to run out
        quiet = poll(
            lambda: prometheus_alerts(stack.prometheus_url),
            lambda a: not burn_tiers(a) & PAGES,
            timeout=45,
        )
        assert not burn_tiers(quiet) & PAGES, quiet
        resolved = poll(lambda: notified(stack.sink_log, "resolved", "page_fast"), bool, 20)
        assert resolved and resolved[0]["receiver"] == "relay-critical-pagerduty"
