"""The synthetic driver: scenario catalog, cumulative series, pushes and the CLI.

Unit tests run minutes of scenario in milliseconds with a fake clock and httpx.MockTransport;
one test pushes to a real Pushgateway on loopback and reads its /metrics back.
"""

from __future__ import annotations

import itertools
import math
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from relayops.cli import main
from relayops.rules.alerts import alert_defs
from relayops.spec import SpecSet
from relayops.spec.metrics import MetricDef, Role
from relayops.synth.driver import Driver
from relayops.synth.scenarios import SIGNAL_FAULTS, scenarios
from tests.daemons import free_port, require_binary
from tests.specs_util import SPECS

REQUIRED = (
    "healthy",
    "error-rate-warn",
    "error-rate-crit",
    "latency-crit",
    "fast-burn-outage",
    "slow-burn",
    "low-traffic-noise",
    "metrics-missing",
    "controller-stalled",
    "validation-spike",
    "build-slow",
    "sanitization-spike",
    "oauth-refresh-failures",
    "upload-failures",
)

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


@pytest.fixture(scope="module")
def catalog(specs: SpecSet):
    return scenarios(specs)


class FakeClock:
    def __init__(self, start: float = 1_700_000_000.0):
        self.now = start

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class Gateway:
    """Records every request a driver sends; answers 200."""

    requests: list[tuple[str, str, bytes]] = field(default_factory=list)

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.requests.append((request.method, request.url.path, request.content))
        return httpx.Response(200)

    def client(self) -> httpx.Client:
        return httpx.Client(transport=httpx.MockTransport(self.handler))

    def puts(self, path: str) -> list[Samples]:
        return [parse(body) for method, p, body in self.requests if method == "PUT" and p == path]


def parse(text: bytes | str) -> Samples:
    body = text.decode() if isinstance(text, bytes) else text
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(body)
        for s in family.samples
    }


def drive(specs, catalog, scenario: str, provider: str, seconds: float, rate: float, tick=1.0):
    gateway, clock = Gateway(), FakeClock()
    driver = Driver(
        specs,
        specs.provider(provider),
        "http://pushgateway:9091",
        client=gateway.client(),
        clock=clock,
    )
    summary = driver.run(catalog[scenario], seconds, rate, tick_s=tick, sleep=clock.sleep)
    return driver, gateway, summary


def assert_monotonic(pushes: list[Samples]) -> None:
    """No counter, bucket, count or sum ever decreases; no series disappears."""
    for before, after in itertools.pairwise(pushes):
        for series, value in before.items():
            if series[0].endswith(("_total", "_bucket", "_count", "_sum")):
                assert after[series] >= value, series


def assert_histograms_complete(samples: Samples, specs: SpecSet) -> None:
    for metric in specs.service.metrics.values():
        if metric.type != "histogram":
            continue
        counts = {k[1]: v for k, v in samples.items() if k[0] == metric.series("_count")}
        for labels, count in counts.items():
            buckets = sorted(
                (float(dict(k[1])["le"]), v)
                for k, v in samples.items()
                if k[0] == metric.series("_bucket")
                and tuple(p for p in k[1] if p[0] != "le") == labels
            )
            bounds = [b for b, _ in buckets]
            assert bounds == [*metric.buckets, math.inf]
            values = [v for _, v in buckets]
            assert values == sorted(values)
            assert values[-1] == count
            assert (metric.series("_sum"), labels) in samples


def catalog_index(specs: SpecSet) -> dict[str, tuple[MetricDef, str]]:
    out = {}
    for metric in specs.service.metrics.values():
        suffixes = ("_bucket", "_count", "_sum") if metric.type == "histogram" else ("",)
        for suffix in suffixes:
            out[metric.series(suffix)] = (metric, suffix)
    return out


# scenario catalog -------------------------------------------------------------------------------


def test_catalog_has_every_required_scenario(catalog) -> None:
    assert set(REQUIRED) <= set(catalog)


