"""The observation report: each readiness point on a fake Prometheus, the verdict, the files
written, the exit codes, and one run against a real local stack."""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from relayops.cli import build_parser, main
from relayops.drill.observe import ObserveError
from relayops.report import Observation, Point, observe, offline, write_report
from relayops.report import observation as observation_module
from relayops.report.render import REPORT_NAME
from relayops.spec import SpecSet
from relayops.spec.metrics import Role
from relayops.spec.series import ProviderSeries
from relayops.stack import running_stack
from relayops.stack.daemons import free_port
from relayops.synth.driver import Driver
from relayops.synth.scenarios import scenarios
from tests.daemons import require_binary
from tests.specs_util import REPO, SPECS

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
PROM_URL = "http://prometheus.test:9090"
NOW = 1_800_000_000.0
HOUR = 3600

Answer = list[tuple[dict[str, str], float]]


def names(specs: SpecSet, provider: str = "gmail") -> ProviderSeries:
    return ProviderSeries(specs.service, specs.provider(provider))


def providers(specs: SpecSet, value: float) -> Answer:
    return [({"provider": spec.provider}, value) for spec in specs.providers]


def healthy(specs: SpecSet) -> dict[tuple[str, ...], Answer]:
    """Answers by substrings the query must hold (first match wins): every point passes."""
    n = names(specs)
    runs = specs.metric(Role.CONTROLLER_RUNS).name
    slo = specs.provider("gmail").slos[0]
    return {
        (runs, 'status="success"'): providers(specs, 100.0),
        (runs,): providers(specs, 100.0),
        ('component="slo"',): [],
        ('ALERTS{alertstate="firing",severity="critical"}',): [],
        ("quantile_over_time", n.outcome_ratio("error")): [({}, 0.002)],
        ("quantile_over_time", n.latency_quantile("p95", by_status=False)): [({}, 0.2)],
        **{
            ("quantile_over_time", names(specs, spec.name).signal_quantile(signal, "p95")): [
                ({}, 0.05)
            ]
            for spec in specs.providers
            for signal in spec.signals
            if signal.alert is not None and signal.alert.kind == "quantile_above"
        },
        ("min_over_time", n.slo_budget_remaining(slo)): [({}, 0.8)],
        ("max by (code)", n.structured_error_rate): [({"code": "throttled"}, 0.3)],
        (n.outcome_ratio("error"),): [({}, 0.002)],
        (n.latency_quantile("p95", by_status=False),): [({}, 0.2)],
        (n.slo_budget_remaining(slo),): [({}, 0.8)],
    }


def fake_prometheus(answers: dict[tuple[str, ...], Answer]) -> httpx.Client:
    """A Prometheus answering instant and range queries from `answers`; others are empty."""

    def handle(request: httpx.Request) -> httpx.Response:
        query = request.url.params["query"]
        answer = next((a for keys, a in answers.items() if all(k in query for k in keys)), [])
        ranged = request.url.path.endswith("query_range")
        result = [
            {"metric": labels, "values": [[NOW - 60, str(v)], [NOW, str(v)]]}
            if ranged
            else {"metric": labels, "value": [NOW, str(v)]}
            for labels, v in answer
        ]
        data = {"resultType": "matrix" if ranged else "vector", "result": result}
        return httpx.Response(200, json={"status": "success", "data": data})

    return httpx.Client(transport=httpx.MockTransport(handle))


OFFLINE_PASS = [
    Point("runbooks complete", True, "ok", "-"),
    Point("last drill", True, "6/6", "≥ 5/6"),
    Point("routing verified", True, "ok", "-"),
    Point("dashboards valid", True, "ok", "-"),
]


@pytest.fixture
def offline_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(observation_module, "offline_points", lambda specs, drills: OFFLINE_PASS)


