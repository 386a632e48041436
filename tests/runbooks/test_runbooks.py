"""Runbooks: one per alert, every runbook_url resolves, triage queries name real series."""

from __future__ import annotations

import re
import subprocess

import pytest
import yaml
from jinja2 import ChoiceLoader, DictLoader

from relayops.rules.alert_def import AlertDef
from relayops.rules.alerts import alert_defs
from relayops.rules.kinds import CATALOGUE
from relayops.rules.recording import recording_groups
from relayops.runbooks import check_runbook_links, render_runbooks
from relayops.runbooks.anchors import github_anchor, heading_anchors
from relayops.runbooks.relations import Inhibition
from relayops.runbooks.render import TEMPLATES, environment
from relayops.spec import SpecSet, load_specs
from relayops.spec.durations import format_duration
from relayops.spec.links import runbook_path
from tests.promtool_util import needs_promtool
from tests.specs_util import copy_specs, edit_yaml

PROMQL = re.compile(r"```promql\n(.*?)\n```", re.DOTALL)
NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
SECTION = re.compile(r"^## (.+)$", re.MULTILINE)
COMMANDS = (
    "relayops controller status --provider {p}",
    "relayops controller pause {p} --reason ",
    "relayops controller resume {p} --reason ",
    "relayops controller set-percent {p} 0 --reason ",
    "relayops controller history --provider {p}",
)


@pytest.fixture(scope="module")
def files(specs: SpecSet) -> dict[str, str]:
    return render_runbooks(specs)


def defs_of(specs: SpecSet) -> list[AlertDef]:
    return [a for spec in specs.providers for a in alert_defs(specs, spec)]


def urls_of(specs: SpecSet) -> list[str]:
    return [a.rule.annotations["runbook_url"] for a in defs_of(specs)]


def sections(markdown: str) -> dict[str, str]:
    """Level-2 heading text -> the text under it, up to the next level-2 heading."""
    parts = SECTION.split(markdown)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def promql_blocks(markdown: str) -> list[str]:
    return PROMQL.findall(markdown)


def series_names(query: str) -> set[str]:
    """Metric names in a query: what is left once strings, matchers, ranges, groupings, function
    calls and keywords are taken out."""
    bare = re.sub(r'"[^"]*"', "", query)
    bare = re.sub(r"\{[^}]*\}|\[[^\]]*\]", "", bare)
    bare = re.sub(r"\b(by|without|on|ignoring)\s*\([^)]*\)", "", bare)
    return {
        m.group()
        for m in NAME.finditer(bare)
        if not bare[m.end() :].lstrip().startswith("(")
        and m.group() not in ("and", "or", "unless", "bool", "offset")
    }


def recorded_names(specs: SpecSet) -> set[str]:
    return {
        rule.record
        for spec in specs.providers
        for group in recording_groups(specs, spec)
        for rule in group.rules
    }


# resolution ---------------------------------------------------------------------------------


def test_every_runbook_url_resolves_to_a_rendered_file_and_heading(specs, files):
    urls = urls_of(specs)
    assert len(urls) > 30
    assert check_runbook_links(specs, files, urls) == []
    for alert in defs_of(specs):
        path = runbook_path(alert.name)
        anchor = alert.rule.annotations["runbook_url"].partition("#")[2]
        assert anchor in (
            "critical",
            "warning",
            "info",
            "page_fast",
            "page_slow",
            "ticket_fast",
            "ticket_slow",
        ), alert.name
        assert heading_anchors(files[path]).count(anchor) == 1, (path, anchor)


def test_one_runbook_per_alert_name_plus_the_index(specs, files):
    names = {a.name for a in defs_of(specs)}
    assert set(files) == {runbook_path(n) for n in names} | {runbook_path("index")}
    for name in names:
        assert files[runbook_path(name)].splitlines()[1] == f"# {name}"


def test_rendering_is_deterministic(specs, files):
    assert render_runbooks(specs) == files


# content ------------------------------------------------------------------------------------