def test_signal_scenarios_follow_the_specs(specs, catalog) -> None:
    assert catalog["upload-failures"].providers == ("outlook",)
    for name in set(REQUIRED) - {"upload-failures"}:
        assert catalog[name].providers == ("gmail", "outlook"), name
    # Take Gmail's OAuth signal away: the scenario then applies to Outlook only.
    gmail, outlook = specs.provider("gmail"), specs.provider("outlook")
    oauth = SIGNAL_FAULTS["oauth-refresh-failures"]
    narrowed = SpecSet(
        specs.service,
        (
            gmail.model_copy(
                update={"signals": tuple(s for s in gmail.signals if s.metric != oauth)}
            ),
            outlook,
        ),
    )
    assert scenarios(narrowed)["oauth-refresh-failures"].providers == ("outlook",)


def test_expected_alerts_partition_every_alert(specs, catalog) -> None:
    for scenario in catalog.values():
        for provider, plan in scenario.plans.items():
            refs = {a.ref for a in alert_defs(specs, specs.provider(provider))}
            assert set(plan.fires) | set(plan.silent) == refs
            assert not set(plan.fires) & set(plan.silent)


def _refs(specs, provider: str, kind: str, **where) -> set[str]:
    return {
        a.ref
        for a in alert_defs(specs, specs.provider(provider))
        if a.kind == kind and all(getattr(a, k) == v for k, v in where.items())
    }


@pytest.mark.parametrize("provider", ["gmail", "outlook"])
def test_expected_alerts_per_scenario(specs, catalog, provider) -> None:
    def fires(name: str) -> set[str]:
        return set(catalog[name].plans[provider].fires)

    assert fires("healthy") == set()
    assert fires("low-traffic-noise") == set()
    assert _refs(specs, provider, "error_ratio") <= fires("error-rate-crit")
    assert _refs(specs, provider, "error_ratio", severity="critical").isdisjoint(
        fires("error-rate-warn")
    )
    assert _refs(specs, provider, "error_ratio", severity="warning") <= fires("error-rate-warn")
    assert _refs(specs, provider, "latency", severity="critical") <= fires("latency-crit")
    assert fires("metrics-missing") == _refs(specs, provider, "missing")
    assert fires("controller-stalled") == _refs(specs, provider, "stalled")
    assert fires("validation-spike") == _refs(specs, provider, "validation")
    assert fires("build-slow") == _refs(specs, provider, "signal_quantile_above")
    assert fires("sanitization-spike") == _refs(specs, provider, "signal_per_request_above")
    burns = [a for a in alert_defs(specs, specs.provider(provider)) if a.kind == "burn"]
    availability = [a for a in burns if a.slo.sli.type == "error_ratio"]
    fastest = max(availability, key=lambda a: a.level)
    slowest = min(availability, key=lambda a: a.level)
    assert fastest.ref in fires("fast-burn-outage")
    assert fires("slow-burn") == {slowest.ref}


# the driver against a fake gateway --------------------------------------------------------------


def test_counters_grow_and_histograms_are_complete(specs, catalog) -> None:
    driver, gateway, summary = drive(specs, catalog, "error-rate-crit", "outlook", 60, 20)
    pushes = gateway.puts(driver.group_path)
    assert len(pushes) == 61 and summary.ticks == 60
    assert_monotonic(pushes)
    for samples in (pushes[1], pushes[-1]):
        assert_histograms_complete(samples, specs)
    requests = specs.metric(Role.REQUESTS).name
    first, last = pushes[0], pushes[-1]
    grown = [k for k in last if k[0] == requests and last[k] > first[k]]
    assert {dict(k[1])["status"] for k in grown} >= {"success", "error"}
    total = sum(v for k, v in last.items() if k[0] == requests)
    assert total == pytest.approx(60 * 20, abs=3)


