"""Alertmanager routing and inhibition, generated from the same alert set as the rules."""

from relayops.alertmanager.config import expected_routes, render_alertmanager
from relayops.alertmanager.docs import alertmanager_readme_section

__all__ = ["alertmanager_readme_section", "expected_routes", "render_alertmanager"]