def run(specs: SpecSet, answers: dict[tuple[str, ...], Answer]) -> dict[str, Point]:
    with fake_prometheus(answers) as client:
        obs = observe(specs, PROM_URL, HOUR, NOW, Path("unused"), client=client)
    return {p.name: p for p in obs.points}


# the six live points -----------------------------------------------------------------------------
def test_healthy_data_passes_every_point(specs, offline_pass) -> None:
    with fake_prometheus(healthy(specs)) as client:
        obs = observe(specs, PROM_URL, HOUR, NOW, Path("unused"), client=client)
    assert [p.passed for p in obs.points] == [True] * 10, obs.points
    assert (obs.score, obs.static_passed, obs.go, obs.critical_firing) == (6, True, True, ())
    assert "gmail 0.20%" in obs.points[1].measured


def test_controller_success_needs_more_than_95_percent(specs, offline_pass) -> None:
    runs = specs.metric(Role.CONTROLLER_RUNS).name
    answers = healthy(specs)
    answers[(runs, 'status="success"')] = providers(specs, 95.0)
    point = run(specs, answers)["controller run success"]
    assert point.passed is False and "95.00%" in point.measured
    answers[(runs, 'status="success"')] = providers(specs, 96.0)
    assert run(specs, answers)["controller run success"].passed is True


def test_no_controller_runs_fails_as_no_data(specs, offline_pass) -> None:
    runs = specs.metric(Role.CONTROLLER_RUNS).name
    answers = healthy(specs)
    answers[(runs, 'status="success"')] = answers[(runs,)] = []
    point = run(specs, answers)["controller run success"]
    assert point.passed is None and "no controller runs recorded" in point.measured


@pytest.mark.parametrize(
    ("point", "series", "bad", "good"),
    [
        ("error ratio p95", lambda n: n.outcome_ratio("error"), 0.01, 0.0099),
        ("latency p95", lambda n: n.latency_quantile("p95", by_status=False), 0.5, 0.49),
    ],
)
def test_quantile_points_fail_at_their_threshold(specs, offline_pass, point, series, bad, good):
    answers = healthy(specs)
    key = ("quantile_over_time", series(names(specs)))
    answers[key] = [({}, bad)]
    assert run(specs, answers)[point].passed is False
    answers[key] = [({}, good)]
    assert run(specs, answers)[point].passed is True
    for empty in ([], [({}, float("nan"))]):  # no series, or a ratio of no traffic
        answers[key] = empty
        got = run(specs, answers)[point]
        assert got.passed is None and got.measured == "gmail no data; outlook no data"


def test_build_time_p95_below_500ms(specs, offline_pass) -> None:
    build = next(s for s in specs.provider("gmail").signals if s.name == "mime_build")
    answers = healthy(specs)
    key = ("quantile_over_time", names(specs).signal_quantile(build, "p95"))
    answers[key] = [({}, 0.6)]
    point = run(specs, answers)["build time p95"]
    assert point.passed is False and "gmail mime_build 600 ms" in point.measured
    answers[key] = []
    assert run(specs, answers)["build time p95"].passed is None


def test_a_page_burn_or_a_spent_budget_is_a_sustained_violation(specs, offline_pass) -> None:
    slo = specs.provider("gmail").slos[0]
    answers = healthy(specs)
    page = {"alertname": "GmailAvailabilityBudgetBurn", "burn_tier": "page_fast"}
    answers[('component="slo"',)] = [(page, 1.0)]
    point = run(specs, answers)["no sustained SLO violation"]
    assert point.passed is False and "GmailAvailabilityBudgetBurn/page_fast" in point.measured
    answers = healthy(specs)
    answers[("min_over_time", names(specs).slo_budget_remaining(slo))] = [({}, -0.1)]
    assert run(specs, answers)["no sustained SLO violation"].passed is False
    answers[("min_over_time", names(specs).slo_budget_remaining(slo))] = []
    point = run(specs, answers)["no sustained SLO violation"]
    assert point.passed is None and "budget no data" in point.measured


