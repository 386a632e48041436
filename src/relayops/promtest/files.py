"""promtool unit-test files for one provider, with every expectation predicted exactly."""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

from relayops.promql import SeriesDB, format_duration
from relayops.promql.simulate import FiringAlert, RuleGroup, Simulation
from relayops.promtest.cache import SimulationCache, key_of
from relayops.promtest.closure import prune
from relayops.promtest.period import period_tests
from relayops.promtest.recorded import checked_groups, recording_test
from relayops.promtest.scenarios import GenerationError, Scenario, Scenarios, burn_packs
from relayops.rules.alert_def import AlertDef
from relayops.rules.alerts import alert_defs
from relayops.rules.build import Group
from relayops.rules.layout import evaluation_order, rule_files
from relayops.rules.measure import Absence, Age, BudgetBurn, follows_sli
from relayops.rules.output import dump_yaml
from relayops.rules.render_paths import for_tests, rule_paths
from relayops.rules.series import InputSeries, load_into, promtool_input_series
from relayops.spec import SpecSet
from relayops.spec.labels import ALERTNAME
from relayops.spec.provider import ProviderSpec
from relayops.spec.units import Unit


def fire_level(alert: AlertDef, defs: list[AlertDef]) -> float:
    """A value between this level and the next one up, or 1.5 × the level for the top one."""
    higher = [d.level for d in defs if d.name == alert.name and d.level > alert.level]
    if higher:
        return (alert.level + min(higher)) / 2
    target = alert.level * 1.5
    return min(target, (1 + alert.level) / 2) if alert.kind.unit is Unit.RATIO else target


def scenarios_for(specs: SpecSet, spec: ProviderSpec) -> list[Scenario]:
    defs = alert_defs(specs, spec)
    make = Scenarios(specs, spec)
    out: list[Scenario] = []
    for pack in burn_packs([a for a in defs if isinstance(a.measure, BudgetBurn)]):
        out += make.burns(pack)
    for alert in defs:
        match alert.measure:
            case BudgetBurn():
                continue
            case Absence():
                out.append(make.missing(alert))
            case Age():
                out.append(make.stalled(alert))
            case _:
                out.append(make.threshold(alert, fire_level(alert, defs)))
    guarded = tuple(
        dict.fromkeys(
            a.name
            for a in defs
            if isinstance(a.measure, BudgetBurn) or follows_sli(a.measure, specs) is not None
        )
    )
    out.append(make.low_traffic(guarded))
    return out


def _matches(alert: FiringAlert, scenario: Scenario) -> bool:
    return all(alert.labels.get(k) == v for k, v in scenario.instance.items())


def _exp(alert: FiringAlert) -> dict:
    labels = {k: v for k, v in sorted(alert.labels.items()) if k != "alertname"}
    return {"exp_labels": labels, "exp_annotations": dict(sorted(alert.annotations.items()))}


@dataclass(frozen=True)
class Outcome:
    """What the simulation predicts for a scenario: firing alerts at each checkpoint (the steps
    the test checks), when the alert under test fired and resolved, and the scenario's input
    series as promtool reads them."""

    states: dict[int, list[FiringAlert]]
    checkpoints: tuple[int, ...]
    fired_at: int | None
    resolved_at: int | None
    inputs: list[dict[str, str]]

    def encoded(self) -> dict:
        alerts = {
            str(t): [[a.labels, a.annotations, a.value, a.active_at] for a in firing]
            for t, firing in self.states.items()
        }
        return {"states": alerts, "fired_at": self.fired_at, "resolved_at": self.resolved_at}

    @classmethod
    def decoder(cls, inputs: list[dict[str, str]]) -> Callable[[dict], Outcome]:
        def decode(data: dict) -> Outcome:
            states = {
                int(t): [
                    FiringAlert(dict(la), dict(an), float(v), float(at)) for la, an, v, at in s
                ]
                for t, s in data["states"].items()
            }
            return cls(states, tuple(states), data["fired_at"], data["resolved_at"], inputs)

        return decode


def simulate(
    scenario: Scenario, groups: list[Group], cache: SimulationCache | None = None
) -> Outcome:
    """Run the scenario through the rules and check its expectations against the prediction
    (or read the prediction a cache kept of the same scenario on the same rules)."""
    timeline = scenario.timeline
    kept = prune(groups, set(scenario.alertnames))
    series = timeline.input_series()
    inputs = promtool_input_series(series)
    key = key_of(
        repr(kept),
        inputs,
        timeline.step,
        timeline.sample,
        timeline.end,
        [dataclasses.astuple(e) for e in scenario.expectations],
        scenario.alertnames,
        scenario.instance,
    )
    cached = cache.get(key, Outcome.decoder(inputs)) if cache is not None else None
    if cached is not None:
        return cached
    outcome = _simulated(scenario, kept, series, inputs)
    if cache is not None:
        cache.put(key, outcome.encoded())
    return outcome


