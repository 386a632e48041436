"""Benchmark: what the SLO rules cost a real Prometheus, relayops' against Sloth's shape, and
how exact their 30-day SLIs are.

Thirty days of one provider's traffic at a 15 s scrape (`month_traffic.py`: daily curve,
incidents, counter resets) are written as OpenMetrics and backfilled with `promtool tsdb
create-blocks-from openmetrics` into a Prometheus 2.42 started on loopback. The recording
rules are backfilled with `promtool tsdb create-blocks-from rules`: those another rule reads
over a range (relayops' 5-minute tiles, Sloth's 5m ratio) for the whole month, the others
around the two moments judged, one dependency level at a time (promtool evaluates against
what the server already holds; Prometheus is restarted to load each level's blocks).

Cost: every rule of an SLO (relayops: the rendered rules and alerts labelled with the SLO;
Sloth: `sloth_shape.py` from the same spec and the same event selectors) is evaluated once at
the end of the data through the query API with `stats=all`; its `totalQueryableSamples`
times its group's evaluations per hour is the samples it touches per hour. Target: relayops ÷
Sloth ≤ 0.1 for each SLO.

Accuracy: the recorded 30d SLI of each, and relayops' burn-window ratios read from tiles, at
the end of the data and one hour into the incident still running there, against the exact
ratio counted from the drawn events. Target: relayops within 1% (relative). Sloth's figures
are printed, not judged. Needs prometheus and promtool (`make tools`).

The data are drawn from a fixed seed and the samples a query touches do not depend on the
machine, so one round is the median of all rounds. Only Prometheus' evaluation offsets (from
the temporary rule files' paths) change between runs, and the accuracy is judged at the
evaluations themselves.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

import sloth_shape  # noqa: E402
from month_traffic import DAY, HOUR, Month, draw_month, write_openmetrics  # noqa: E402

from relayops.promql import format_series  # noqa: E402
from relayops.rules.recording import derived_windows  # noqa: E402
from relayops.rules.render_paths import rule_paths  # noqa: E402
from relayops.spec import SpecSet, load_specs  # noqa: E402
from relayops.spec.durations import format_duration, parse_duration  # noqa: E402
from relayops.spec.labels import SLO_LABEL  # noqa: E402
from relayops.spec.provider import ProviderSpec  # noqa: E402
from relayops.spec.series import ProviderSeries  # noqa: E402
from relayops.spec.slo import SLO  # noqa: E402
from relayops.stack.daemons import (  # noqa: E402
    DaemonError,
    Running,
    find_binaries,
    free_port,
    http_ready,
    start,
    stop,
)

PROVIDER = "gmail"
END = int(datetime(2026, 11, 30, tzinfo=UTC).timestamp())  # fixed: the same data every run
PAST_END = END + 60  # promtool's backfill stops before --end: this evaluates at END too
MAX_RATIO = 0.1
MAX_SLI_ERROR = 0.01
_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")


@dataclass(frozen=True)
class Rule:
    group: str
    interval: int  # seconds between evaluations
    body: dict  # the rule as written: record or alert, expr, labels

    @property
    def name(self) -> str:
        return self.body.get("record") or self.body["alert"]


def _rules(groups: list[dict], default_interval: int) -> list[Rule]:
    return [
        Rule(g["name"], parse_duration(g.get("interval", default_interval)), rule)
        for g in groups
        for rule in g["rules"]
    ]


def relayops_rules(specs: SpecSet, spec: ProviderSpec, slo: SLO) -> list[Rule]:
    """The rendered rules and alerts of one SLO, as committed under rendered/."""
    groups = []
    for path in rule_paths(spec.name):
        text = (REPO / "rendered" / path).read_text()
        groups += yaml.safe_load(text)["groups"]
    every = specs.service.evaluation_interval
    return [r for r in _rules(groups, every) if r.body.get("labels", {}).get(SLO_LABEL) == slo.name]


def sloth_rules(specs: SpecSet, spec: ProviderSpec, slo: SLO) -> list[Rule]:
    return _rules(sloth_shape.groups(specs, spec, slo), specs.service.evaluation_interval)


def levels(rules: list[Rule]) -> tuple[list[Rule], list[list[Rule]]]:
    """(rules read over a range by another rule, the other recording rules by dependency
    level). A ranged rule must read only raw series: it is backfilled over the whole month
    before anything that reads it. One name may be recorded by several rules (relayops
    records each SLO's series under one name with its `slo` label)."""
    recording = [r for r in rules if "record" in r.body]
    names = {r.name for r in recording}
    ranged = {
        name
        for name in names
        for r in rules
        if re.search(rf"\b{re.escape(name)}(\{{[^}}]*\}})?\[", r.body["expr"])
    }
    depth: dict[str, int] = {}

    def level(name: str) -> int:
        if name not in depth:
            reads = {
                dep
                for r in recording
                if r.name == name
                for dep in set(_NAME.findall(r.body["expr"])) & names
            }
            depth[name] = 1 + max((level(d) for d in reads), default=0)
        return depth[name]

    for name in ranged:
        if level(name) != 1:
            raise SystemExit(f"rule {name} is read over a range but reads recorded series")
    rest: dict[int, list[Rule]] = {}
    for rule in recording:
        if rule.name not in ranged:
            rest.setdefault(level(rule.name), []).append(rule)
    return [r for r in recording if r.name in ranged], [rest[k] for k in sorted(rest)]


def _rule_file(rules: list[Rule], path: Path) -> Path:
    groups: dict[tuple[str, int], list[dict]] = {}
    for rule in rules:
        groups.setdefault((rule.group, rule.interval), []).append(rule.body)
    document = {
        "groups": [
            {"name": name, "interval": f"{interval}s", "rules": body}
            for (name, interval), body in groups.items()
        ]
    }
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


class Server:
    """A Prometheus on loopback over one data folder, restarted to load backfilled blocks."""

    def __init__(self, binaries: dict[str, str], folder: Path):
        self.binaries = binaries
        self.folder = folder
        self.data = folder / "data"
        self.config = folder / "prometheus.yml"
        self.config.write_text("global:\n  evaluation_interval: 30s\n")
        self.url = ""
        self.running: Running | None = None

    def start(self) -> None:
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        argv = [
            self.binaries["prometheus"],
            f"--config.file={self.config}",
            f"--storage.tsdb.path={self.data}",
            "--storage.tsdb.retention.time=3650d",
            f"--web.listen-address=127.0.0.1:{port}",
        ]
        ready = http_ready(f"{self.url}/-/ready")
        self.running = start("prometheus", argv, self.folder / "prometheus.log", ready)

    def stop(self) -> None:
        if self.running is not None:
            stop(self.running, timeout=30)
            self.running = None

    def backfill(self, rule_file: Path, since: int, until: int) -> None:
        """Evaluates the file's recording rules over [since, until] and loads the blocks."""
        out = self.folder / "blocks"
        self._run(
            [
                self.binaries["promtool"],
                "tsdb",
                "create-blocks-from",
                "rules",
                f"--url={self.url}",
                f"--start={since}",
                f"--end={until}",
                f"--output-dir={out}",
                "--quiet",
                str(rule_file),
            ]
        )
        self.stop()
        for block in out.iterdir():
            block.rename(self.data / block.name)
        self.start()

    @staticmethod
    def _run(argv: list[str]) -> None:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=1800)
        if done.returncode:
            raise SystemExit(f"{' '.join(argv[:4])} failed:\n{done.stdout}{done.stderr}")

    def query(self, expr: str, at: float) -> tuple[list[dict], int]:
        """(result, totalQueryableSamples) of an instant query."""
        answer = httpx.get(
            f"{self.url}/api/v1/query",
            params={"query": expr, "time": str(at), "stats": "all"},
            timeout=120,
        ).json()
        if answer.get("status") != "success":
            raise SystemExit(f"query failed: {expr}\n{answer}")
        data = answer["data"]
        return data["result"], int(data["stats"]["samples"]["totalQueryableSamples"])


