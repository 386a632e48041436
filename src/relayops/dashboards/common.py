"""Shared dashboard pieces: variables, Prometheus targets, panels with unit and description."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import TypeVar

from grafana_foundation_sdk.builders import bargauge, prometheus, stat, timeseries
from grafana_foundation_sdk.builders import common as common_builders
from grafana_foundation_sdk.builders import dashboard as builders
from grafana_foundation_sdk.cog.builder import Builder
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import common as common_models
from grafana_foundation_sdk.models import dashboard as models

from relayops.spec import SpecSet
from relayops.spec.links import DASHBOARDS, dashboard_uid
from relayops.spec.series import ProviderSeries

DATASOURCE_VAR = "datasource"
DATASOURCE = models.DataSourceRef(type_val="prometheus", uid=f"${{{DATASOURCE_VAR}}}")

COLORS = {"ok": "green", "warning": "orange", "critical": "red"}

Levels = Sequence[tuple[str, float]]


def sel(series: str, fixed: dict[str, str] | None = None, **variables: str) -> str:
    """`series{provider=~"$provider", …}`: filtered by dashboard variables and fixed values."""
    matchers = [
        f'{label}=~"${var}"' for label, var in {"provider": "provider", **variables}.items()
    ]
    matchers += [f'{label}="{value}"' for label, value in (fixed or {}).items()]
    return f"{series}{{{', '.join(matchers)}}}"


def datasource_variable() -> builders.DatasourceVariable:
    return (
        builders.DatasourceVariable(DATASOURCE_VAR)
        .label("Data source")
        .type("prometheus")
        .description("Prometheus that evaluates the relayops recording rules.")
    )


def custom_variable(
    name: str, label: str, options: Sequence[tuple[str, str]], *, include_all: bool = False
) -> builders.CustomVariable:
    """A variable offering only the spec's (text, value) options; the first one, or All when
    `include_all` (then several may be picked), is selected."""
    choices = [("All", "$__all"), *options] if include_all else list(options)
    first_text, first_value = choices[0]
    return (
        builders.CustomVariable(name)
        .label(label)
        .values(",".join(f"{text} : {value}" for text, value in options))
        .options(
            [
                models.VariableOption(selected=i == 0, text=text, value=value)
                for i, (text, value) in enumerate(choices)
            ]
        )
        .current(models.VariableOption(selected=True, text=first_text, value=first_value))
        .multi(include_all)
        .include_all(include_all)
        .allow_custom_value(False)
    )


def provider_variable(specs: SpecSet, *, include_all: bool = False) -> builders.CustomVariable:
    options = [(p.display_name, p.provider) for p in specs.providers]
    return custom_variable("provider", "Provider", options, include_all=include_all)


def dashboard(specs: SpecSet, kind: str, description: str) -> builders.Dashboard:
    """A dashboard with the uid the alerts' dashboard_url points at, and the datasource variable."""
    service = specs.service.service
    return (
        builders.Dashboard(f"{service.capitalize()}: {DASHBOARDS[kind]}")
        .uid(dashboard_uid(specs.service, kind))
        .description(description)
        .tags([service, "relayops"])
        .editable()
        .time("now-6h", "now")
        .timezone("utc")
        .refresh("1m")
        .tooltip(models.DashboardCursorSync.CROSSHAIR)
        .link(
            builders.DashboardLink("Relay dashboards")
            .type(models.DashboardLinkType.DASHBOARDS)
            .tags([service, "relayops"])
            .as_dropdown(True)
            .include_vars(True)
            .keep_time(True)
        )
        .with_variable(datasource_variable())
    )


def target(expr: str, legend: str, ref: str = "A", *, instant: bool = False) -> Builder:
    query = prometheus.Dataquery().expr(expr).legend_format(legend).ref_id(ref)
    query = query.datasource(DATASOURCE)
    return query.instant() if instant else query.range()


def targets(queries: Iterable[tuple[str, str]], *, instant: bool = False) -> list[Builder]:
    return [
        target(expr, legend, chr(ord("A") + i), instant=instant)
        for i, (expr, legend) in enumerate(queries)
    ]


