"""What a runbook page says, gathered from the spec and the alert rules it documents."""

from __future__ import annotations

from dataclasses import dataclass

from relayops.alertmanager.receivers import receiver_name
from relayops.rules.alert_def import AlertDef, level_text
from relayops.rules.alerts import alert_defs
from relayops.rules.kind import Kind
from relayops.rules.layout import alerts_file
from relayops.rules.measure import Absence, BudgetBurn
from relayops.runbooks.queries import Step, section_steps, triage_steps
from relayops.runbooks.relations import Inhibition, same_subject, topic
from relayops.spec import SpecSet
from relayops.spec.durations import format_duration
from relayops.spec.metrics import Role
from relayops.spec.provider import ProviderSpec
from relayops.spec.service import SEVERITIES, ServiceSpec
from relayops.spec.units import percent as pct


@dataclass(frozen=True)
class Link:
    """A pointer to one section of an alert's runbook."""

    alert: str
    anchor: str
    severity: str

    @property
    def href(self) -> str:
        return f"{self.alert}.md#{self.anchor}"


@dataclass(frozen=True)
class Section:
    """One rule of the alert (a severity or a burn tier): the target of its runbook_url."""

    link: Link
    rule: AlertDef
    condition: str
    wait: str
    expr: str
    description: str
    receiver: str
    steps: tuple[Step, ...]
    silences: tuple[Link, ...]
    silenced_by: tuple[Link, ...]


@dataclass(frozen=True)
class Page:
    name: str
    kind: Kind
    spec: ProviderSpec
    first: AlertDef
    sections: tuple[Section, ...]
    inhibit_reasons: tuple[str, ...]
    triage: tuple[Step, ...]
    related: tuple[Link, ...]
    elsewhere: tuple[Link, ...]
    dashboards: tuple[str, ...]
    alerts_file: str


def receiver_text(service: ServiceSpec, severity: str) -> str:
    """Where a severity is delivered, by name only: never the secret."""
    receiver = service.receivers[severity]
    where = "PagerDuty, paging the on-call" if receiver.type == "pagerduty" else receiver.channel
    return f"`{receiver_name(service, severity)}` ({where})"


def quantity(alert: AlertDef) -> str:
    """What a threshold alert compares with its level, in words, over its window."""
    window = getattr(alert.measure, "window", None)
    return alert.what if window is None else f"{alert.what} over {format_duration(window)}"


def guard_unit(specs: SpecSet, alert: AlertDef) -> str:
    """The rate a guard (`judged only above …`) is written in: requests, or other events."""
    requests = specs.metric(Role.REQUESTS)
    return "req/s" if alert.guarded_by.metric == requests else "events/s"


def condition(specs: SpecSet, spec: ProviderSpec, alert: AlertDef) -> str:
    """The firing condition in words, with the numbers from the spec."""
    if isinstance(alert.measure, BudgetBurn):
        slo, tier = alert.slo, alert.tier
        now = (
            f", and the budget burning over the last {format_duration(slo.now_window)} too"
            if slo.checks_now(tier)
            else ""
        )
        return (
            f"burn rate above {alert.level:g}× over both {format_duration(tier.long_window)} and "
            f"{format_duration(tier.short_window)} (error ratio above "
            f"{pct(slo.threshold(tier))} against an objective of {pct(slo.objective)}), with at "
            f"least {tier.min_events} requests in {format_duration(tier.long_window)} or, below "
            f"that, at least {tier.min_bad_events} bad events making up "
            f"{pct(tier.low_traffic_bad_share)} of them (an empty "
            f"{format_duration(tier.short_window)} counts as still failing){now}"
        )
    if isinstance(alert.measure, Absence):
        return f"no {alert.what} for this provider and action"
    guard = f", judged only above {alert.guard:g} {guard_unit(specs, alert)}" if alert.guard else ""
    return f"{quantity(alert)} above {level_text(alert)}{guard}"


def _links(alerts: list[AlertDef]) -> tuple[Link, ...]:
    seen: dict[tuple[str, str], Link] = {}
    for a in alerts:
        seen.setdefault((a.name, a.anchor), Link(a.name, a.anchor, a.severity))
    return tuple(seen.values())


def _by_name(alerts: list[AlertDef]) -> dict[str, list[AlertDef]]:
    groups: dict[str, list[AlertDef]] = {}
    for a in alerts:
        groups.setdefault(a.name, []).append(a)
    return groups


def _section(
    specs: SpecSet, spec: ProviderSpec, rule: AlertDef, own: list[AlertDef], inhibition: Inhibition
) -> Section:
    return Section(
        link=Link(rule.name, rule.anchor, rule.severity),
        rule=rule,
        condition=condition(specs, spec, rule),
        wait=format_duration(rule.rule.for_seconds) if rule.rule.for_seconds else "0s",
        expr=rule.rule.expr.render(),
        description=rule.rule.annotations["description"],
        receiver=receiver_text(specs.service, rule.severity),
        steps=tuple(section_steps(specs, spec, rule)),
        silences=_links([t for t in own if inhibition.silences(rule, t)]),
        silenced_by=_links([s for s in own if inhibition.silences(s, rule)]),
    )


def pages(specs: SpecSet) -> list[Page]:
    """One page per alert name, every provider, in rendering order."""
    defs = {spec.name: alert_defs(specs, spec) for spec in specs.providers}
    inhibition = Inhibition(specs)
    out = []
    for spec in specs.providers:
        own = defs[spec.name]
        others = [a for other, alerts in defs.items() if other != spec.name for a in alerts]
        for name, rules in _by_name(own).items():
            first = rules[0]
            subject = topic(first)
            out.append(
                Page(
                    name=name,
                    kind=first.kind,
                    spec=spec,
                    first=first,
                    sections=tuple(_section(specs, spec, r, own, inhibition) for r in rules),
                    inhibit_reasons=tuple(r.reason for r in inhibition.involving(rules)),
                    triage=tuple(triage_steps(specs, spec, first)),
                    related=_links(
                        [a for a in own if a.name != name and subject and topic(a) == subject]
                    ),
                    elsewhere=_links([a for a in others if same_subject(first, a)]),
                    dashboards=tuple(
                        dict.fromkeys(r.rule.annotations["dashboard_url"] for r in rules)
                    ),
                    alerts_file=alerts_file(spec, first.kind.group),
                )
            )
    return out


def by_severity(all_pages: list[Page]) -> dict[str, list[tuple[Page, Section]]]:
    """Index entries: every section of every page under its severity."""
    groups: dict[str, list[tuple[Page, Section]]] = {s: [] for s in SEVERITIES}
    for page in all_pages:
        for section in page.sections:
            groups[section.link.severity].append((page, section))
    return groups