def test_error_codes_outside_the_taxonomy_fail(specs, offline_pass) -> None:
    answers = healthy(specs)
    key = ("max by (code)", names(specs).structured_error_rate)
    answers[key] = [({"code": "throttled"}, 0.1), ({"code": "kaboom"}, 0.2)]
    point = run(specs, answers)["no unexpected error codes"]
    assert point.passed is False and point.measured.startswith("unexpected: kaboom (gmail ")
    answers[key] = [({"code": "kaboom"}, 0.0)]
    assert run(specs, answers)["no unexpected error codes"].passed is True
    answers[key] = []
    assert run(specs, answers)["no unexpected error codes"].passed is None


# the offline points ------------------------------------------------------------------------------
def test_offline_points_pass_on_the_shipped_specs(specs, tmp_path) -> None:
    require_binary("amtool", "prometheus-alertmanager")
    require_binary("promtool", "prometheus")
    (tmp_path / "fast-burn-outage-gmail.md").write_text("# Drill\n\n## Tabletop score: 5/6\n")
    points = offline.offline_points(specs, tmp_path)
    assert [p.passed for p in points] == [True] * 4, points


def test_last_drill_is_the_newest_scored_report(tmp_path) -> None:
    assert offline.last_drill(tmp_path / "missing").passed is None
    old, new = tmp_path / "a.md", tmp_path / "b.md"
    old.write_text("## Tabletop score: 6/6\n")
    new.write_text("## Tabletop score: 4/6\n")
    os.utime(old, (1, 1))
    point = offline.last_drill(tmp_path)
    assert point.passed is False and point.measured == "4/6 (b.md)"


def test_broken_runbooks_dashboards_and_routes_fail(specs, monkeypatch) -> None:
    require_binary("amtool", "prometheus-alertmanager")
    require_binary("promtool", "prometheus")
    rendered = offline.render_runbooks(specs)
    monkeypatch.setattr(
        offline,
        "render_runbooks",
        lambda s: {k: v for k, v in rendered.items() if "Gmail" not in k},
    )
    assert offline.runbooks_complete(specs).passed is False
    boards = offline.render_dashboards(specs)
    monkeypatch.setattr(offline, "render_dashboards", lambda s: dict(list(boards.items())[1:]))
    assert offline.dashboards_valid(specs).passed is False
    routes = offline.expected_routes(specs)
    monkeypatch.setattr(offline, "expected_routes", lambda s: [(routes[0][0], "nobody")])
    point = offline.routing_verified(specs)
    assert point.passed is False and "not nobody" in point.measured


# verdict and files -------------------------------------------------------------------------------
def observation(
    live_passed: int,
    critical: tuple[str, ...] = (),
    *,
    static_passed: int = 4,
    pending: tuple[str, ...] = (),
) -> Observation:
    live = tuple(Point(f"live{i}", i < live_passed, "x", "y") for i in range(6))
    static = tuple(Point(f"static{i}", i < static_passed, "x", "y") for i in range(4))
    return Observation(HOUR, NOW - HOUR, NOW, live, static, critical, pending)


def test_go_needs_five_live_points_every_static_check_and_no_critical_alert() -> None:
    assert observation(5).go and observation(6).go
    assert not observation(4).go
    # a static check cannot make up for live failures, nor live passes for a static failure
    assert not observation(6, static_passed=3).go
    assert not observation(6, ("GmailErrorRatioHigh/google",)).go
    assert not observation(6, pending=("GmailErrorRatioHigh/google",)).go
    no_data = Observation(HOUR, NOW - HOUR, NOW, (Point("p", None, "no data", "y"),) * 6, (), ())
    assert no_data.score == 0 and not no_data.go


