"""Every recorded SLO series of every SLO of both providers has data on the real stack when
the adapters' own metrics reach Prometheus through the real Pushgateway.

This is the path production batch jobs and the drills take, and it once hid a defect: the
Pushgateway re-exposes a bucket pushed as `le="2.0"` as `le="2"`, so rules that selected
`le="2.0"` found no latency bucket, the latency SLO had no data and its burn alerts could never
fire. The rules here are the drill tree (time-scaled ×60, so the windows fill in seconds); the
metrics are the send adapters' registry, pushed as the adapters' process would push it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client import pushadd_to_gateway

from relayops.adapters.telemetry import adapter_metrics
from relayops.drill.world import DEFAULT_SCALE, PLACEHOLDER_WEBHOOK
from relayops.render import DRILL_MANAGED, render_time_scaled
from relayops.rules.output import write_tree
from relayops.rules.recording import slo_windows
from relayops.spec import SpecSet
from relayops.spec.metrics import Role
from relayops.spec.series import ProviderSeries
from relayops.spec.timescale import time_scaled
from relayops.stack import Stack, stack_down, stack_up
from tests.daemons import require_binary
from tests.specs_util import SPECS

PUSHES = 8


@pytest.fixture(scope="module")
def stack(specs: SpecSet, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    for name in ("prometheus", "prometheus-alertmanager", "prometheus-pushgateway"):
        require_binary(name, name)
    folder = tmp_path_factory.mktemp("slo-series")
    tree = folder / "tree"
    write_tree(
        tree,
        render_time_scaled(specs, SPECS, DEFAULT_SCALE, PLACEHOLDER_WEBHOOK),
        DRILL_MANAGED,
    )
    up = stack_up(SPECS, folder / "state", rendered=tree, redis=False)
    yield up
    stack_down(folder / "state")


def _push_sends(specs: SpecSet, stack: Stack) -> None:
    """Sends of 0.3 s (inside every latency threshold) and a few of 3 s, one batch a second,
    each provider's registry pushed with POST as its process would."""
    metrics = {spec.name: adapter_metrics(specs, spec) for spec in specs.providers}
    for push in range(PUSHES):
        for name, registry in metrics.items():
            for _ in range(20):
                registry.count(Role.REQUESTS, status="success")
                registry.observe(Role.LATENCY, 0.3, status="success")
            registry.count(Role.REQUESTS, status="error")
            registry.observe(Role.LATENCY, 3.0, status="error")
            pushadd_to_gateway(
                stack.pushgateway_url.removeprefix("http://"),
                job=f"send-{name}",
                registry=registry.registry,
            )
        if push < PUSHES - 1:
            time.sleep(1.0)


def _recorded_names(specs: SpecSet) -> list[tuple[str, str, str]]:
    """(provider, slo, series name) of every recorded SLO series, as the scaled rules name
    them."""
    scaled = time_scaled(specs, DEFAULT_SCALE)
    names = []
    for spec in scaled.providers:
        series = ProviderSeries(scaled.service, spec)
        for slo in spec.slos:
            windows = [*slo_windows(slo), slo.period]
            for seconds in windows:
                for name in (
                    series.slo_errors(seconds),
                    series.slo_requests(seconds),
                    series.slo_error_ratio(seconds),
                ):
                    names.append((spec.provider, slo.name, name))
            names.append((spec.provider, slo.name, series.slo_budget_remaining(slo)))
    return names


def test_every_recorded_slo_series_has_data_through_the_pushgateway(specs, stack):
    _push_sends(specs, stack)
    exposed = httpx.get(f"{stack.pushgateway_url}/metrics").text
    assert 'le="2"' in exposed and 'le="2.0"' not in exposed  # how the Pushgateway spells it
    wanted = _recorded_names(specs)
    latency_slos = {
        (p.provider, s.name) for p in specs.providers for s in p.slos if s.sli.type == "latency"
    }
    assert {(provider, slo) for provider, slo, _ in wanted} >= latency_slos

    def missing() -> list[str]:
        absent = []
        for provider, slo, name in wanted:
            query = f'{name}{{provider="{provider}",slo="{slo}"}}'
            answer = httpx.get(
                f"{stack.prometheus_url}/api/v1/query", params={"query": query}
            ).json()
            if not answer["data"]["result"]:
                absent.append(query)
        return absent

    deadline = time.monotonic() + 30
    while (absent := missing()) and time.monotonic() < deadline:
        time.sleep(1.0)
    assert absent == []


def test_the_latency_slo_counts_the_slow_sends(specs, stack):
    """Not just present: 1 send in 21 took 3 s, over every threshold, so the latency error
    ratio is about 1/21 (rate extrapolation aside), not 0 or 1. Read over the longest short
    window (6 minutes at this scale): the sends are pushed once, and a 5-second window is empty
    (0/0) by the time a loaded machine gets here."""
    scaled = time_scaled(specs, DEFAULT_SCALE)
    for spec in scaled.providers:
        series = ProviderSeries(scaled.service, spec)
        for slo in (s for s in spec.slos if s.sli.type == "latency"):
            window = max(t.short_window for t in slo.tiers)
            query = (
                f'{series.slo_error_ratio(window)}{{provider="{spec.provider}",slo="{slo.name}"}}'
            )
            answer = httpx.get(
                f"{stack.prometheus_url}/api/v1/query", params={"query": query}
            ).json()
            [sample] = answer["data"]["result"]
            assert 0.02 < float(sample["value"][1]) < 0.1, (query, sample)


def test_the_drill_tree_is_the_one_rendered_here(tmp_path: Path, specs: SpecSet) -> None:
    """The bucket matcher accepts both spellings in the scaled rules the stack loaded."""
    files = render_time_scaled(specs, SPECS, DEFAULT_SCALE, PLACEHOLDER_WEBHOOK)
    rules = "".join(text for path, text in files.items() if path.startswith("prometheus/"))
    assert 'le=~"2|2\\\\.0"' in rules and 'le="2.0"' not in rules
