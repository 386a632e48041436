"""Dashboard uids and the runbook and dashboard URLs that alerts carry."""

from __future__ import annotations

from relayops.spec.service import ServiceSpec

DASHBOARDS = {
    "overview": "Send path overview",
    "slo": "SLOs and error budgets",
    "controller": "Rollout controller",
    "structured_errors": "Structured errors",
}


def dashboard_uid(service: ServiceSpec, kind: str) -> str:
    if kind not in DASHBOARDS:
        raise KeyError(f"unknown dashboard {kind!r}; known: {sorted(DASHBOARDS)}")
    return f"{service.service}-{kind.replace('_', '-')}"


def dashboard_url(service: ServiceSpec, kind: str, **variables: str) -> str:
    slug = DASHBOARDS[kind].lower().replace(" ", "-")
    query = "&".join(f"var-{k}={v}" for k, v in variables.items())
    url = f"{service.dashboard_base_url}/{dashboard_uid(service, kind)}/{slug}"
    return f"{url}?{query}" if query else url


def runbook_path(alertname: str) -> str:
    """Where an alert's runbook is rendered, relative to the output folder."""
    return f"runbooks/{alertname}.md"


def runbook_url(service: ServiceSpec, alertname: str, anchor: str) -> str:
    """Link to the runbook section of one severity (or burn tier) of an alert."""
    return f"{service.runbook_base_url}/{alertname}.md#{anchor}"