def test_every_pushed_series_is_in_the_catalog(specs, catalog) -> None:
    index = catalog_index(specs)
    for name in ("error-rate-crit", "build-slow", "upload-failures", "oauth-refresh-failures"):
        _, gateway, _ = drive(specs, catalog, name, "outlook", 30, 10)
        for method, _, body in gateway.requests:
            assert method == "PUT"
            for sample_name, labels in parse(body):
                metric, suffix = index[sample_name]
                names = dict(labels)
                if suffix == "_bucket":
                    assert names.pop("le")
                assert set(names) == set(metric.labels)
                for label, value in names.items():
                    if label in metric.values:
                        assert value in metric.values[label]


def test_grouping_key_is_stable_and_only_its_own(specs, catalog) -> None:
    paths = set()
    for name in ("healthy", "error-rate-crit", "latency-crit"):
        driver, gateway, _ = drive(specs, catalog, name, "gmail", 20, 5)
        paths |= {path for _, path, _ in gateway.requests}
        own = {driver.group_path, driver.controller_path}
        assert {path for _, path, _ in gateway.requests} == own
    assert paths == {
        "/metrics/job/relay-synth/provider/google",
        "/metrics/job/relay-synth/provider/google/component/controller",
    }


def test_metrics_missing_ends_with_one_delete_of_its_own_group(specs, catalog) -> None:
    driver, gateway, summary = drive(specs, catalog, "metrics-missing", "gmail", 100, 5)
    deletes = [
        (i, path) for i, (method, path, _) in enumerate(gateway.requests) if method == "DELETE"
    ]
    assert [path for _, path in deletes] == [driver.group_path]
    assert summary.deletes == 1
    after = gateway.requests[deletes[0][0] + 1 :]
    assert all(path != driver.group_path for _, path, _ in after)
    assert len(gateway.puts(driver.group_path)) == 1 + 30  # the first 30% of 100 one-second ticks


def test_controller_heartbeat_runs_and_stalls(specs, catalog) -> None:
    last_success = specs.metric(Role.CONTROLLER_LAST_SUCCESS).name
    driver, gateway, _ = drive(specs, catalog, "healthy", "outlook", 600, 1, tick=10)
    beats = gateway.puts(driver.controller_path)
    assert len(beats) == 11  # at start, then every 60 s
    stamps = [v for b in beats for (name, _), v in b.items() if name == last_success]
    assert stamps == sorted(stamps) and stamps[-1] - stamps[0] == pytest.approx(600)
    driver, gateway, _ = drive(specs, catalog, "controller-stalled", "outlook", 600, 1, tick=10)
    assert len(gateway.puts(driver.controller_path)) == 1
    assert len(gateway.puts(driver.group_path)) == 61


def test_low_traffic_noise_sends_three_whole_requests_an_hour(specs, catalog) -> None:
    driver, gateway, _ = drive(specs, catalog, "low-traffic-noise", "gmail", 3600, 50, tick=10)
    requests = specs.metric(Role.REQUESTS).name
    pushes = gateway.puts(driver.group_path)
    for samples in pushes:
        assert all(v == int(v) for (name, _), v in samples.items() if not name.endswith("_sum"))
    last = {dict(k[1])["status"]: v for k, v in pushes[-1].items() if k[0] == requests}
    assert sum(last.values()) == 3
    assert last["error"] == 1


def test_driver_refuses_a_scenario_of_another_provider(specs, catalog) -> None:
    driver = Driver(specs, specs.provider("gmail"), "http://pg", client=Gateway().client())
    with pytest.raises(ValueError, match="applies to: outlook"):
        driver.run(catalog["upload-failures"], 10, 1, sleep=lambda _: None)


# CLI --------------------------------------------------------------------------------------------


