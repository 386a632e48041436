"""Render one Markdown runbook per alert name, plus an index grouped by severity."""

from __future__ import annotations

from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from relayops.runbooks.model import by_severity, pages, receiver_text
from relayops.spec import SpecSet
from relayops.spec.durations import format_duration
from relayops.spec.links import runbook_path
from relayops.spec.series import quantile_key
from relayops.spec.units import percent as pct

TEMPLATES = Path(__file__).parent / "templates"
INDEX = "index"


def environment() -> Environment:
    """Markdown, not HTML: no autoescape; any undefined name is an error, not an empty string."""
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        undefined=StrictUndefined,
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["pct"] = pct
    env.filters["duration"] = lambda seconds: format_duration(round(seconds))
    env.filters["quantile"] = quantile_key
    return env


def render_runbooks(specs: SpecSet, env: Environment | None = None) -> dict[str, str]:
    """Relative path under rendered/ -> Markdown: runbooks/<Alert>.md and runbooks/index.md."""
    env = env or environment()
    all_pages = pages(specs)
    receivers = {sev: receiver_text(specs.service, sev) for sev in specs.service.receivers}
    context = {"service": specs.service, "receivers": receivers}
    files = {
        runbook_path(page.name): env.get_template(page.kind.runbook_template).render(
            page=page, **context
        )
        for page in all_pages
    }
    files[runbook_path(INDEX)] = env.get_template("index.md.j2").render(
        groups=by_severity(all_pages), **context
    )
    return files
