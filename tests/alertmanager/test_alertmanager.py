"""Alertmanager config: valid, routes every rendered alert, inhibits exactly as designed."""

from __future__ import annotations

import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import yaml

from relayops.alertmanager import (
    alertmanager_readme_section,
    expected_routes,
    render_alertmanager,
)
from relayops.alertmanager.config import CONFIG_PATH
from relayops.alertmanager.inhibition import inhibit_rules, silencers
from relayops.alertmanager.labels import runtime_labels
from relayops.alertmanager.matchers import Matcher, one_of
from relayops.alertmanager.template import TEMPLATE_PATH
from relayops.alertmanager.verify import route_problems
from tests.daemons import ALERTMANAGER, require_binary, run_alertmanager
from tests.specs_util import REPO

DRILL_URL = "http://127.0.0.1:9/drill"
SECRET_KEYS = {"routing_key", "service_key", "api_url", "url", "password", "token"}


@pytest.fixture(scope="module")
def amtool_bin() -> str:
    return require_binary("amtool", "prometheus-alertmanager")


@pytest.fixture(scope="module")
def alertmanager_bin() -> str:
    return require_binary(ALERTMANAGER, "prometheus-alertmanager")


@pytest.fixture(scope="module")
def active(specs) -> dict[str, dict[str, str]]:
    """Every rendered alert rule, by key, with the labels it fires with."""
    return dict(runtime_labels(specs))


def write_rendered(files: dict[str, str], root: Path) -> Path:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root / CONFIG_PATH


def check_config(amtool: str, config: Path) -> None:
    done = subprocess.run(
        [amtool, "check-config", str(config)], capture_output=True, text=True, cwd="/"
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout and "1 templates" in done.stdout, done.stdout


def keys_in(value: object) -> set[str]:
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in keys_in(v)}
    if isinstance(value, list):
        return {k for v in value for k in keys_in(v)}
    return set()


# rendered config --------------------------------------------------------------------------------
def test_render_is_deterministic_and_passes_check_config(specs, amtool_bin, tmp_path):
    files = render_alertmanager(specs)
    assert files == render_alertmanager(specs)
    check_config(amtool_bin, write_rendered(files, tmp_path))