@contextmanager
def served(binaries: dict[str, str], folder: Path) -> Iterator[Server]:
    server = Server(binaries, folder)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def samples_per_hour(server: Server, rules: list[Rule], at: int) -> int:
    return sum(server.query(r.body["expr"], at)[1] * 3600 // r.interval for r in rules)


def value(server: Server, expr: str, at: float) -> float:
    result, _ = server.query(expr, at)
    if len(result) != 1:
        raise SystemExit(f"{expr} at {at}: expected one series, got {len(result)}")
    return float(result[0]["value"][1])


def latest(server: Server, selector: str, at: float) -> tuple[float, float]:
    """(value, timestamp) of the newest sample of one series at or before `at`."""
    result, _ = server.query(f"{selector}[10m]", at)
    if len(result) != 1 or not result[0]["values"]:
        raise SystemExit(f"{selector} at {at}: expected one series, got {len(result)}")
    stamp, text = result[0]["values"][-1]
    return float(text), float(stamp)


def inlined(expr: str, rules: list[Rule]) -> str:
    """`expr` with every recorded series it reads at an instant replaced by the recording
    rule's own expression, recursively; series read over a range stay (they are backfilled).
    This is what one pass of a group computes: a rule reads the rules before it in the same
    evaluation, so the judged value needs no backfilled intermediate with its own timing."""
    recorded = {r.name: r.body["expr"] for r in rules if "record" in r.body}
    if not recorded:
        return expr
    names = "|".join(re.escape(n) for n in sorted(recorded, key=len, reverse=True))
    selector = re.compile(rf"(?<![\w:])({names})(\{{[^}}]*\}})?(?![\w:\[{{])")

    return selector.sub(lambda m: f"({inlined(recorded[m.group(1)], rules)})", expr)


def exact(month: Month, slo: SLO, seconds: int, at: float) -> float:
    ratio = month.availability if slo.sli.type == "error_ratio" else month.latency
    return ratio(at - seconds, at)


def judge_cost(
    server: Server,
    spec: ProviderSpec,
    relayops: dict[str, list[Rule]],
    sloth: dict[str, list[Rule]],
) -> bool:
    """Prints samples touched per hour of both rule sets per SLO; True when one misses."""
    missed = False
    print(f"\nsamples touched per hour (target: relayops / Sloth shape <= {MAX_RATIO}):")
    for slo in spec.slos:
        ours = samples_per_hour(server, relayops[slo.name], END)
        theirs = samples_per_hour(server, sloth[slo.name], END)
        ratio = ours / theirs
        missed |= ratio > MAX_RATIO
        verdict = "ok" if ratio <= MAX_RATIO else "ABOVE TARGET"
        print(
            f"  {slo.name:13} relayops {ours:>12,}  Sloth shape {theirs:>12,}  "
            f"ratio {ratio:.4f}  {verdict}"
        )
    return missed


def judge_accuracy(
    server: Server,
    specs: SpecSet,
    spec: ProviderSpec,
    month: Month,
    moments: dict[str, int],
    rule_sets: tuple[dict[str, list[Rule]], dict[str, list[Rule]]],
) -> bool:
    """Prints each 30d SLI and tile-derived burn ratio against the exact ratio; True when one
    of relayops' is off by more than MAX_SLI_ERROR. Sloth's SLI is printed for comparison.

    Each is judged at the period group's last evaluation before the moment (the newest tile),
    as that evaluation computes it: the exact ratio is of the window ending there."""
    missed = False
    relayops, sloth = rule_sets
    names = ProviderSeries(specs.service, spec)
    print(f"\nratios against the exact event ratio (target: relayops within {MAX_SLI_ERROR:.0%}):")
    for slo in spec.slos:
        match = format_series(tuple(sorted({**spec.selector, SLO_LABEL: slo.name}.items())))
        windows = [slo.period, *derived_windows(specs.service, slo)]
        tiles = names.slo_errors_increase(specs.service.period_rules_interval) + match
        ours = {r.name: r for r in relayops[slo.name]}
        period = format_duration(slo.period)
        theirs = next(r for r in sloth[slo.name] if r.name == sloth_shape.sli_name(period))
        for moment, at in moments.items():
            _, evaluated = latest(server, tiles, at)
            when = evaluated
            for seconds in windows:
                rule = ours[names.slo_error_ratio(seconds)]
                got = value(server, inlined(rule.body["expr"], relayops[slo.name]), when)
                truth = exact(month, slo, seconds, when)
                error = abs(got - truth) / truth
                missed |= error > MAX_SLI_ERROR
                verdict = "ok" if error <= MAX_SLI_ERROR else "OFF TARGET"
                print(
                    f"  {slo.name:12} {moment:26} relayops {format_duration(seconds):>3}: "
                    f"{got:.6f} exact {truth:.6f} off {error:6.3%}  {verdict}"
                )
            got = value(server, inlined(theirs.body["expr"], sloth[slo.name]), when)
            truth = exact(month, slo, slo.period, when)
            print(
                f"  {slo.name:12} {moment:26} Sloth    {period:>3}: "
                f"{got:.6f} exact {truth:.6f} off {abs(got - truth) / truth:6.3%}  (for comparison)"
            )
    return missed


def main() -> int:
    specs = load_specs(REPO / "specs")
    spec = specs.provider(PROVIDER)
    try:
        binaries = find_binaries(["prometheus", "promtool"])
    except DaemonError as error:
        print(error)
        return 2
    month = draw_month(END, days=max(slo.period for slo in spec.slos) // DAY)
    inside = month.start + month.incidents[-1].start + HOUR
    moments = {"end of data": END, "1 h into the last incident": inside}
    relayops = {slo.name: relayops_rules(specs, spec, slo) for slo in spec.slos}
    sloth = {slo.name: sloth_rules(specs, spec, slo) for slo in spec.slos}
    every = [r for rules in (*relayops.values(), *sloth.values()) for r in rules]
    ranged, by_level = levels(every)
    with tempfile.TemporaryDirectory(prefix="bench-rule-cost-") as tmp:
        folder = Path(tmp)
        raw = folder / "month.om"
        count = write_openmetrics(specs, spec, month, raw)
        print(f"{PROVIDER}: {count:,} raw samples over 30 days and an hour at a 15 s scrape")
        Server._run(
            [
                binaries["promtool"],
                "tsdb",
                "create-blocks-from",
                "openmetrics",
                "--max-block-duration=744h",
                str(raw),
                str(folder / "data"),
            ]
        )
        raw.unlink()
        with served(binaries, folder) as server:
            month_start = month.start + specs.service.period_rules_interval
            server.backfill(_rule_file(ranged, folder / "ranged.yml"), month_start, PAST_END)
            for index, rules in enumerate(by_level, 1):
                rule_file = _rule_file(rules, folder / f"level{index}.yml")
                server.backfill(rule_file, inside - 600, PAST_END)
            missed = judge_cost(server, spec, relayops, sloth)
            missed |= judge_accuracy(server, specs, spec, month, moments, (relayops, sloth))
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
