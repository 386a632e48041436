"""The spec model refuses bad specs with errors naming file, line, field and fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from relayops.cli import main
from relayops.spec import SpecError, load_specs
from relayops.spec.durations import format_duration, parse_duration
from tests.specs_util import SPECS, copy_specs, edit_yaml


def issues_of(folder: Path) -> list[str]:
    with pytest.raises(SpecError) as caught:
        load_specs(folder)
    return [str(issue) for issue in caught.value.issues]


def test_shipped_specs_load_with_both_providers():
    specs = load_specs(SPECS)
    assert [(p.name, p.provider, p.action) for p in specs.providers] == [
        ("gmail", "google", "gmail.send"),
        ("outlook", "microsoft", "outlook.send"),
    ]
    assert specs.service.service == "relay"
    gmail = specs.provider("gmail")
    assert [t.factor(gmail.slos[0].period) for t in gmail.slos[0].tiers] == [14.4, 6, 3, 1]


@pytest.mark.parametrize(
    ("text", "seconds"), [("90s", 90), ("5m", 300), ("1h30m", 5400), ("3d", 259200), (60, 60)]
)
def test_durations_parse_and_format(text, seconds):
    assert parse_duration(text) == seconds
    assert parse_duration(format_duration(seconds)) == seconds


@pytest.mark.parametrize("bad", ["5 minutes", "-5m", "0s", "", True])
def test_bad_durations_are_refused(bad):
    with pytest.raises(ValueError, match="duration"):
        parse_duration(bad)


def test_unknown_key_names_file_line_and_path(tmp_path):
    folder = copy_specs(tmp_path)
    gmail = folder / "gmail.yaml"
    gmail.write_text(
        gmail.read_text().replace(
            "    objective: 0.999\n", "    objective: 0.999\n    objectve: 0.99\n", 1
        )
    )
    [issue] = issues_of(folder)
    assert issue.startswith(f"{gmail}:")
    assert "slos[0].objectve" in issue
    assert "unknown key" in issue and "remove it" in issue


def test_wrong_type_names_the_value(tmp_path):
    folder = copy_specs(tmp_path)
    edit_yaml(folder / "outlook.yaml", lambda d: d["slos"][1].update(objective="high"))
    [issue] = issues_of(folder)
    assert "outlook.yaml" in issue and "slos[1].objective" in issue and "'high'" in issue


@pytest.mark.parametrize("objective", [0, 1, 1.5, -0.1])
def test_objective_outside_zero_one_is_refused(tmp_path, objective):
    folder = copy_specs(tmp_path)
    edit_yaml(folder / "gmail.yaml", lambda d: d["slos"][0].update(objective=objective))
    [issue] = issues_of(folder)
    assert "slos[0].objective" in issue
    assert "greater than 0" in issue or "less than 1" in issue


def test_duplicate_slo_names_are_refused(tmp_path):
    folder = copy_specs(tmp_path)
    edit_yaml(folder / "gmail.yaml", lambda d: d["slos"][1].update(name="availability"))
    [issue] = issues_of(folder)
    assert "gmail.yaml" in issue and "unique" in issue and "availability" in issue


def test_duplicate_yaml_keys_are_refused(tmp_path):
    folder = copy_specs(tmp_path)
    gmail = folder / "gmail.yaml"
    gmail.write_text(
        gmail.read_text().replace(
            "action: gmail.send\n", "action: gmail.send\naction: gmail.sent\n"
        )
    )
    [issue] = issues_of(folder)
    assert "'action' appears twice" in issue
    assert f"{gmail}:7:" in issue


def test_window_shorter_than_two_scrape_intervals_is_refused(tmp_path):
    folder = copy_specs(tmp_path)

    def short(data):
        data["slos"][0]["tiers"] = [
            {
                "name": "page_fast",
                "severity": "critical",
                "long_window": "1h",
                "short_window": "20s",
                "budget_consumed": 0.02,
                "for": "2m",
                "min_events": 100,
            }
        ]

    edit_yaml(folder / "gmail.yaml", short)
    [issue] = issues_of(folder)
    assert "slos[0].tiers[0].short_window" in issue
    assert "2 × scrape_interval (30s)" in issue and "use at least 30s" in issue


def _one_tier(long_window: str, short_window: str, for_: str):
    def change(data):
        data["slos"][0]["tiers"] = [
            {
                "name": "ticket_fast",
                "severity": "warning",
                "long_window": long_window,
                "short_window": short_window,
                "budget_consumed": 0.1,
                "for": for_,
                "min_events": 500,
            }
        ]

    return change


@pytest.mark.parametrize(
    ("long_window", "short_window", "for_", "field", "message"),
    [
        # 1d is summed from 5m tiles: a `for` of 1m would fire on a ratio up to 5m old
        ("1d", "1h", "1m", "for", "1m is shorter than period_rules_interval (5m)"),
        ("1d", "1h", "1m", "for", "make `for` at least 5m"),
        # 2h30m is whole tiles, 2h02m is not
        ("2h02m", "30m", "15m", "long_window", "122m is derived from 5m tiles"),
        ("2h02m", "30m", "15m", "long_window", "of period_rules_interval (5m); use 125m"),
        ("3d", "2h01m", "1h", "short_window", "121m is derived from 5m tiles"),
    ],
)
def test_windows_summed_from_tiles_need_whole_tiles_and_a_long_enough_for(
    tmp_path, long_window, short_window, for_, field, message
):
    folder = copy_specs(tmp_path)
    edit_yaml(folder / "gmail.yaml", _one_tier(long_window, short_window, for_))
    [issue] = issues_of(folder)
    assert f"slos[0].tiers[0].{field}" in issue
    assert message in issue


@pytest.mark.parametrize(
    ("long_window", "short_window", "for_"),
    [("2h30m", "30m", "5m"), ("1h55m", "5m", "1m"), ("3d", "6h", "3h")],
)
def test_windows_below_long_windows_from_or_in_whole_tiles_are_accepted(
    tmp_path, long_window, short_window, for_
):
    folder = copy_specs(tmp_path)
    edit_yaml(folder / "gmail.yaml", _one_tier(long_window, short_window, for_))
    assert load_specs(folder).provider("gmail").slos[0].tiers[0].name == "ticket_fast"


def test_tier_that_can_never_fire_is_refused_with_the_arithmetic(tmp_path):
    folder = copy_specs(tmp_path)
    edit_yaml(folder / "gmail.yaml", lambda d: d["slos"][0].update(objective=0.9))
    [issue] = issues_of(folder)
    assert "slos[0].tiers[0]" in issue
    assert "page_fast can never fire: factor 14.4 × (1 − 0.9) = 1.44 ≥ 1" in issue
    assert "Raise the objective above 0.930556" in issue


def test_latency_threshold_must_be_a_bucket(tmp_path):
    folder = copy_specs(tmp_path)
    edit_yaml(folder / "gmail.yaml", lambda d: d["slos"][1]["sli"].update(threshold_seconds=1.5))
    [issue] = issues_of(folder)
    assert "slos[1].sli.threshold_seconds" in issue and "bucket boundary" in issue


def test_signal_metric_must_exist_in_catalog(tmp_path):
    folder = copy_specs(tmp_path)
    edit_yaml(folder / "outlook.yaml", lambda d: d["signals"][0].update(metric="nope"))
    [issue] = issues_of(folder)
    assert "signals[0].metric" in issue and "'nope' is not in the service metric catalog" in issue


def test_catalog_roles_are_enforced(tmp_path):
    folder = copy_specs(tmp_path)
    edit_yaml(
        folder / "service.yaml",
        lambda d: d["metrics"]["latency"].update(labels=["provider", "action"], values={}),
    )
    [issue] = issues_of(folder)
    assert "service.yaml" in issue and "metrics.latency.labels" in issue
    assert "must be exactly ['action', 'provider', 'status']" in issue


def test_file_name_must_match_provider_name(tmp_path):
    folder = copy_specs(tmp_path)
    (folder / "gmail.yaml").rename(folder / "google.yaml")
    [issue] = issues_of(folder)
    assert "google.yaml" in issue and "must equal the file name 'google'" in issue


def test_every_problem_is_reported_at_once(tmp_path):
    folder = copy_specs(tmp_path)
    edit_yaml(folder / "gmail.yaml", lambda d: d["slos"][0].update(objective=2))
    edit_yaml(folder / "outlook.yaml", lambda d: d.update(colour="blue"))
    issues = issues_of(folder)
    assert len(issues) == 2
    assert any("gmail.yaml" in i for i in issues) and any("outlook.yaml" in i for i in issues)


def test_validate_command_exits_2_and_render_writes_nothing(tmp_path, capsys):
    folder = copy_specs(tmp_path)
    edit_yaml(folder / "gmail.yaml", lambda d: d["slos"][0].update(objective=1.2))
    out = tmp_path / "rendered"
    assert main(["validate", "--specs", str(folder)]) == 2
    assert "slos[0].objective" in capsys.readouterr().err
    assert main(["render", "--specs", str(folder), "--out", str(out)]) == 2
    assert not out.exists()


def test_validate_command_accepts_shipped_specs(capsys):
    assert main(["validate", "--specs", str(SPECS)]) == 0
    assert "2 providers, 4 SLOs" in capsys.readouterr().out


@pytest.mark.parametrize("command", ["render", "validate", "check"])
def test_every_subcommand_has_help(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    assert "--specs" in capsys.readouterr().out


def test_rollout_defaults_follow_the_design_card():
    rollout = load_specs(SPECS).provider("outlook").rollout
    assert rollout.steps == (0, 1, 10, 25, 50, 100) and rollout.floor == 0
    assert (rollout.dwell, rollout.rollback_cooldown) == (900, 3600)
    assert rollout.bucketing_unit == "workspace" and rollout.salt == "relay-outlook-send-2026"
    health = rollout.health
    assert (health.max_error_ratio, health.max_latency_p95_seconds) == (0.01, 0.5)
    [oauth] = health.failures
    assert (oauth.metric, oauth.value, oauth.max, oauth.window) == (
        "oauth_refresh",
        "failure",
        5,
        900,
    )


@pytest.mark.parametrize(
    ("rollout", "field", "message"),
    [
        ({"steps": [1, 10, 100]}, "rollout.steps", "start at 0 and end at 100"),
        ({"steps": [0, 25, 10, 100]}, "rollout.steps", "strictly increasing"),
        ({"steps": [0, 0.125, 100]}, "rollout.steps", "two decimals"),
        ({"floor": 5}, "rollout", "floor 5 must be one of the steps"),
        ({"salt": "short"}, "rollout.salt", "at least 8"),
        ({"bucketing_unit": "tenant"}, "rollout.bucketing_unit", "'actor' or 'workspace'"),
    ],
)
def test_bad_rollout_policies_are_refused(tmp_path, rollout, field, message):
    folder = copy_specs(tmp_path)
    edit_yaml(folder / "gmail.yaml", lambda d: d["rollout"].update(rollout))
    [issue] = issues_of(folder)
    assert "gmail.yaml" in issue and field in issue and message in issue, issue


def test_rollout_failure_counts_must_name_a_catalog_counter(tmp_path):
    folder = copy_specs(tmp_path)
    edit_yaml(
        folder / "gmail.yaml",
        lambda d: d["rollout"].update(
            health={"failures": [{"metric": "latency"}, {"metric": "oauth_refresh", "value": "x"}]}
        ),
    )
    first, second = issues_of(folder)
    assert "rollout.health.failures[0].metric" in first and "must be a counter" in first
    assert "rollout.health.failures[1].value" in second and "'x' is not a known value" in second
