"""Load specs/ into one validated SpecSet: the service file plus one file per provider."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from relayops.spec.durations import format_duration
from relayops.spec.errors import Loc, SpecError, SpecIssue
from relayops.spec.metrics import Role, check_catalog
from relayops.spec.provider import ProviderSpec
from relayops.spec.service import ServiceSpec
from relayops.spec.slo import BurnTier
from relayops.spec.yamlsource import YamlSource, read_yaml

SERVICE_FILE = "service.yaml"


@dataclass(frozen=True)
class SpecSet:
    service: ServiceSpec
    providers: tuple[ProviderSpec, ...]

    def metric(self, role: str):
        return self.service.metrics[role]

    def provider(self, name: str) -> ProviderSpec:
        for spec in self.providers:
            if name in (spec.name, spec.provider):
                return spec
        known = ", ".join(p.name for p in self.providers)
        raise KeyError(f"no provider {name!r} in the specs (known: {known})")


_HINTS = {
    "extra_forbidden": "unknown key: remove it or fix its spelling",
    "missing": "required key is missing: add it",
    "literal_error": "",
    "union_tag_invalid": "",
}


def _pydantic_issues(source: YamlSource, exc: ValidationError) -> list[SpecIssue]:
    issues = []
    for err in exc.errors():
        loc: Loc = tuple(err["loc"])
        kind = err["type"]
        message = _HINTS.get(kind) or err["msg"].removeprefix("Value error, ")
        if kind not in ("missing", "extra_forbidden") and "input" in err:
            given = err["input"]
            if not isinstance(given, dict | list):
                message += f" (got {given!r})"
        issues.append(SpecIssue(source.path, loc, message, source.line_of(loc)))
    return issues


def _parse(source: YamlSource, model):
    try:
        return model.model_validate(source.data), []
    except ValidationError as exc:
        return None, _pydantic_issues(source, exc)


def load_specs(directory: Path) -> SpecSet:
    """Read and validate every spec under `directory`; raise SpecError listing every problem."""
    directory = Path(directory)
    if not directory.is_dir():
        raise SpecError([SpecIssue(directory, (), "spec folder not found; pass --specs DIR")])
    service_path = directory / SERVICE_FILE
    provider_paths = sorted(p for p in directory.glob("*.yaml") if p.name != SERVICE_FILE)
    issues: list[SpecIssue] = []
    if not service_path.is_file():
        issues.append(SpecIssue(service_path, (), "missing: the service-wide settings file"))
    if not provider_paths:
        issues.append(SpecIssue(directory, (), "no provider specs (*.yaml) found; add one"))
    if issues:
        raise SpecError(issues)

    sources: dict[Path, YamlSource] = {}
    parsed: dict[Path, object] = {}
    for path in [service_path, *provider_paths]:
        source, read_issues = read_yaml(path)
        issues += read_issues
        if source is None or read_issues:
            continue
        sources[path] = source
        model = ServiceSpec if path == service_path else ProviderSpec
        spec, parse_issues = _parse(source, model)
        issues += parse_issues
        if spec is not None:
            parsed[path] = spec
    if issues:
        raise SpecError(issues)

    specs = SpecSet(
        service=parsed[service_path], providers=tuple(parsed[p] for p in provider_paths)
    )
    check_spec_set(specs, service_path, provider_paths, sources)
    return specs


def check_spec_set(
    specs: SpecSet,
    service_path: Path,
    provider_paths: list[Path],
    sources: dict[Path, YamlSource] | None = None,
) -> None:
    """Checks that span files (catalog roles, windows, tiers); raise SpecError on problems."""
    problems = list(
        _cross_checks(
            specs.service, dict(zip(provider_paths, specs.providers, strict=True)), service_path
        )
    )
    if problems:
        raise SpecError(
            [
                SpecIssue(path, loc, msg, sources[path].line_of(loc) if sources else None)
                for path, loc, msg in problems
            ]
        )


Problem = tuple[Path, Loc, str]


def _cross_checks(
    service: ServiceSpec, providers: dict[Path, ProviderSpec], service_path: Path
) -> Iterator[Problem]:
    for dotted, message in check_catalog(service.metrics):
        yield service_path, tuple(dotted.split(".")), message
    min_window = 2 * service.scrape_interval
    if service.rate_window < min_window:
        yield service_path, ("rate_window",), _too_short(service.rate_window, min_window)
    seen: dict[str, dict[str, Path]] = {"name": {}, "provider": {}, "display_name": {}}
    for path, spec in providers.items():
        if spec.name != path.stem:
            yield path, ("name",), f"must equal the file name {path.stem!r} (got {spec.name!r})"
        for field, owners in seen.items():
            value = getattr(spec, field)
            if value in owners:
                yield path, (field,), f"{value!r} is already used by {owners[value]}"
            owners[value] = path
        yield from ((path, loc, msg) for loc, msg in _provider_checks(service, spec, min_window))


def _too_short(seconds: int, minimum: int) -> str:
    return (
        f"{seconds}s is shorter than 2 × scrape_interval ({minimum}s): a rate over it can miss "
        f"samples; use at least {minimum}s"
    )


def _derived_window_checks(service: ServiceSpec, tier: BurnTier) -> Iterator[tuple[Loc, str]]:
    """A window of at least long_windows_from is summed from tiles of period_rules_interval:
    it must hold whole tiles, and the tier must wait at least one interval before firing."""
    interval = format_duration(service.period_rules_interval)
    derived = [
        name
        for name in ("long_window", "short_window")
        if getattr(tier, name) >= service.long_windows_from
    ]
    for name in derived:
        seconds = getattr(tier, name)
        if seconds % service.period_rules_interval:
            whole = format_duration(
                -(-seconds // service.period_rules_interval) * service.period_rules_interval
            )
            yield (
                (name,),
                f"{format_duration(seconds)} is derived from {interval} tiles (it is at least "
                f"long_windows_from, {format_duration(service.long_windows_from)}) and must be "
                f"a multiple of period_rules_interval ({interval}); use {whole}",
            )
    if derived and tier.for_ < service.period_rules_interval:
        yield (
            ("for",),
            f"{format_duration(tier.for_)} is shorter than period_rules_interval ({interval}), "
            f"the interval at which this tier's {' and '.join(derived)} are derived; make "
            f"`for` at least {interval}",
        )


def _provider_checks(
    service: ServiceSpec, spec: ProviderSpec, min_window: int
) -> Iterator[tuple[Loc, str]]:
    metrics = service.metrics
    statuses = metrics[Role.REQUESTS].values.get("status", ())
    buckets = metrics[Role.LATENCY].buckets or ()
    for i, slo in enumerate(spec.slos):
        sli = slo.sli
        if sli.type == "error_ratio":
            unknown = sorted(set(sli.error_statuses) - set(statuses))
            if unknown:
                yield (
                    ("slos", i, "sli", "error_statuses"),
                    (f"{unknown} are not statuses of the requests metric {list(statuses)}"),
                )
        elif sli.threshold_seconds not in buckets:
            yield (
                ("slos", i, "sli", "threshold_seconds"),
                (
                    f"{sli.threshold_seconds} is not a bucket boundary of "
                    f"{metrics[Role.LATENCY].name} {list(buckets)}; pick one of them or add "
                    "the bucket"
                ),
            )
        for j, tier in enumerate(slo.tiers):
            for window in ("long_window", "short_window"):
                if getattr(tier, window) < min_window:
                    yield (
                        ("slos", i, "tiers", j, window),
                        _too_short(getattr(tier, window), min_window),
                    )
            yield from (
                (("slos", i, "tiers", j, *loc), message)
                for loc, message in _derived_window_checks(service, tier)
            )
            factor = tier.factor(slo.period)
            if factor * slo.error_budget >= 1:
                needed = 1 - 1 / factor
                yield (
                    ("slos", i, "tiers", j),
                    (
                        f"tier {tier.name} can never fire: factor {factor:g} × "
                        f"(1 − {slo.objective:g}) = {factor * slo.error_budget:.4g} ≥ 1, an error "
                        "ratio above 100%. Raise the "
                        f"objective above {needed:.6g}, or lower budget_consumed / lengthen "
                        f"long_window so the factor is below {1 / slo.error_budget:.4g}"
                    ),
                )
    if spec.thresholds.metrics_missing.for_ < min_window:
        yield (
            ("thresholds", "metrics_missing", "for"),
            _too_short(spec.thresholds.metrics_missing.for_, min_window),
        )
    if spec.thresholds.controller_failing.window < min_window:
        yield (
            ("thresholds", "controller_failing", "window"),
            _too_short(spec.thresholds.controller_failing.window, min_window),
        )
    for i, failure in enumerate(spec.rollout.health.failures):
        metric = metrics.get(failure.metric)
        where = ("rollout", "health", "failures", i)
        if metric is None or metric.type != "counter":
            yield (
                (*where, "metric"),
                f"{failure.metric!r} must be a counter of the service metric catalog "
                f"({', '.join(sorted(k for k, m in metrics.items() if m.type == 'counter'))})",
            )
        elif failure.value not in metric.values.get(failure.label, ()):
            yield (
                (*where, "value"),
                f"{failure.label}={failure.value!r} is not a known value of {metric.name} "
                f"({metric.values.get(failure.label, ())}); fix label or value",
            )
    for i, signal in enumerate(spec.signals):
        metric = metrics.get(signal.metric)
        if metric is None:
            yield (
                ("signals", i, "metric"),
                (
                    f"{signal.metric!r} is not in the service metric catalog "
                    f"({', '.join(sorted(metrics))}); add it to service.yaml or fix the key"
                ),
            )
            continue
        alert = signal.alert
        if alert is None:
            continue
        wanted = {
            "quantile_above": "histogram",
            "per_request_above": "counter",
            "ratio_above": "counter",
        }[alert.kind]
        if metric.type != wanted:
            yield (
                ("signals", i, "alert", "kind"),
                (f"{alert.kind} needs a {wanted} metric; {metric.name} is a {metric.type}"),
            )
        if alert.kind == "ratio_above":
            if alert.label not in metric.labels:
                yield (
                    ("signals", i, "alert", "label"),
                    (f"{alert.label!r} is not a label of {metric.name} {list(metric.labels)}"),
                )
                continue
            known = metric.values.get(alert.label, ())
            for side in ("numerator", "denominator"):
                unknown = sorted(set(getattr(alert, side) or ()) - set(known))
                if unknown:
                    yield (
                        ("signals", i, "alert", side),
                        (
                            f"{unknown} are not known values of {alert.label} "
                            f"({list(known)}); list them under metrics.{signal.metric}.values"
                        ),
                    )