def threshold_config(levels: Levels, base: str = "ok") -> builders.ThresholdsConfig:
    """Colour steps: `base` below the first level, then each (severity, level) upwards."""
    steps = [models.Threshold(value=None, color=COLORS[base])]
    steps += [models.Threshold(value=value, color=COLORS[sev]) for sev, value in levels]
    return builders.ThresholdsConfig().mode(models.ThresholdsMode.ABSOLUTE).steps(steps)


def per_series_thresholds(panel: Builder, by_name: dict[str, Levels]) -> Builder:
    """Thresholds per provider: series whose display name starts with the key get its levels."""
    for prefix, levels in by_name.items():
        if levels:
            config = threshold_config(levels).build()
            value = models.DynamicConfigValue(id_val="thresholds", value=config)
            panel = panel.override_by_regexp(f"^{prefix}( |$).*", [value])
    return panel


Panel = TypeVar("Panel", timeseries.Panel, stat.Panel, bargauge.Panel)


def _described(
    panel: Panel,
    title: str,
    description: str,
    unit: str,
    queries: list[Builder],
    height: int,
    width: int,
) -> Panel:
    """What every panel carries: title, description, unit, the datasource variable, its size,
    and no default thresholds (levels are added per series where an alert has them)."""
    return (
        panel.title(title)
        .description(description)
        .unit(unit)
        .targets(queries)
        .datasource(DATASOURCE)
        .height(height)
        .span(width)
        .thresholds(threshold_config(()))
    )


def time_series(
    title: str, description: str, unit: str, queries: list[Builder], *, width: int = 12
) -> timeseries.Panel:
    return (
        _described(timeseries.Panel(), title, description, unit, queries, 8, width)
        .fill_opacity(10)
        .thresholds_style(
            common_builders.GraphThresholdsStyleConfig().mode(
                common_models.GraphThresholdsStyleMode.LINE
            )
        )
        .legend(
            common_builders.VizLegendOptions()
            .show_legend(True)
            .display_mode(common_models.LegendDisplayMode.TABLE)
            .placement(common_models.LegendPlacement.BOTTOM)
            .calcs(["lastNotNull", "max"])
        )
    )


def stat_panel(
    title: str, description: str, unit: str, queries: list[Builder], *, width: int = 6
) -> stat.Panel:
    return _described(stat.Panel(), title, description, unit, queries, 6, width).reduce_options(
        common_builders.ReduceDataOptions().calcs(["lastNotNull"])
    )


def bar_gauge(
    title: str, description: str, unit: str, queries: list[Builder], *, width: int = 12
) -> bargauge.Panel:
    return (
        _described(bargauge.Panel(), title, description, unit, queries, 8, width)
        .orientation(common_models.VizOrientation.HORIZONTAL)
        .display_mode(common_models.BarGaugeDisplayMode.GRADIENT)
        .reduce_options(common_builders.ReduceDataOptions().calcs(["lastNotNull"]))
    )


def number_panels(board: builders.Dashboard) -> builders.Dashboard:
    """Give every panel and row a stable id, in layout order (Grafana needs unique ids)."""
    built = board.build()
    next_id = 1
    for panel in built.panels or []:
        panel.id_val = next_id
        next_id += 1
        for child in getattr(panel, "panels", None) or []:
            child.id_val = next_id
            next_id += 1
    return board


def to_json(board: builders.Dashboard) -> str:
    """Deterministic JSON text: sorted keys, two-space indent, trailing newline."""
    data = json.loads(json.dumps(board.build(), cls=JSONEncoder))
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def top_codes_panel(names: ProviderSeries) -> bargauge.Panel:
    """The recorded top structured error codes; shown on the overview and errors dashboards."""
    return bar_gauge(
        "Top error codes",
        "The most frequent structured error codes and their source, per second over "
        f"{names.window}.",
        "cps",
        targets([(sel(names.structured_error_top), "{{code}} ({{source}})")], instant=True),
    )
