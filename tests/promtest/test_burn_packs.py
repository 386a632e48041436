"""Burn alerts of an error-ratio SLO and a latency SLO share a generated test (half the steps
for promtool), and the shared traffic gives each SLI exactly the bad share it would see alone.

The shares are read back from the increments with the SLIs' definitions (failed requests over
all requests; requests over the latency threshold over all observed), not from the generator.
"""

from __future__ import annotations

from relayops.promtest.scenarios import Scenarios, burn_packs
from relayops.rules.alerts import alert_defs
from relayops.rules.measure import BudgetBurn
from relayops.spec import load_specs
from tests.specs_util import copy_specs, edit_yaml


def _burn_alerts(specs, provider: str):
    return [
        a for a in alert_defs(specs, specs.provider(provider)) if isinstance(a.measure, BudgetBurn)
    ]


def _packs(specs, provider: str) -> list[list[tuple[str, str]]]:
    return [
        [(a.slo.name, a.tier.name) for a in pack]
        for pack in burn_packs(_burn_alerts(specs, provider))
    ]


def test_each_tier_packs_the_availability_and_the_latency_slo(specs) -> None:
    assert _packs(specs, "gmail") == [
        [("availability", tier), ("latency", tier)]
        for tier in ("page_fast", "page_slow", "ticket_fast", "ticket_slow")
    ]


def test_two_error_ratio_slos_never_share_a_test(tmp_path) -> None:
    folder = copy_specs(tmp_path)

    def add_strict(data: dict) -> None:
        data["slos"].append(
            {
                "name": "strict",
                "description": "Sends that fail less.",
                "objective": 0.9995,
                "period": "30d",
                "sli": {"type": "error_ratio"},
            }
        )

    edit_yaml(folder / "gmail.yaml", add_strict)
    packs = _packs(load_specs(folder), "gmail")
    assert [("availability", "page_fast"), ("latency", "page_fast")] in packs
    assert [("strict", "page_fast")] in packs
    assert all(len({slo for slo, _ in pack}) == len(pack) for pack in packs)


def _shares(scenario) -> tuple[float, float]:
    """(failed share, share over the 2 s threshold) of the requests between the fault's start
    and its end, read from the input series by the two SLIs' definitions."""
    timeline = scenario.timeline
    start, end = (e.start // timeline.sample for e in scenario.expectations[1:])
    gained = {"requests": 0.0, "failed": 0.0, "observed": 0.0, "within 2s": 0.0}
    for series in timeline.input_series():
        labels = series.labels
        increase = (series.values[end] or 0.0) - (series.values[start] or 0.0)
        name = labels["__name__"]
        if name == "action_exec_total":
            gained["requests"] += increase
            gained["failed"] += increase if labels["status"] == "error" else 0.0
        elif name == "action_latency_seconds_count":
            gained["observed"] += increase
        elif name == "action_latency_seconds_bucket" and labels["le"] in ("2", "2.0"):
            gained["within 2s"] += increase
    observed = gained["observed"]
    return gained["failed"] / gained["requests"], (observed - gained["within 2s"]) / observed


def _fault(specs, label: str):
    make = Scenarios(specs, specs.provider("gmail"))
    ticket_fast = burn_packs(_burn_alerts(specs, "gmail"))[2]
    return [s for s in make.burns(ticket_fast) if s.detection and s.detection[0] == label]


def test_a_shared_full_outage_fails_every_request_slowly(specs) -> None:
    availability, latency = _fault(specs, "Full outage")
    assert availability.timeline is latency.timeline
    assert _shares(availability) == (1.0, 1.0)


def test_a_shared_10x_burn_gives_each_slo_ten_times_its_budget(specs) -> None:
    """Availability's budget is 0.1% and latency's 1% (objectives 99.9% and 99%)."""
    availability, latency = _fault(specs, "10× budget burn")
    assert availability.timeline is latency.timeline
    failed, slow = _shares(availability)
    assert abs(failed - 0.01) < 1e-12 and abs(slow - 0.10) < 1e-12
