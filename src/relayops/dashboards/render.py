"""Render every dashboard and the provisioning file, as relative path -> text."""

from __future__ import annotations

from collections.abc import Callable

from grafana_foundation_sdk.builders import dashboard as builders

from relayops.dashboards.common import number_panels, to_json
from relayops.dashboards.controller import controller_dashboard
from relayops.dashboards.errors import errors_dashboard
from relayops.dashboards.overview import overview_dashboard
from relayops.dashboards.provisioning import provisioning_file
from relayops.dashboards.slo import slo_dashboard
from relayops.spec import SpecSet

GRAFANA_DIR = "grafana"
PROVISIONING_PATH = f"{GRAFANA_DIR}/provisioning/dashboards.yml"

BUILDERS: tuple[Callable[[SpecSet], builders.Dashboard], ...] = (
    overview_dashboard,
    slo_dashboard,
    controller_dashboard,
    errors_dashboard,
)


def render_dashboards(specs: SpecSet) -> dict[str, str]:
    """`grafana/<uid>.json` per dashboard plus the folder's provisioning file."""
    files: dict[str, str] = {}
    for build in BUILDERS:
        board = number_panels(build(specs))
        files[f"{GRAFANA_DIR}/{board.build().uid}.json"] = to_json(board)
    files[PROVISIONING_PATH] = provisioning_file(specs)
    return files