def test_a_pending_critical_during_a_ten_percent_failure_is_no_go(specs, offline_pass) -> None:
    """10% of sends failing: the error-ratio point fails and the critical error-ratio alert is
    pending, not yet firing. The old verdict counted 9 of 10 points and said GO."""
    answers = healthy(specs)
    n = names(specs, "gmail")
    answers[(n.outcome_ratio("error"),)] = [({}, 0.10)]
    pending = {"alertname": "GmailErrorRatioHigh", "provider": "google"}
    answers[('ALERTS{alertstate="pending",severity="critical"}',)] = [(pending, 1.0)]
    with fake_prometheus(answers) as client:
        obs = observe(specs, PROM_URL, HOUR, NOW, Path("unused"), client=client)
    assert obs.critical_firing == () and obs.critical_pending == ("GmailErrorRatioHigh/google",)
    assert not obs.go


def test_critical_firing_at_the_end_makes_no_go(specs, offline_pass) -> None:
    answers = healthy(specs)
    firing = {"alertname": "GmailErrorRatioHigh", "provider": "google"}
    answers[('ALERTS{alertstate="firing",severity="critical"}',)] = [(firing, 1.0)]
    with fake_prometheus(answers) as client:
        obs = observe(specs, PROM_URL, HOUR, NOW, Path("unused"), client=client)
    assert obs.score == 6 and obs.critical_firing == ("GmailErrorRatioHigh/google",)
    assert not obs.go


def test_markdown_and_pngs_are_written(specs, offline_pass, tmp_path) -> None:
    answers = healthy(specs)
    with fake_prometheus(answers) as client:
        obs = observe(specs, PROM_URL, HOUR, NOW, Path("unused"), client=client)
    report = write_report(obs, PROM_URL, tmp_path)
    text = report.read_text()
    assert "# Observation report: GO" in text and "## Live score: 6/6" in text
    assert "## Static checks: 4/4" in text and "pending at the end of the window" in text
    pngs = sorted(tmp_path.glob("*.png"))
    assert [p.name for p in pngs] == [
        "observation-error-budget-remaining.png",
        "observation-error-ratio.png",
        "observation-latency-p95-s.png",
    ]
    assert all(p.read_bytes().startswith(PNG_MAGIC) for p in pngs)
    assert all(f"]({p.name})" in text for p in pngs)


def test_an_erroring_prometheus_raises_naming_the_url(specs) -> None:
    client = httpx.Client(transport=httpx.MockTransport(lambda r: httpx.Response(500)))
    with pytest.raises(ObserveError, match=PROM_URL), client:
        observe(specs, PROM_URL, HOUR, NOW, Path("unused"), client=client)


# the command -------------------------------------------------------------------------------------
def cli(argv: list[str]) -> int:
    return main(argv)


@pytest.fixture
def failing_prometheus() -> Iterator[str]:
    class Failing(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_error(503, "overloaded")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Failing)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_cli_exits_2_naming_an_erroring_or_unreachable_prometheus(
    failing_prometheus, tmp_path, capsys
) -> None:
    unreachable = f"http://127.0.0.1:{free_port()}"
    for url in (failing_prometheus, unreachable):
        argv = ["observation", "--since", "1h", "--prometheus", url, "--out", str(tmp_path)]
        assert cli(["report", *argv]) == 2
        assert url in capsys.readouterr().err
    assert not (tmp_path / REPORT_NAME).exists()


