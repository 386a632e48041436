"""Check that every alert's dashboard_url opens a rendered dashboard with valid variables."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

from relayops.dashboards.rendered import rendered_uids, variables_of
from relayops.spec import SpecSet


def _option_values(variable: dict) -> set[str] | None:
    """Values a custom variable offers; None when it takes any value (e.g. a query variable)."""
    if variable.get("type") != "custom":
        return None
    return {str(option.get("value")) for option in variable.get("options") or []}


def check_dashboard_links(
    specs: SpecSet, files: dict[str, str], alert_urls: list[str]
) -> list[str]:
    """Every dashboard_url must open a rendered dashboard, with variables it has and values
    those variables offer."""
    boards = rendered_uids(files)
    base = specs.service.dashboard_base_url.rstrip("/") + "/"
    problems = []
    for url in sorted(set(alert_urls)):
        if not url.startswith(base):
            problems.append(f"{url}: does not start with dashboard_base_url {base}")
            continue
        uid = urlsplit(url).path.removeprefix(urlsplit(base).path).split("/")[0]
        board = boards.get(uid)
        if board is None:
            problems.append(f"{url}: no rendered dashboard has uid {uid!r} (have {sorted(boards)})")
            continue
        variables = variables_of(board)
        for key, value in parse_qsl(urlsplit(url).query):
            name = key.removeprefix("var-")
            if not key.startswith("var-") or name not in variables:
                problems.append(f"{url}: dashboard {uid} has no variable {name!r}")
                continue
            allowed = _option_values(variables[name])
            if allowed is not None and value not in allowed:
                problems.append(
                    f"{url}: {value!r} is not an option of ${name} in {uid} ({sorted(allowed)})"
                )
    return problems