def test_notification_template_renders(specs, amtool_bin, tmp_path):
    write_rendered(render_alertmanager(specs), tmp_path)
    done = subprocess.run(
        [
            amtool_bin,
            "template",
            "render",
            f"--template.glob={tmp_path / 'alertmanager' / TEMPLATE_PATH}",
            '--template.text={{ template "relay.title" . }}|{{ template "relay.text" . }}',
        ],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    title, text = done.stdout.split("|", 1)
    assert title.startswith("[") and "Runbook:" in text and "Dashboard:" in text


def test_routes_use_matchers_never_the_deprecated_match(specs):
    config = yaml.safe_load(render_alertmanager(specs)[CONFIG_PATH])
    keys = keys_in(config)
    assert not keys & {"match", "match_re", "source_match", "target_match", "source_match_re"}
    assert all(route["matchers"] for route in config["route"]["routes"])


def test_per_tier_receivers_and_timing(specs):
    config = yaml.safe_load(render_alertmanager(specs)[CONFIG_PATH])
    routes = {r["receiver"]: r for r in config["route"]["routes"]}
    assert set(routes) == {"relay-critical-pagerduty", "relay-warning-slack", "relay-info-slack"}
    receivers = {r["name"]: r for r in config["receivers"]}
    pagerduty = receivers["relay-critical-pagerduty"]["pagerduty_configs"][0]
    assert pagerduty["routing_key_file"].startswith("/")
    warning = receivers["relay-warning-slack"]["slack_configs"][0]
    info = receivers["relay-info-slack"]["slack_configs"][0]
    assert (warning["channel"], warning["send_resolved"]) == ("#ops-relay", True)
    assert (info["channel"], info["send_resolved"]) == ("#info-relay", False)
    for severity, receiver in specs.service.receivers.items():
        route = routes[f"relay-{severity}-{receiver.type}"]
        assert route["matchers"] == ['service="relay"', f'severity="{severity}"']
        assert route["group_by"] == list(receiver.group_by)
        assert {k: route[k] for k in ("group_wait", "group_interval", "repeat_interval")} == {
            "group_wait": {"critical": "30s", "warning": "1m", "info": "5m"}[severity],
            "group_interval": {"critical": "5m", "warning": "10m", "info": "30m"}[severity],
            "repeat_interval": {"critical": "1h", "warning": "4h", "info": "1d"}[severity],
        }


def test_secrets_only_through_files(specs):
    text = render_alertmanager(specs)[CONFIG_PATH]
    keys = keys_in(yaml.safe_load(text))
    assert not keys & SECRET_KEYS, keys & SECRET_KEYS
    assert {"routing_key_file", "api_url_file"} <= keys
    assert "hooks.slack.com" not in text and "events.pagerduty.com" not in text


def test_drill_mode_points_every_receiver_at_the_webhook(specs, amtool_bin, tmp_path):
    real = yaml.safe_load(render_alertmanager(specs)[CONFIG_PATH])
    files = render_alertmanager(specs, drill_webhook_url=DRILL_URL)
    drill = yaml.safe_load(files[CONFIG_PATH])
    assert drill["route"] == real["route"] and drill["inhibit_rules"] == real["inhibit_rules"]
    assert [r["name"] for r in drill["receivers"]] == [r["name"] for r in real["receivers"]]
    for receiver in drill["receivers"]:
        assert set(receiver) == {"name", "webhook_configs"}, receiver
        assert [c["url"] for c in receiver["webhook_configs"]] == [DRILL_URL]
    for gone in ("pagerduty_configs", "slack_configs", "_file:"):
        assert gone not in files[CONFIG_PATH]
    check_config(amtool_bin, write_rendered(files, tmp_path))


@pytest.mark.parametrize("url", ["", "ftp://127.0.0.1/x", "127.0.0.1:9000", "http:///x"])
def test_drill_mode_refuses_a_url_without_scheme_or_host(specs, url):
    with pytest.raises(ValueError, match="drill webhook URL"):
        render_alertmanager(specs, drill_webhook_url=url)


# routing ----------------------------------------------------------------------------------------
def rendered_alert_labels() -> list[dict[str, str]]:
    """alertname plus labels of every alert rule in rendered/prometheus/."""
    return [
        {"alertname": rule["alert"], **rule["labels"]}
        for path in sorted((REPO / "rendered" / "prometheus").glob("*.yml"))
        for group in yaml.safe_load(path.read_text())["groups"]
        for rule in group["rules"]
        if "alert" in rule
    ]


def test_expected_routes_cover_every_rendered_alert(specs):
    routed = [labels for labels, _ in expected_routes(specs)]
    assert sorted(map(sorted, map(dict.items, routed))) == sorted(
        map(sorted, map(dict.items, rendered_alert_labels()))
    )


def test_every_rendered_alert_reaches_its_receiver(specs, amtool_bin, tmp_path):
    config = write_rendered(render_alertmanager(specs), tmp_path)
    routes = expected_routes(specs)

    failures = route_problems(amtool_bin, config, routes)
    assert not failures, "\n".join(failures)
    assert {receiver for _, receiver in routes} == {
        "relay-critical-pagerduty",
        "relay-warning-slack",
        "relay-info-slack",
    }


# inhibition, offline ----------------------------------------------------------------------------
def test_runtime_labels_match_the_generated_promtool_tests(active):
    """`action` is present exactly where the rendered rules' own tests expect it."""
    fired = {
        tuple(sorted({"alertname": case["alertname"], **exp["exp_labels"]}.items()))
        for path in sorted((REPO / "rendered" / "tests").glob("*-*.test.yml"))
        for test in yaml.safe_load(path.read_text())["tests"]
        for case in test.get("alert_rule_test", [])
        for exp in case["exp_alerts"]
    }
    known = {tuple(sorted(labels.items())) for labels in active.values()}
    assert fired and fired <= known, sorted(fired - known)


def test_no_rule_can_match_an_alert_as_both_source_and_target(specs, active):
    for rule in inhibit_rules(specs):
        for key, labels in active.items():
            both = all(m.matches(labels) for m in (*rule.source, *rule.target))
            assert not both, f"{key} is both source and target of: {rule.reason}"


def test_every_equal_label_is_carried_by_every_matched_alert(specs, active):
    """Alertmanager counts a label missing on both sides as equal: never rely on that."""
    for rule in inhibit_rules(specs):
        for key, labels in active.items():
            if all(m.matches(labels) for m in rule.source) or all(
                m.matches(labels) for m in rule.target
            ):
                assert set(rule.equal) <= set(labels), f"{key}: {rule.reason}"


def test_matchers_render_quoted_and_match_anchored():
    matcher = one_of("alertname", ["GmailLatencyHigh", "Gmail.Odd"])
    assert matcher.render() == 'alertname=~"Gmail\\\\.Odd|GmailLatencyHigh"'
    assert matcher.matches({"alertname": "Gmail.Odd"})
    assert not matcher.matches({"alertname": "GmailXOdd"})
    assert not matcher.matches({"alertname": "GmailLatencyHighX"})
    assert Matcher("summary", "=", 'say "hi"').render() == 'summary="say \\"hi\\""'
    assert Matcher("action", "!=", "x").matches({})


# inhibition, live -------------------------------------------------------------------------------
def post_and_read(base: str, alerts: list[dict[str, str]]) -> list[dict]:
    """Post the alerts, then read them back until every one is present and the state is stable."""
    now = datetime.now(UTC).isoformat()
    body = [{"labels": labels, "startsAt": now} for labels in alerts]
    httpx.post(f"{base}/api/v2/alerts", json=body, timeout=5).raise_for_status()
    previous, stable = None, 0
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        got = httpx.get(f"{base}/api/v2/alerts", timeout=5).json()
        state = sorted((a["fingerprint"], sorted(a["status"]["inhibitedBy"])) for a in got)
        stable = stable + 1 if len(got) == len(alerts) and state == previous else 0
        if stable >= 3:
            return got
        previous = state
        time.sleep(0.1)
    raise AssertionError(f"Alertmanager state did not settle: {previous}")


@pytest.fixture(scope="module")
def drill_config(specs, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("am-drill")
    return write_rendered(render_alertmanager(specs, drill_webhook_url=DRILL_URL), root)


@pytest.fixture
def inhibited(alertmanager_bin, drill_config, active, tmp_path):
    """Post alerts (by key) to a fresh Alertmanager; return key -> keys of its silencers."""

    runs = iter(range(100))

    def run(keys: list[str]) -> dict[str, set[str]]:
        workdir = tmp_path / f"run{next(runs)}"
        with run_alertmanager(drill_config, workdir, binary=alertmanager_bin) as base:
            got = post_and_read(base, [active[k] for k in keys])
        by_labels = {tuple(sorted(active[k].items())): k for k in keys}
        key_of = {a["fingerprint"]: by_labels[tuple(sorted(a["labels"].items()))] for a in got}
        return {
            key_of[a["fingerprint"]]: {key_of[f] for f in a["status"]["inhibitedBy"]} for a in got
        }

    return run


def assert_silenced(got: dict[str, set[str]], expected: dict[str, set[str]]) -> None:
    """Alertmanager names one silencer (the first it finds): it must be one of those expected."""
    assert set(got) == set(expected)
    for key, possible in expected.items():
        if possible:
            assert len(got[key]) == 1 and got[key] <= possible, (key, got[key], possible)
        else:
            assert not got[key], (key, got[key])


def test_live_inhibition_of_every_alert_matches_the_documented_matrix(specs, active, inhibited):
    """All alerts at once: Alertmanager silences exactly what the README matrix says."""
    rules = inhibit_rules(specs)
    got = inhibited(list(active))
    assert_silenced(got, {key: silencers(rules, active, key) for key in active})


def test_live_critical_silences_only_its_own_warning(inhibited):
    got = inhibited(
        [
            "GmailErrorRatioHigh/critical",
            "GmailErrorRatioHigh/warning",
            "GmailLatencyHigh/warning",
            "OutlookErrorRatioHigh/warning",
            "GmailValidationErrorSpike/warning",
        ]
    )
    assert_silenced(
        got,
        {
            "GmailErrorRatioHigh/critical": set(),
            "GmailErrorRatioHigh/warning": {"GmailErrorRatioHigh/critical"},
            "GmailLatencyHigh/warning": set(),
            "OutlookErrorRatioHigh/warning": set(),
            "GmailValidationErrorSpike/warning": set(),
        },
    )


def test_live_faster_burn_tier_silences_slower_tiers_of_its_slo_only(inhibited):
    got = inhibited(
        [
            "GmailAvailabilityBudgetBurn/page_fast",
            "GmailAvailabilityBudgetBurn/page_slow",
            "GmailAvailabilityBudgetBurn/ticket_slow",
            "GmailLatencyBudgetBurn/page_slow",
            "GmailLatencyBudgetBurn/ticket_fast",
            "OutlookAvailabilityBudgetBurn/ticket_fast",
        ]
    )
    fast, slow = "GmailAvailabilityBudgetBurn/page_fast", "GmailAvailabilityBudgetBurn/page_slow"
    assert_silenced(
        got,
        {
            fast: set(),
            slow: {fast},
            "GmailAvailabilityBudgetBurn/ticket_slow": {fast, slow},
            "GmailLatencyBudgetBurn/page_slow": set(),
            "GmailLatencyBudgetBurn/ticket_fast": {"GmailLatencyBudgetBurn/page_slow"},
            "OutlookAvailabilityBudgetBurn/ticket_fast": set(),
        },
    )


def test_live_metrics_missing_silences_its_provider_symptoms_only(inhibited):
    missing = "GmailMetricsMissing/critical"
    symptoms = [
        "GmailAvailabilityBudgetBurn/page_fast",
        "GmailErrorRatioHigh/warning",
        "GmailMimeBuildSlow/warning",
        "GmailErrorCodeCardinalityHigh/info",
    ]
    spared = [
        "GmailRolloutControllerStalled/warning",
        "GmailRolloutControllerFailing/warning",
        "OutlookAvailabilityBudgetBurn/page_fast",
        "OutlookErrorRatioHigh/warning",
        "OutlookRolloutControllerStalled/warning",
    ]
    got = inhibited([missing, *symptoms, *spared])
    assert_silenced(
        got, {missing: set()} | {s: {missing} for s in symptoms} | {s: set() for s in spared}
    )


def test_live_no_alert_silences_itself(inhibited):
    sources = [
        "GmailMetricsMissing/critical",
        "GmailAvailabilityBudgetBurn/page_fast",
        "OutlookOauthRefreshFailing/critical",
    ]
    for key in sources:
        assert inhibited([key]) == {key: set()}


def test_live_info_is_not_silenced_by_other_alerts(inhibited, active):
    info = "GmailErrorCodeCardinalityHigh/info"
    others = [
        k
        for k, labels in active.items()
        if k != info and k != "GmailMetricsMissing/critical" and labels["severity"] != "info"
    ]
    assert inhibited([info, *others])[info] == set()


# README -----------------------------------------------------------------------------------------
def test_readme_section_shows_the_tree_and_the_matrix(specs, amtool_bin):
    text = render_alertmanager(specs)[CONFIG_PATH]
    section = alertmanager_readme_section(specs, text, amtool_bin)
    assert "Routing tree:" in section and "default-route  receiver: relay-warning-slack" in section
    assert '{service="relay",severity="critical"}  receiver: relay-critical-pagerduty' in section
    assert "| `GmailMetricsMissing/critical` |" in section
    assert "`GmailRolloutControllerStalled/warning`" in section.split("Never silenced:")[1]
    assert section == alertmanager_readme_section(specs, text, amtool_bin)
