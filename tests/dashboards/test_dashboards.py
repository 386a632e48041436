"""Grafana dashboards: built by the SDK, checked offline, and broken specs caught."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from relayops.dashboards import check_dashboard_links, check_dashboards, render_dashboards
from relayops.dashboards.checks import known_series
from relayops.dashboards.promql import bare_counters, series_names, substitute
from relayops.rules.alerts import alert_defs
from relayops.spec import SpecSet, load_specs
from relayops.spec.links import DASHBOARDS, dashboard_uid
from tests.specs_util import REPO, copy_specs, edit_yaml

OVERVIEW = "grafana/relay-overview.json"
CONTROLLER = "grafana/relay-controller.json"
SLO = "grafana/relay-slo.json"


@pytest.fixture(scope="module")
def files(specs: SpecSet) -> dict[str, str]:
    return render_dashboards(specs)


def alert_urls(specs: SpecSet) -> list[str]:
    return [
        a.rule.annotations["dashboard_url"] for p in specs.providers for a in alert_defs(specs, p)
    ]


def panels(data: dict) -> list[dict]:
    out = []
    for panel in data["panels"]:
        out += [panel, *panel.get("panels", [])]
    return out


def edited(files: dict[str, str], path: str, change: Callable[[dict], None]) -> dict[str, str]:
    data = json.loads(files[path])
    change(data)
    return {**files, path: json.dumps(data, indent=2)}


def first_panel(data: dict, kind: str = "timeseries") -> dict:
    return next(p for p in panels(data) if p["type"] == kind)


def test_one_dashboard_per_linked_kind_with_its_uid(specs, files):
    uids = {json.loads(t)["uid"] for p, t in files.items() if p.endswith(".json")}
    assert uids == {dashboard_uid(specs.service, kind) for kind in DASHBOARDS}
    assert "grafana/provisioning/dashboards.yml" in files
    provisioning = yaml.safe_load(files["grafana/provisioning/dashboards.yml"])
    assert provisioning["providers"][0]["type"] == "file"


def test_rendering_is_deterministic(specs, files):
    assert render_dashboards(specs) == files
    assert all(text.endswith("}\n") for p, text in files.items() if p.endswith(".json"))


def test_shipped_dashboards_pass_every_check(specs, files, promtool):
    assert check_dashboards(specs, files, promtool) == []


def test_panels_are_current_with_unit_description_and_variables(files):
    for path, text in files.items():
        if not path.endswith(".json"):
            continue
        data = json.loads(text)
        variables = {v["name"]: v for v in data["templating"]["list"]}
        assert variables["datasource"]["type"] == "datasource", path
        assert "provider" in variables, path
        for panel in panels(data):
            assert panel["type"] not in {"graph", "singlestat", "table-old"}, path
            if panel["type"] == "row":
                continue
            assert panel["description"] and panel["fieldConfig"]["defaults"]["unit"], path
            for target in panel["targets"]:
                assert target["datasource"]["uid"] == "${datasource}"
                assert '"$provider"' in target["expr"], (path, target["expr"])


def test_dashboards_name_recorded_series_from_the_spec(specs, files):
    """Queries read recording rules; only the controller dashboard reads raw catalog series."""
    recorded = {
        rule["record"]
        for rules in (REPO / "rendered" / "prometheus").glob("*.yml")
        for group in yaml.safe_load(rules.read_text())["groups"]
        for rule in group["rules"]
        if "record" in rule
    }
    named = set()
    for path, text in files.items():
        if path.endswith(".json") and path != CONTROLLER:
            for panel in panels(json.loads(text)):
                for target in panel.get("targets", []):
                    named.update(series_names(target["expr"]))
    assert len(named) > 30
    assert named <= recorded


def test_every_alert_dashboard_url_opens_a_rendered_dashboard(specs, files):
    urls = alert_urls(specs)
    assert check_dashboard_links(specs, files, urls) == []
    linked = {url.split("/d/")[1].split("/")[0] for url in urls}
    assert linked == {dashboard_uid(specs.service, kind) for kind in DASHBOARDS}


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://grafana.relay.example/d/relay-overveiw/x?var-provider=google", "no rendered"),
        ("https://grafana.relay.example/d/relay-slo/x?var-provider=yahoo", "not an option"),
        ("https://grafana.relay.example/d/relay-overview/x?var-slo=latency", "no variable 'slo'"),
        ("https://grafana.example.org/d/relay-overview/x", "dashboard_base_url"),
    ],
)
def test_broken_dashboard_urls_are_reported(specs, files, url, expected):
    problems = check_dashboard_links(specs, files, [url])
    assert len(problems) == 1 and expected in problems[0]


def _unknown_series(data: dict) -> None:
    first_panel(data)["targets"][0]["expr"] = 'provider_action:action_exec:rate7m{provider="x"}'


def _legacy_panel(data: dict) -> None:
    first_panel(data)["type"] = "graph"


def _no_unit(data: dict) -> None:
    del first_panel(data)["fieldConfig"]["defaults"]["unit"]


def _no_description(data: dict) -> None:
    first_panel(data)["description"] = ""


def _no_uid(data: dict) -> None:
    del data["uid"]


def _no_datasource_variable(data: dict) -> None:
    data["templating"]["list"] = [
        v for v in data["templating"]["list"] if v["type"] != "datasource"
    ]


def _unparsable(data: dict) -> None:
    first_panel(data)["targets"][0]["expr"] = "sum(rate(action_exec_total[5m])"


def _counter_minus_timestamp(data: dict) -> None:
    first_panel(data)["targets"][0]["expr"] = "time() - rollout_controller_runs_total"


def _unknown_variable(data: dict) -> None:
    first_panel(data)["targets"][0]["expr"] = 'rollout_controller_percent{region="$region"}'


def _unknown_key(data: dict) -> None:
    first_panel(data)["legacyOptions"] = {"lines": True}


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (_unknown_series, "series provider_action:action_exec:rate7m is neither recorded"),
        (_legacy_panel, "panel type 'graph' is legacy"),
        (_no_unit, "no unit"),
        (_no_description, "no description"),
        (_no_uid, "no uid"),
        (_no_datasource_variable, "no Prometheus datasource variable"),
        (_unparsable, "query does not parse: 1:32: parse error: unclosed left parenthesis"),
        (_counter_minus_timestamp, "counter rollout_controller_runs_total is used as a value"),
        (_unknown_variable, "$region is not a variable"),
        (_unknown_key, "does not survive Dashboard.from_json"),
    ],
)
def test_broken_dashboard_json_is_caught(specs, files, promtool, change, expected):
    problems = check_dashboards(specs, edited(files, CONTROLLER, change), promtool)
    assert problems, "the broken dashboard passed"
    assert any(expected in p for p in problems), problems


def test_unknown_series_in_an_alert_annotation_is_caught(specs, files, promtool):
    def change(data: dict) -> None:
        data["annotations"]["list"][0]["expr"] = 'ALERTZ{provider=~"$provider"}'

    problems = check_dashboards(specs, edited(files, SLO, change), promtool)
    assert problems == [
        f"{SLO}: annotation 'Burn alerts firing': series ALERTZ is neither recorded by a rule "
        "nor emitted by an adapter in the specs"
    ]


def _spec_with(tmp_path: Path, file: str, change: Callable[[dict], None]) -> SpecSet:
    folder = copy_specs(tmp_path)
    edit_yaml(folder / file, change)
    return load_specs(folder)


def _drop_signal(name: str) -> Callable[[dict], None]:
    def change(data: dict) -> None:
        data["signals"] = [s for s in data["signals"] if s["name"] != name]

    return change


@pytest.mark.parametrize(
    ("file", "change", "missing"),
    [
        (
            "service.yaml",
            lambda d: d.update(rate_window="10m"),
            "provider_action:action_exec:rate5m",
        ),
        ("gmail.yaml", _drop_signal("mime_build"), "gmail_mime_build_seconds:p95_rate5m"),
        (
            "service.yaml",
            lambda d: d["metrics"]["controller_percent"].update(name="rollout_percent"),
            "series rollout_controller_percent",
        ),
    ],
)
def test_spec_change_that_leaves_a_panel_without_its_series_fails(
    tmp_path, files, promtool, file, change, missing
):
    """Dashboards rendered before a spec change name series nothing records any more; the
    check of those dashboards against the changed spec fails, and re-rendering fixes it."""
    changed = _spec_with(tmp_path, file, change)
    problems = check_dashboards(changed, files, promtool)
    assert any(missing in p and "neither recorded" in p for p in problems), problems
    assert check_dashboards(changed, render_dashboards(changed), promtool) == []


def test_spec_change_that_breaks_dashboard_links_fails(tmp_path, files):
    renamed = _spec_with(tmp_path, "service.yaml", lambda d: d.update(service="relay2"))
    problems = check_dashboard_links(renamed, files, alert_urls(renamed))
    assert len(problems) == len(set(alert_urls(renamed))) > 0
    assert all("no rendered dashboard has uid 'relay2-" in p for p in problems)
    assert check_dashboard_links(renamed, render_dashboards(renamed), alert_urls(renamed)) == []


def test_new_provider_value_must_be_offered_by_the_provider_variable(tmp_path, files):
    moved = _spec_with(tmp_path, "outlook.yaml", lambda d: d.update(provider="msgraph"))
    problems = check_dashboard_links(moved, files, alert_urls(moved))
    assert problems and all("'msgraph' is not an option of $provider" in p for p in problems)


def test_series_names_skip_functions_labels_ranges_and_keywords():
    expr = (
        'sum by (provider) (rate(a_total{provider=~"$provider", x="b_total"}[$__rate_interval]))'
        " / on (provider) group_left b:c:d offset 5m > bool 1e3 or time() - g"
    )
    assert series_names(expr) == ["a_total", "b:c:d", "g"]
    assert "[5m]" in substitute(expr) and '"grafana_variable"' in substitute(expr)


def test_bare_counters_only_flags_values_outside_rate():
    counters = {"a_total", "b_total"}
    assert bare_counters("rate(a_total[5m]) + increase( b_total [1h])", counters) == []
    assert bare_counters("time() - a_total + sum(b_total)", counters) == ["a_total", "b_total"]


def test_known_series_has_histogram_parts_and_alerts(specs):
    known = known_series(specs)
    assert {"action_latency_seconds_bucket", "action_latency_seconds_count", "ALERTS"} <= known
    assert "action_latency_seconds" not in known