def run_cli(*argv: str) -> int:
    return main(["synth", *argv, "--specs", str(SPECS)])


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("run", "nope", "--provider", "gmail", "--duration", "5m"), "choose one of: healthy"),
        (("run", "healthy", "--provider", "yahoo", "--duration", "5m"), "gmail, outlook"),
        (
            ("run", "upload-failures", "--provider", "gmail", "--duration", "5m"),
            "does not apply to gmail; it applies to: outlook",
        ),
        (("run", "healthy", "--provider", "gmail", "--duration", "5m"), "PUSHGATEWAY_URL"),
    ],
)
def test_cli_refuses_bad_requests(argv, message, capsys, monkeypatch) -> None:
    monkeypatch.delenv("PUSHGATEWAY_URL", raising=False)
    assert run_cli(*argv) == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("value", ["5x", "-1s", "0s", ""])
def test_cli_refuses_bad_durations(value, capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        run_cli("run", "healthy", "--provider", "gmail", "--duration", value)
    assert exit_info.value.code == 2
    assert "--duration" in capsys.readouterr().err


def test_cli_names_an_unreachable_pushgateway(capsys) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    argv = ("run", "healthy", "--provider", "gmail", "--duration", "1s", "--pushgateway", url)
    assert run_cli(*argv) == 2
    assert f"cannot reach the Pushgateway at {url}/" in capsys.readouterr().err


def test_cli_lists_scenarios_with_providers_and_alerts(capsys) -> None:
    assert run_cli("list") == 0
    out = capsys.readouterr().out
    assert "upload-failures" in out and "OutlookUploadSessionsFailing/warning" in out
    assert "  gmail: fires nothing" in out


# a real Pushgateway -----------------------------------------------------------------------------


@contextmanager
def pushgateway(tmp_path: Path) -> Iterator[str]:
    binary = require_binary("prometheus-pushgateway", "prometheus-pushgateway")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with (tmp_path / "pushgateway.log").open("wb") as log:
        process = subprocess.Popen(
            [binary, f"--web.listen-address=127.0.0.1:{port}", "--persistence.file="],
            cwd=tmp_path,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 10
        while True:
            assert process.poll() is None, (tmp_path / "pushgateway.log").read_text()
            try:
                if httpx.get(f"{base}/-/ready", timeout=0.5).status_code == 200:
                    break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "Pushgateway not ready after 10 s"
            time.sleep(0.05)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=5)


def test_real_pushgateway_keeps_other_groups_and_sees_counters_grow(specs, catalog, tmp_path):
    scrapes: list[Samples] = []
    with pushgateway(tmp_path) as base:

        def sleep_then_scrape(seconds: float) -> None:
            time.sleep(seconds)
            scrapes.append(parse(httpx.get(f"{base}/metrics").text))

        other = "# TYPE other_job_runs_total counter\nother_job_runs_total 7\n"
        assert httpx.put(f"{base}/metrics/job/other-batch", content=other).is_success
        driver = Driver(specs, specs.provider("outlook"), base)
        driver.run(catalog["error-rate-crit"], 1.6, 50, tick_s=0.2, sleep=sleep_then_scrape)
        scrapes.append(parse(httpx.get(f"{base}/metrics").text))
    assert len(scrapes) >= 4  # fewer ticks when the machine is busy: each scrape takes time
    assert_monotonic(scrapes)
    requests = specs.metric(Role.REQUESTS).name
    first, last = scrapes[0], scrapes[-1]
    mine = [k for k in last if k[0] == requests]
    assert mine and all(dict(k[1])["job"] == "relay-synth" for k in mine)
    for status in ("success", "error"):
        (series,) = (k for k in mine if dict(k[1])["status"] == status)
        assert last[series] > first[series], status
    assert sum(last[k] for k in mine) == pytest.approx(1.6 * 50, abs=3)
    for samples in scrapes:
        assert ("other_job_runs_total", (("instance", ""), ("job", "other-batch"))) in samples
    unpushed = {
        (name, tuple(p for p in labels if p[0] not in ("instance", "job"))): v
        for (name, labels), v in last.items()
    }
    assert_histograms_complete(unpushed, specs)