def test_cli_exits_2_on_bad_arguments(tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.delenv("PROMETHEUS_URL", raising=False)
    assert cli(["report", "observation", "--since", "soon", "--prometheus", PROM_URL]) == 2
    assert "--since" in capsys.readouterr().err
    assert cli(["report", "observation", "--since", "1h", "--prometheus", ""]) == 2
    assert "PROMETHEUS_URL" in capsys.readouterr().err


# against a real Prometheus -----------------------------------------------------------------------
def test_observation_of_a_real_stack(specs, tmp_path, capsys) -> None:
    for name, package in [
        ("prometheus", "prometheus"),
        ("prometheus-alertmanager", "prometheus-alertmanager"),
        ("prometheus-pushgateway", "prometheus-pushgateway"),
        ("redis-server", "redis-server"),
        ("amtool", "prometheus-alertmanager"),
        ("promtool", "prometheus"),
    ]:
        require_binary(name, package)
    out = tmp_path / "observation"
    with running_stack(SPECS, tmp_path) as stack:
        driver = Driver(specs, specs.provider("gmail"), stack.pushgateway_url)
        driver.run(scenarios(specs)["healthy"], 8, 20.0, tick_s=0.5)
        argv = ["report", "observation", "--since", "1m", "--prometheus", stack.prometheus_url]
        code = cli([*argv, "--specs", str(SPECS), "--drills", str(tmp_path), "--out", str(out)])
    printed = capsys.readouterr().out
    assert code in (0, 1), printed
    text = (out / REPORT_NAME).read_text()
    assert "## Live score:" in text and len(list(out.glob("*.png"))) == 3
    points = {line.split(" | ")[1]: line for line in text.splitlines() if line.startswith("| ")}
    for name in ("error ratio p95", "latency p95", "build time p95"):
        assert "gmail no data" not in points[name] and "gmail " in points[name], points[name]
    assert "gmail no data" not in points["no unexpected error codes"]
    assert stack.prometheus_url in text


def test_the_default_drill_folder_is_where_make_drill_writes() -> None:
    makefile = (REPO / "Makefile").read_text()
    written = re.search(r"drill all --report-dir (\S+)", makefile)
    assert written is not None
    args = build_parser().parse_args(["report", "observation", "--since", "1h"])
    assert args.drills == Path(written[1])


def test_an_error_rate_incident_on_a_real_stack_is_no_go_while_criticals_pend(
    specs, tmp_path, capsys
) -> None:
    """Twice the critical error ratio through the real Pushgateway and Prometheus: Gmail's
    critical alerts go pending (their `for` is minutes) and the report reads them from the real
    Prometheus into its pending list, which alone makes the verdict NO-GO (the verdict's
    arithmetic is checked point by point in the offline tests above)."""
    for name, package in [
        ("prometheus", "prometheus"),
        ("prometheus-alertmanager", "prometheus-alertmanager"),
        ("prometheus-pushgateway", "prometheus-pushgateway"),
        ("redis-server", "redis-server"),
    ]:
        require_binary(name, package)
    out = tmp_path / "observation"
    query = 'ALERTS{alertstate="pending",severity="critical",provider="google"}'
    with running_stack(SPECS, tmp_path) as stack:
        driver = Driver(specs, specs.provider("gmail"), stack.pushgateway_url)
        catalog = scenarios(specs)
        driver.run(catalog["healthy"], 4, 20.0, tick_s=0.5)
        pending: list = []
        for _ in range(30):
            driver.run(catalog["error-rate-crit"], 1, 20.0, tick_s=0.5)
            answer = httpx.get(f"{stack.prometheus_url}/api/v1/query", params={"query": query})
            pending = answer.json()["data"]["result"]
            if pending:
                break
        assert pending, "no critical alert went pending during twice the critical error ratio"
        argv = ["report", "observation", "--since", "1m", "--prometheus", stack.prometheus_url]
        code = cli([*argv, "--specs", str(SPECS), "--drills", str(tmp_path), "--out", str(out)])
    printed = capsys.readouterr().out
    assert code == 1, printed
    assert "NO-GO" in printed
    text = (out / REPORT_NAME).read_text()
    listed = text.split("## Critical alerts pending at the end of the window", 1)[1]
    listed = listed.split("## Plots", 1)[0]
    gmail = [line for line in listed.splitlines() if line.endswith("/google`")]
    assert gmail, listed
    assert {p["metric"]["alertname"] for p in pending} <= {line[3:].split("/")[0] for line in gmail}
