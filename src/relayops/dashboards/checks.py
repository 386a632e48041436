"""Offline checks of rendered dashboards: SDK round-trip, uid, variables, panels, queries."""

from __future__ import annotations

import json

from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.dashboard import Dashboard

from relayops.dashboards.common import DATASOURCE_VAR
from relayops.dashboards.promql import BUILTINS, VARIABLE, bare_counters, series_names
from relayops.dashboards.promtool import Located, parse_problems
from relayops.dashboards.render import GRAFANA_DIR, PROVISIONING_PATH
from relayops.dashboards.rendered import dashboard_files, panels_of, variables_of
from relayops.rules.recording import recording_groups
from relayops.spec import SpecSet

CURRENT_PANEL_TYPES = frozenset(
    {"timeseries", "stat", "gauge", "bargauge", "table", "state-timeline", "status-history",
     "heatmap", "histogram", "barchart", "piechart", "text", "row"}
)  # fmt: skip
UNITLESS_TYPES = frozenset({"row", "text"})
HISTOGRAM_PARTS = ("_bucket", "_count", "_sum")
ALERT_SERIES = ("ALERTS", "ALERTS_FOR_STATE")


def known_series(specs: SpecSet) -> set[str]:
    """Every series something produces: recorded by a rule, emitted by an adapter or the
    controller (histograms as _bucket/_count/_sum), or written by Prometheus (ALERTS)."""
    names = set(ALERT_SERIES)
    for spec in specs.providers:
        for group in recording_groups(specs, spec):
            names.update(rule.record for rule in group.rules)
    for metric in specs.service.metrics.values():
        if metric.type == "histogram":
            names.update(metric.series(part) for part in HISTOGRAM_PARTS)
        else:
            names.add(metric.name)
    return names


def raw_counters(specs: SpecSet) -> set[str]:
    counters = set()
    for metric in specs.service.metrics.values():
        if metric.type == "counter":
            counters.add(metric.name)
        elif metric.type == "histogram":
            counters.update(metric.series(part) for part in HISTOGRAM_PARTS)
    return counters


def _round_trip(path: str, data: dict) -> list[str]:
    try:
        again = json.loads(json.dumps(Dashboard.from_json(data), cls=JSONEncoder))
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        return [f"{path}: the SDK cannot read it back: {exc!r}"]
    if again != data:
        return [f"{path}: does not survive Dashboard.from_json -> to_json unchanged"]
    return []


def _dashboard_problems(path: str, data: dict) -> list[str]:
    problems = []
    if not data.get("uid"):
        problems.append(f"{path}: no uid (alerts' dashboard_url links need a stable one)")
    variables = variables_of(data)
    source = variables.get(DATASOURCE_VAR)
    if source is None or source.get("type") != "datasource" or source.get("query") != "prometheus":
        problems.append(f"{path}: no Prometheus datasource variable ${DATASOURCE_VAR}")
    for panel in panels_of(data):
        where = f"{path}: panel {panel.get('title')!r}"
        kind = panel.get("type")
        if kind not in CURRENT_PANEL_TYPES:
            problems.append(
                f"{where}: panel type {kind!r} is legacy or unknown; use timeseries/stat"
            )
        if kind in UNITLESS_TYPES:
            continue
        if not (panel.get("description") or "").strip():
            problems.append(f"{where}: no description")
        if not ((panel.get("fieldConfig") or {}).get("defaults") or {}).get("unit"):
            problems.append(f"{where}: no unit")
        refs = [panel.get("datasource")] + [t.get("datasource") for t in panel.get("targets", [])]
        if any((ref or {}).get("uid") != f"${{{DATASOURCE_VAR}}}" for ref in refs):
            problems.append(f"{where}: datasource is not ${{{DATASOURCE_VAR}}}")
        if not panel.get("targets"):
            problems.append(f"{where}: no query")
    return problems


def _expressions(path: str, data: dict) -> list[Located]:
    found = []
    for panel in panels_of(data):
        for target in panel.get("targets") or []:
            found.append((f"{path}: panel {panel.get('title')!r}", target.get("expr") or ""))
    for note in (data.get("annotations") or {}).get("list") or []:
        if note.get("expr"):
            found.append((f"{path}: annotation {note.get('name')!r}", note["expr"]))
    return found


def _expression_problems(
    path: str, data: dict, exprs: list[Located], specs: SpecSet, known: set[str]
) -> list[str]:
    problems = []
    variables = variables_of(data)
    counters = raw_counters(specs)
    for where, expr in exprs:
        if not expr.strip():
            problems.append(f"{where}: empty query")
        for match in VARIABLE.finditer(expr):
            name = match.group(1) or match.group(2)
            if name not in variables and name not in BUILTINS:
                problems.append(f"{where}: ${name} is not a variable of the dashboard")
        for name in dict.fromkeys(series_names(expr)):
            if name not in known:
                problems.append(
                    f"{where}: series {name} is neither recorded by a rule nor emitted by an "
                    "adapter in the specs"
                )
        for name in dict.fromkeys(bare_counters(expr, counters)):
            problems.append(f"{where}: counter {name} is used as a value; wrap it in rate()")
    return problems


def check_dashboards(
    specs: SpecSet, files: dict[str, str], promtool: str | None = None
) -> list[str]:
    """Problems of the rendered dashboards; empty when every check passes."""
    problems: list[str] = []
    if PROVISIONING_PATH not in files:
        problems.append(f"{PROVISIONING_PATH}: missing (Grafana would not load the folder)")
    boards = dashboard_files(files)
    if not boards:
        problems.append(f"no dashboards under {GRAFANA_DIR}/")
    known = known_series(specs)
    uids: dict[str, str] = {}
    all_exprs: list[Located] = []
    for path, text in boards.items():
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            problems.append(f"{path}: not JSON: {exc}")
            continue
        uid = data.get("uid")
        if uid in uids:
            problems.append(f"{path}: uid {uid!r} is also used by {uids[uid]}")
        uids[uid] = path
        problems += _round_trip(path, data)
        problems += _dashboard_problems(path, data)
        exprs = _expressions(path, data)
        problems += _expression_problems(path, data, exprs, specs, known)
        all_exprs += exprs
    return problems + parse_problems(all_exprs, promtool)
