"""Time compression for drills: windows and `for` divided by N, levels and factors kept."""

from __future__ import annotations

import subprocess

import pytest
import yaml

from relayops.cli import main
from relayops.promtest.detection import detection_seconds
from relayops.spec.timescale import time_scaled
from tests.specs_util import SPECS


def test_windows_and_for_are_divided_and_factors_kept(specs):
    scaled = time_scaled(specs, 60)
    for original, compressed in zip(specs.providers, scaled.providers, strict=True):
        for slo, small in zip(original.slos, compressed.slos, strict=True):
            assert small.period == slo.period // 60
            assert small.objective == slo.objective
            for tier, fast in zip(slo.tiers, small.tiers, strict=True):
                assert fast.long_window == tier.long_window // 60
                assert fast.short_window == max(tier.short_window // 60, 2)
                assert fast.for_ == tier.for_ // 60
                assert fast.factor(small.period) == tier.factor(slo.period)
        assert compressed.thresholds.error_ratio.warning == original.thresholds.error_ratio.warning
        assert compressed.thresholds.error_ratio.for_ == original.thresholds.error_ratio.for_ // 60
        rollout, fast = original.rollout, compressed.rollout
        assert (fast.dwell, fast.rollback_cooldown) == (15, 60)
        assert fast.health.failures[0].window == rollout.health.failures[0].window // 60
        assert (fast.steps, fast.salt, fast.health.max_error_ratio) == (
            rollout.steps,
            rollout.salt,
            rollout.health.max_error_ratio,
        )
    assert scaled.service.scrape_interval == 1
    assert scaled.service.rate_window == specs.service.rate_window // 60
    assert scaled.service.receivers["critical"].group_wait == 1


def test_detection_time_shrinks_by_the_factor(specs):
    gmail, fast = specs.provider("gmail"), time_scaled(specs, 60).provider("gmail")
    slo, small = gmail.slos[0], fast.slos[0]
    for tier, compressed in zip(slo.tiers, small.tiers, strict=True):
        production = detection_seconds(slo, tier, 1 / slo.error_budget)
        drill = detection_seconds(small, compressed, 1 / small.error_budget)
        assert drill == pytest.approx(production / 60)


def test_windows_never_drop_below_two_scrapes(specs):
    scaled = time_scaled(specs, 3600)
    tiers = [t for p in scaled.providers for s in p.slos for t in s.tiers]
    assert min(t.short_window for t in tiers) == 2
    assert min(t.for_ for t in tiers) == 2


def test_render_time_scaled_writes_valid_rules_and_drill_routing(tmp_path, promtool, amtool):
    out = tmp_path / "drill"
    code = main(
        [
            "render",
            "--specs",
            str(SPECS),
            "--out",
            str(out),
            "--time-scale",
            "60",
            "--drill-webhook",
            "http://127.0.0.1:9999/hook",
        ]
    )
    assert code == 0
    assert sorted(p.name for p in out.iterdir()) == ["alertmanager", "prometheus"]
    slo = yaml.safe_load((out / "prometheus/gmail.slo.yml").read_text())
    [burn_alerts] = [g for g in slo["groups"] if g["name"].endswith("-slo.alerts")]
    page_fast = burn_alerts["rules"][0]
    assert page_fast["for"] == "2s"
    assert "ratio_rate1m{" in page_fast["expr"] and "ratio_rate5s{" in page_fast["expr"]
    rules = sorted(str(p) for p in (out / "prometheus").glob("*.yml"))
    checked = subprocess.run(
        [promtool, "check", "rules", "--lint-fatal", *rules],
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.returncode == 0, checked.stderr
    config = out / "alertmanager/alertmanager.yml"
    assert "http://127.0.0.1:9999/hook" in config.read_text()
    routed = subprocess.run(
        [amtool, "check-config", str(config)], capture_output=True, text=True, check=False
    )
    assert routed.returncode == 0, routed.stdout + routed.stderr


@pytest.mark.parametrize("argv", [["--time-scale", "60"], ["--time-scale", "0", "--out", "x"]])
def test_bad_time_scale_arguments_are_refused(argv, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["render", "--specs", str(SPECS), *argv]) == 2
    err = capsys.readouterr().err
    assert "--out DIR" in err or "whole number ≥ 1, got 0" in err
    assert not (tmp_path / "x").exists()
