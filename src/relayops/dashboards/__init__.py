"""Grafana dashboards built with grafana-foundation-sdk from the specs, and their offline checks."""

from relayops.dashboards.checks import check_dashboards
from relayops.dashboards.linkcheck import check_dashboard_links
from relayops.dashboards.render import render_dashboards

__all__ = ["check_dashboard_links", "check_dashboards", "render_dashboards"]