def test_triage_queries_name_only_recorded_or_catalog_series(specs, files):
    recorded = recorded_names(specs)
    catalog = {
        m.series(suffix)
        for m in specs.service.metrics.values()
        for suffix in ("", "_bucket", "_count", "_sum")
    }
    for path, text in files.items():
        if path == runbook_path("index"):
            continue
        queries = promql_blocks(sections(text)["How to triage"])
        assert len(queries) >= 3, path
        names = set().union(*(series_names(q) for q in queries))
        recorded_here = {n for n in names if ":" in n}
        assert recorded_here <= recorded, (path, recorded_here - recorded)
        assert names - recorded_here <= catalog | {"up"}, (path, names - recorded_here)
        if "RolloutController" not in path:
            assert recorded_here, f"{path} triages without any recorded series"


def test_burn_runbooks_show_both_windows_of_every_tier(specs, files):
    for alert in defs_of(specs):
        if alert.kind != "burn":
            continue
        section = sections(files[runbook_path(alert.name)])[f"`{alert.tier.name}`"]
        queries = promql_blocks(section)
        assert queries[0] == alert.rule.expr.render()
        for window in ("long_window", "short_window"):
            suffix = f"ratio_rate{format_duration(getattr(alert.tier, window))}"
            ratio = next(n for n in series_names(queries[0]) if n.endswith(suffix))
            assert any(
                q.startswith(ratio) and q.endswith(f"/ {alert.slo.error_budget:g}")
                for q in queries[1:]
            ), (alert.name, window)
        assert f"for {format_duration(alert.tier.for_)}" in section
        assert f"{alert.level:g}×" in section