def _simulated(
    scenario: Scenario, kept: list[RuleGroup], series: list[InputSeries], inputs: list
) -> Outcome:
    timeline = scenario.timeline
    step = timeline.step
    db = SeriesDB()
    load_into(db, series, timeline.sample)
    sim = Simulation(kept, db, step)
    states: dict[int, list[FiringAlert]] = {}
    for t in range(0, timeline.end + 1, step):
        sim.run_until(t)
        states[t] = [a for a in sim.firing(t) if a.labels[ALERTNAME] in scenario.alertnames]

    def under_test(t: int) -> bool:
        return any(_matches(a, scenario) for a in states[t])

    checkpoints: set[int] = set()
    found: dict[str, int] = {}
    for expect in scenario.expectations:
        times = [t for t in states if t >= expect.start]
        if expect.kind == "silent":
            window = [t for t in times if t <= expect.end]
            loud = [t for t in window if under_test(t)]
            if loud:
                raise GenerationError(f"{scenario.name}: fires at {loud[0]}s where it must not")
            checkpoints |= {window[len(window) // 2], window[-1]}
            continue
        wanted = expect.kind == "fires"
        hit = next((t for t in times if under_test(t) == wanted), None)
        if hit is None or hit == expect.start:
            raise GenerationError(f"{scenario.name}: never {expect.kind} after {expect.start}s")
        found[expect.kind] = hit - expect.start
        checkpoints |= {hit - step, hit}
    kept_states = {t: states[t] for t in sorted(checkpoints)}
    return Outcome(
        kept_states, tuple(kept_states), found.get("fires"), found.get("resolves"), inputs
    )


def alert_test(members: list[tuple[Scenario, Outcome]]) -> dict:
    """The promtool test of scenarios sharing one timeline (a pack of burn alerts, or one
    scenario): its input series and each scenario's checks at its checkpoints."""
    first, outcome = members[0]
    checks = sorted(
        (t, name, [_exp(a) for a in o.states[t] if a.labels[ALERTNAME] == name])
        for scenario, o in members
        for t in o.checkpoints
        for name in scenario.alertnames
    )
    return {
        "name": " + ".join(scenario.name for scenario, _ in members),
        "interval": format_duration(first.timeline.sample),
        "input_series": outcome.inputs,
        "alert_rule_test": [
            {
                "eval_time": format_duration(t) if t else "0s",
                "alertname": name,
                "exp_alerts": expected,
            }
            for t, name, expected in checks
        ],
    }


def test_file(
    rule_files: list[str], groups: list[Group], step: int, tests: list[dict], header: str
) -> str:
    data = {
        "rule_files": [for_tests(path) for path in rule_files],
        "evaluation_interval": format_duration(step),
        "group_eval_order": [g.name for g in groups],
        "tests": tests,
    }
    return dump_yaml(data, header)


@dataclass(frozen=True)
class ProviderTests:
    files: dict[str, str]
    outcomes: list[tuple[Scenario, Outcome]]


def test_files(
    specs: SpecSet, spec: ProviderSpec, header: str, cache: SimulationCache | None = None
) -> ProviderTests:
    layout = rule_files(specs, spec)
    groups = evaluation_order([g for held in layout.values() for g in held])
    outcomes = []
    sharing: dict[int, list[tuple[Scenario, Outcome]]] = {}  # by timeline, in order
    for scenario in scenarios_for(specs, spec):
        outcome = simulate(scenario, groups, cache)
        outcomes.append((scenario, outcome))
        sharing.setdefault(id(scenario.timeline), []).append((scenario, outcome))
    by_file: dict[tuple[str, int], list[dict]] = defaultdict(list)
    loads: dict[str, list[str]] = {}
    for members in sharing.values():
        alertnames = {name for scenario, _ in members for name in scenario.alertnames}
        files = _files_read(layout, groups, alertnames)
        label = _label(spec, files)
        loads[label] = files
        by_file[label, members[0][0].timeline.step].append(alert_test(members))
    files = {
        f"tests/{spec.name}.{label}-{format_duration(step)}.test.yml": _test_file(
            layout, loads[label], step, tests, header
        )
        for (label, step), tests in sorted(by_file.items())
    }
    step, tests = recording_test(specs, spec, groups, cache)
    checked = {g.name for g in checked_groups(groups)}
    holding = [path for path, held in layout.items() if any(g.name in checked for g in held)]
    files[f"tests/{spec.name}.rules.test.yml"] = _test_file(layout, holding, step, tests, header)
    step, tests = period_tests(specs, spec)
    period = rule_paths(spec.name).period
    files[f"tests/{spec.name}.period.test.yml"] = _test_file(layout, [period], step, tests, header)
    return ProviderTests(files, outcomes)


def _files_read(
    layout: dict[str, list[Group]], groups: list[Group], alertnames: set[str]
) -> list[str]:
    """The rule files holding the alerts and every record they read (what the simulation
    evaluated), in layout order."""
    needed = {g.name for g in prune(groups, alertnames)}
    return [path for path, held in layout.items() if any(g.name in needed for g in held)]


def _label(spec: ProviderSpec, files: list[str]) -> str:
    """A test file's name by the alert files it loads: `slo` (burn alerts), `alerts` (send
    path and operations) or `slo-and-alerts`."""
    paths = rule_paths(spec.name)
    loaded = [
        name for name, path in (("slo", paths.slo), ("alerts", paths.alerts)) if path in files
    ]
    return "-and-".join(loaded) or "rules"


def _test_file(
    layout: dict[str, list[Group]], files: list[str], step: int, tests: list[dict], header: str
) -> str:
    held = [g for path in files for g in layout[path]]
    return test_file(files, evaluation_order(held), step, tests, header)
