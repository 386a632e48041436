"""promtool input series for a scenario: the raw counters a provider's adapter would expose.

Names and labels are read from the spec files as YAML (the input the project renders from),
never from the project's code; the rendered rule files under test are read the same way.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
SPECS = ROOT / "specs"
RENDERED = ROOT / "rendered" / "prometheus"
FAST_SECONDS = 0.01  # an ordinary request: below every bucket


@dataclass(frozen=True)
class Target:
    """One SLO of one provider, as the spec files describe it."""

    provider_file: str  # gmail, outlook
    provider: str
    action: str
    slo: str
    sli: str  # error_ratio or latency
    objective: float
    threshold: float | None
    requests: str
    latency: str
    buckets: tuple[float, ...]
    alertname: str

    @property
    def budget(self) -> float:
        return 1 - self.objective

    @property
    def rule_files(self) -> list[str]:
        name = self.provider_file
        return [
            str(RENDERED / f"{name}.{kind}.yml")
            for kind in ("rules", "slo", "period.rules", "alerts")
        ]

    @property
    def group_order(self) -> list[str]:
        """Recording groups before alert groups, each in file order. promtool orders groups it
        is not told about at random, and an alert evaluated before the rates it reads sees
        nothing when the step is longer than the 5-minute lookback."""
        groups = [
            group
            for path in self.rule_files
            for group in yaml.safe_load(Path(path).read_text())["groups"]
        ]
        alerting = [g["name"] for g in groups if any("alert" in r for r in g["rules"])]
        return [g["name"] for g in groups if g["name"] not in alerting] + alerting


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def service_seconds(key: str) -> int:
    """A single-unit duration of service.yaml (`5m`), in seconds."""
    text = str(yaml.safe_load((SPECS / "service.yaml").read_text())[key])
    return int(text[:-1]) * _UNITS[text[-1]]


def _burn_alertname(provider_file: str, slo: str) -> str:
    """The alert of the rendered file whose rules carry this SLO and a burn tier."""
    text = (RENDERED / f"{provider_file}.slo.yml").read_text()
    names = {
        rule["alert"]
        for group in yaml.safe_load(text)["groups"]
        for rule in group["rules"]
        if rule.get("labels", {}).get("slo") == slo and "burn_tier" in rule.get("labels", {})
    }
    assert len(names) == 1, f"{provider_file}: burn alerts of SLO {slo}: {sorted(names)}"
    return names.pop()


def targets() -> list[Target]:
    service = yaml.safe_load((SPECS / "service.yaml").read_text())
    metrics = service["metrics"]
    out = []
    for path in sorted(SPECS.glob("*.yaml")):
        if path.name == "service.yaml":
            continue
        spec = yaml.safe_load(path.read_text())
        for slo in spec["slos"]:
            out.append(
                Target(
                    provider_file=path.stem,
                    provider=spec["provider"],
                    action=spec["action"],
                    slo=slo["name"],
                    sli=slo["sli"]["type"],
                    objective=slo["objective"],
                    threshold=slo["sli"].get("threshold_seconds"),
                    requests=metrics["requests"]["name"],
                    latency=metrics["latency"]["name"],
                    buckets=tuple(float(b) for b in metrics["latency"]["buckets"]),
                    alertname=_burn_alertname(path.stem, slo["name"]),
                )
            )
    return out


@dataclass(frozen=True)
class Phase:
    seconds: int
    per_second: float  # requests per second
    bad_share: float  # of them failed (availability) or slower than the threshold (latency)
    scraped: bool = True  # False: no sample at all (traffic must then be zero)

    def __post_init__(self) -> None:
        if not self.scraped and self.per_second:
            raise ValueError("a phase without samples carries no traffic")


@dataclass(frozen=True)
class Exposition:
    """How the counters reach Prometheus."""

    go_le: bool = False  # `le="2"` as the Pushgateway re-exposes it, not prometheus_client's "2.0"
    pushed_labels: bool = False  # job/instance kept from the push (honor_labels)
    reset_at: int | None = None  # seconds: every counter restarts from zero here
    absent: bool = False  # no series at all


def _le(bound: float, go: bool) -> str:
    if bound == float("inf"):
        return "+Inf"
    return f"{bound:g}" if go else repr(bound)


def _series(name: str, labels: dict[str, str]) -> str:
    inner = ", ".join(f'{k}="{v}"' for k, v in labels.items())
    return f"{name}{{{inner}}}"


def input_series(
    target: Target, phases: list[Phase], step: int, exposition: Exposition
) -> list[dict[str, str]]:
    """Counters sampled every `step` seconds from t=0, starting at zero."""
    if exposition.absent:
        return [{"series": 'unrelated_gauge{job="other"}', "values": f"1x{_steps(phases, step)}"}]
    base = {"provider": target.provider, "action": target.action}
    if exposition.pushed_labels:
        base = {"job": "relay-synth", "instance": "", **base}
    threshold = target.threshold or 0.0
    slow_seconds = next((b for b in target.buckets if b > threshold), float("inf"))
    values: dict[str, list[float]] = defaultdict(lambda: [0.0])
    t = 0
    for phase in phases:
        for _ in range(phase.seconds // step):
            t += step
            n = phase.per_second * step
            bad = n * phase.bad_share
            gained: dict[str, float] = {}
            if target.sli == "error_ratio":
                ok = _series(target.requests, {**base, "status": "success"})
                failed = _series(target.requests, {**base, "status": "error"})
                gained = {ok: n - bad, failed: bad}
            else:
                status = {**base, "status": "success"}
                gained[_series(target.requests, status)] = n
                for bound in (*target.buckets, float("inf")):
                    below = (n - bad if bound >= FAST_SECONDS else 0) + (
                        bad if bound >= slow_seconds else 0
                    )
                    le = _le(bound, exposition.go_le)
                    gained[_series(f"{target.latency}_bucket", {**status, "le": le})] = below
                gained[_series(f"{target.latency}_count", status)] = n
            for key, amount in gained.items():
                history = values[key]
                if len(history) < t // step:
                    history += [history[-1]] * (t // step - len(history))
                start = 0.0 if exposition.reset_at == t else history[-1]
                history.append(start + amount)
    end = t // step
    for history in values.values():
        history += [history[-1]] * (end + 1 - len(history))
    unscraped = _unscraped(phases, step)
    return [
        {
            "series": key,
            "values": " ".join(
                "_" if i in unscraped else f"{v:.12g}" for i, v in enumerate(history)
            ),
        }
        for key, history in sorted(values.items())
    ]


def _unscraped(phases: list[Phase], step: int) -> set[int]:
    """The sample indexes that fall in phases without samples."""
    out: set[int] = set()
    i = 0
    for phase in phases:
        for _ in range(phase.seconds // step):
            i += 1
            if not phase.scraped:
                out.add(i)
    return out


def _steps(phases: list[Phase], step: int) -> int:
    return sum(p.seconds for p in phases) // step