@needs_promtool
def test_every_runbook_query_parses_with_promtool(files, tmp_path):
    queries = sorted({q for text in files.values() for q in promql_blocks(text)})
    assert len(queries) > 50
    rules = [{"record": f"runbook:query{i}:check", "expr": q} for i, q in enumerate(queries)]
    path = tmp_path / "queries.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "runbook-queries", "rules": rules}]}))
    proc = subprocess.run(
        ["promtool", "check", "rules", str(path)], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_controller_commands_name_the_right_provider(specs, files):
    for spec in specs.providers:
        others = [p.name for p in specs.providers if p is not spec]
        for alert in alert_defs(specs, spec):
            text = sections(files[runbook_path(alert.name)])["How to mitigate"]
            for command in COMMANDS:
                assert command.format(p=spec.name) in text, (alert.name, command)
            for other in others:
                assert f"--provider {other}" not in text, alert.name
                assert f"controller pause {other}" not in text, alert.name


def test_send_path_runbooks_carry_the_provider_api_facts(files):
    gmail = sections(files[runbook_path("GmailErrorRatioHigh")])["How to mitigate"]
    outlook = sections(files[runbook_path("OutlookAvailabilityBudgetBurn")])["How to mitigate"]
    assert "userRateLimitExceeded" in gmail and "Retry-After" not in gmail
    assert "Retry-After" in outlook and "userRateLimitExceeded" not in outlook
    stalled = sections(files[runbook_path("OutlookRolloutControllerStalled")])["How to mitigate"]
    assert "Retry-After" not in stalled


def test_escalation_names_the_team_and_receivers_but_no_secret(specs, files):
    secrets = {r.secret_file for r in specs.service.receivers.values()}
    for alert in defs_of(specs):
        text = files[runbook_path(alert.name)]
        escalation = sections(text)["Who to escalate to"]
        assert specs.service.team in escalation
        receiver = specs.service.receivers[alert.severity]
        assert (receiver.channel or "PagerDuty") in escalation, alert.name
        assert not any(secret in text for secret in secrets), alert.name


def test_sections_carry_the_spec_thresholds_and_dashboard(specs, files):
    for alert in defs_of(specs):
        text = files[runbook_path(alert.name)]
        section = sections(text)[f"`{alert.rule.annotations['runbook_url'].partition('#')[2]}`"]
        assert alert.rule.expr.render() in section
        assert f"**{alert.severity}**" in section
        assert alert.rule.annotations["dashboard_url"] in text
    error_ratio = sections(files[runbook_path("GmailErrorRatioHigh")])
    assert "above 5%, judged only above 0.1 req/s, for 5m" in error_ratio["`critical`"]


def test_related_alerts_and_inhibition(specs, files):
    inhibits = Inhibition(specs).silences
    gmail = {
        a.name + "#" + a.rule.annotations["runbook_url"].partition("#")[2]: a
        for a in alert_defs(specs, specs.provider("gmail"))
    }
    missing = gmail["GmailMetricsMissing#critical"]
    assert inhibits(missing, gmail["GmailErrorRatioHigh#warning"])
    assert inhibits(missing, gmail["GmailAvailabilityBudgetBurn#page_fast"])
    assert not inhibits(missing, gmail["GmailRolloutControllerStalled#warning"])
    assert not inhibits(missing, gmail["GmailRolloutControllerFailing#warning"])
    assert inhibits(gmail["GmailErrorRatioHigh#critical"], gmail["GmailErrorRatioHigh#warning"])
    assert not inhibits(gmail["GmailErrorRatioHigh#warning"], gmail["GmailErrorRatioHigh#critical"])
    fast, slow = (
        gmail["GmailAvailabilityBudgetBurn#page_fast"],
        gmail["GmailAvailabilityBudgetBurn#page_slow"],
    )
    assert inhibits(fast, slow) and not inhibits(slow, fast)
    assert not inhibits(fast, gmail["GmailLatencyBudgetBurn#page_slow"])

    burn = sections(files[runbook_path("GmailAvailabilityBudgetBurn")])
    assert (
        "(GmailAvailabilityBudgetBurn.md#page_slow)"
        in burn["`page_fast`"].split("Silenced while")[0]
    )
    ticket_slow = burn["`ticket_slow`"].split("Silenced while")[1]
    for tier in ("page_fast", "page_slow", "ticket_fast"):
        assert f"(GmailAvailabilityBudgetBurn.md#{tier})" in ticket_slow
    assert "(GmailMetricsMissing.md#critical)" in ticket_slow
    assert "(GmailErrorRatioHigh.md#critical)" in burn["Related alerts"]
    assert "(OutlookAvailabilityBudgetBurn.md#page_fast)" in burn["Related alerts"]
    stalled = files[runbook_path("GmailRolloutControllerStalled")]
    assert "GmailMetricsMissing.md" not in sections(stalled)["`warning`"]
    assert "Nothing silences it." in sections(stalled)["`warning`"]


def test_index_lists_every_alert_under_its_severity(specs, files):
    index = sections(files[runbook_path("index")])
    assert list(index) == ["Critical", "Warning", "Info"]
    for alert in defs_of(specs):
        link = f"]({alert.name}.md#{alert.rule.annotations['runbook_url'].partition('#')[2]})"
        for severity, text in index.items():
            assert (link in text) == (severity.lower() == alert.severity), (alert.name, severity)


# broken cases -------------------------------------------------------------------------------


def test_a_missing_runbook_file_is_reported(specs, files):
    broken = {k: v for k, v in files.items() if k != runbook_path("GmailLatencyHigh")}
    problems = check_runbook_links(specs, broken, urls_of(specs))
    assert any("GmailLatencyHigh.md#warning" in p and "is not rendered" in p for p in problems)
    assert any(
        p.startswith("runbooks/index.md: link GmailLatencyHigh.md#critical") for p in problems
    )


def test_a_removed_heading_is_reported(specs, files):
    path = runbook_path("OutlookOauthRefreshFailing")
    broken = dict(files)
    broken[path] = broken[path].replace("## `critical`\n", "")
    problems = check_runbook_links(specs, broken, urls_of(specs))
    assert any(
        "OutlookOauthRefreshFailing.md#critical" in p and "no heading with anchor #critical" in p
        for p in problems
    ), problems
    assert not any("#warning" in p for p in problems)


def test_a_template_without_section_headings_breaks_every_link(specs):
    base = (TEMPLATES / "runbook.md.j2").read_text()
    assert "## `{{ s.link.anchor }}`" in base
    env = environment()
    override = DictLoader({"runbook.md.j2": base.replace("## `{{ s.link.anchor }}`", "### Rule")})
    env.loader = ChoiceLoader([override, env.loader])
    problems = check_runbook_links(specs, render_runbooks(specs, env), urls_of(specs))
    assert len([p for p in problems if p.startswith("runbook_url")]) == len(urls_of(specs))


def test_a_spec_change_is_caught_against_old_runbooks(specs, files, tmp_path):
    """Renamed alerts and tiers: links of the edited spec fail against the old runbooks."""
    folder = copy_specs(tmp_path)
    tier = {
        "name": "page",
        "severity": "critical",
        "long_window": "1h",
        "short_window": "5m",
        "budget_consumed": 0.02,
        "for": "2m",
        "min_events": 100,
    }

    def change(data: dict) -> None:
        data["display_name"] = "GoogleMail"
        data["slos"][0]["tiers"] = [tier]

    edit_yaml(folder / "gmail.yaml", change)
    edited = load_specs(folder)
    stale = check_runbook_links(edited, files, urls_of(edited))
    assert any("runbooks/GoogleMailErrorRatioHigh.md is not rendered" in p for p in stale)
    assert check_runbook_links(edited, render_runbooks(edited), urls_of(edited)) == []

    edit_yaml(folder / "gmail.yaml", lambda data: data.update(display_name="Gmail"))
    renamed_tier = load_specs(folder)
    problems = check_runbook_links(renamed_tier, files, urls_of(renamed_tier))
    assert problems == [
        f"runbook_url {url}: runbooks/GmailAvailabilityBudgetBurn.md has no heading with "
        "anchor #page"
        for url in urls_of(renamed_tier)
        if url.endswith("GmailAvailabilityBudgetBurn.md#page")
    ]


def test_a_runbook_base_url_off_the_rendered_folder_is_caught(tmp_path):
    folder = copy_specs(tmp_path)
    edit_yaml(
        folder / "service.yaml",
        lambda data: data.update(
            runbook_base_url="https://github.com/relay/relayops/blob/main/runbooks"
        ),
    )
    broken = load_specs(folder)
    problems = check_runbook_links(broken, render_runbooks(broken), urls_of(broken))
    assert len(problems) == 1 and "must end with /rendered/runbooks" in problems[0]


def test_urls_outside_the_base_or_without_a_file_are_caught(specs, files):
    base = specs.service.runbook_base_url
    problems = check_runbook_links(
        specs, files, ["https://example.com/GmailLatencyHigh.md#warning", f"{base}/#warning"]
    )
    assert len(problems) == 2
    assert "is not under runbook_base_url" in problems[0]
    assert "does not name a runbook file" in problems[1]


# anchors ------------------------------------------------------------------------------------


def test_github_anchors():
    assert github_anchor("`page_fast`") == "page_fast"
    assert github_anchor("What it means") == "what-it-means"
    assert github_anchor("Who to escalate to?") == "who-to-escalate-to"
    assert github_anchor("[Link](x.md) *bold*") == "link-bold"
    text = "# A\n\n## Same\n\n```promql\n# not a heading\n```\n\n## Same\n### `x_y` ##\n"
    assert heading_anchors(text) == ["a", "same", "same-1", "x_y"]


def test_fixed_headings_cannot_collide_with_tier_or_severity_anchors(files):
    """Fixed headings have hyphenated anchors; tier names and severities are snake_case."""
    text = files[runbook_path("GmailAvailabilityBudgetBurn")]
    fixed = [
        a
        for a in heading_anchors(text)
        if a not in ("page_fast", "page_slow", "ticket_fast", "ticket_slow")
    ]
    assert fixed[1:] and all("-" in a for a in fixed[1:]), fixed


def test_runbook_templates_exist_for_every_alert_kind():
    """One template per kind, directly in templates/ (pyproject packages templates/*.j2)."""
    kinds = sorted(
        p.name.removeprefix("kind_").removesuffix(".md.j2") for p in TEMPLATES.glob("kind_*.md.j2")
    )
    assert kinds == sorted(kind.name for kind in CATALOGUE)
    assert not [p for p in TEMPLATES.rglob("*") if p.parent != TEMPLATES]
