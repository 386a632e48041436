"""The simulation cache changes no generated test: a warm render writes what a render without
a cache writes, simulates nothing it has seen, and a spec change, a damaged entry or a cache
that cannot be written only cost time."""

from __future__ import annotations

import os
import time

import pytest

import relayops.promtest.files as files_module
from relayops.promtest.cache import KEEP_DAYS, SimulationCache, cache_dir
from relayops.promtest.files import test_files as generated_tests
from relayops.spec import load_specs
from relayops.spec.env import CACHE_DIR, XDG_CACHE_HOME
from tests.specs_util import copy_specs, edit_yaml


def _counting(monkeypatch) -> list[str]:
    """Names of the scenarios the simulator actually runs."""
    ran: list[str] = []
    real = files_module._simulated

    def counted(scenario, *rest):
        ran.append(scenario.name)
        return real(scenario, *rest)

    monkeypatch.setattr(files_module, "_simulated", counted)
    return ran


@pytest.fixture(scope="module")
def uncached(specs):
    return generated_tests(specs, specs.provider("gmail"), "h").files


def test_a_warm_cache_writes_the_same_tests_and_simulates_nothing(
    specs, uncached, tmp_path, monkeypatch
):
    cache = SimulationCache(tmp_path)
    ran = _counting(monkeypatch)
    cold = generated_tests(specs, specs.provider("gmail"), "h", cache)
    scenarios = len(ran)
    assert scenarios > 20 and cold.files == uncached
    assert len(list(tmp_path.glob("*/*.json"))) == scenarios + 1, "and the recording test"
    warm = generated_tests(specs, specs.provider("gmail"), "h", cache)
    assert len(ran) == scenarios, "nothing simulated again"
    assert warm.files == uncached
    assert [o.fired_at for _, o in warm.outcomes] == [o.fired_at for _, o in cold.outcomes]


def test_a_changed_level_simulates_only_what_it_changes(specs, tmp_path, monkeypatch):
    cache = SimulationCache(tmp_path / "cache")
    generated_tests(specs, specs.provider("gmail"), "h", cache)
    folder = copy_specs(tmp_path / "specs")
    levels = {"warning": 0.02, "critical": 0.05, "min_request_rate": 0.1, "for": "5m"}
    edit_yaml(folder / "gmail.yaml", lambda d: d.update(thresholds={"error_ratio": levels}))
    changed = load_specs(folder)
    ran = _counting(monkeypatch)
    warm = generated_tests(changed, changed.provider("gmail"), "h", cache)
    # the error ratio's scenarios, and the low-traffic one, which checks every guarded alert
    assert ran and all(n.startswith(("GmailErrorRatioHigh", "low traffic")) for n in ran), ran
    assert warm.files == generated_tests(changed, changed.provider("gmail"), "h").files


def test_a_damaged_entry_is_simulated_again(specs, uncached, tmp_path, monkeypatch):
    cache = SimulationCache(tmp_path)
    generated_tests(specs, specs.provider("gmail"), "h", cache)
    entries = [p for p in sorted(tmp_path.glob("*/*.json")) if p.read_text().startswith("{")]
    entries[0].write_text('{"states": {"60": [[1, 2]]}')
    entries[1].write_text("")
    ran = _counting(monkeypatch)
    assert generated_tests(specs, specs.provider("gmail"), "h", cache).files == uncached
    assert len(ran) == 2


def test_a_cache_that_cannot_be_written_only_costs_time(specs, uncached, tmp_path):
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the cache folder should be")
    assert generated_tests(specs, specs.provider("gmail"), "h", SimulationCache(blocked)).files == (
        uncached
    )


def test_entries_unused_for_the_keep_period_are_removed(tmp_path):
    cache = SimulationCache(tmp_path)
    cache.put("aa" + "0" * 62, [])
    cache.put("bb" + "0" * 62, [])
    old = time.time() - (KEEP_DAYS + 1) * 86400
    os.utime(tmp_path / "aa" / ("aa" + "0" * 62 + ".json"), (old, old))
    assert cache.prune() == 1
    assert [p.name[:2] for p in tmp_path.glob("*/*.json")] == ["bb"]


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({CACHE_DIR: "/x/sims"}, "/x/sims"),
        ({CACHE_DIR: ""}, None),
        ({XDG_CACHE_HOME: "/xdg"}, "/xdg/relayops/simulations"),
        ({}, os.path.expanduser("~/.cache/relayops/simulations")),
    ],
)
def test_where_the_cache_lives(environ, expected):
    folder = cache_dir(environ)
    assert (None if folder is None else str(folder)) == expected
